--[[ trim_history: forget ended process instances whose history retention has passed (the
scheduler's pass; advance.lua also forgets a few each time an instance ends, so the index
stays bounded while no scheduler runs).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  retention in ms (settings.history_ttl_s * 1000): an instance that ended at or before
         now_ms - retention is forgotten
ARGV[3]  budget: most instances forgotten by this call

Returns  {0, forgotten, more}  more = 1 if the budget ran out (more may be due)
Effects  ids leave the ended-instance index pih; their hashes pi:<id> are deleted. Idempotent:
         several schedulers at once forget each instance once.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local budget = tonumber(ARGV[3])
local cutoff = tonumber(ARGV[1]) - tonumber(ARGV[2])
local forgotten = history_trim(P, cutoff, budget)
local more = 0
if forgotten >= budget then more = 1 end
return {OK, forgotten, more}
