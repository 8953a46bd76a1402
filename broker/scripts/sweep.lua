--[[ sweep: move expired leases and due retries back to fetchable (the scheduler's pass).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  budget: most tasks moved by this call
ARGV[3]  wake channel ('' = none)

Returns  {0, moved, more}  more = 1 if the budget ran out with due work left
Effects  idempotent: running it from several schedulers at once moves each task once.
         Expired locks keep their worker id (Camunda's late-complete rule). PUBLISH <topic>
         for every topic that got tasks back. Sweep hints are recomputed for visited topics.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local moved = 0
local topics = redis.call('ZRANGEBYSCORE', k_sweep(P), '-inf', now, 'LIMIT', 0, budget)
for _, topic in ipairs(topics) do
  if moved >= budget then return {OK, moved, 1} end
  local n = reclaim(P, topic, now, budget - moved)
  moved = moved + n
  sweep_refresh(P, topic)
  if n > 0 then wake(P, ARGV[3], topic) end
end
local more = 0
if moved >= budget or #topics >= budget then more = 1 end
return {OK, moved, more}
