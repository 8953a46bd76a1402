--[[ unlock: release a task's lock (no worker check, as Camunda).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  wake channel ('' = none)
ARGV[4]  lock token the caller holds ('' = no check, as Camunda's REST API does)

Returns  {0}         unlocked
         {-1}        E_NOT_FOUND
         {-4, token} E_STALE_TOKEN: the task was locked again since the caller's lock (the
                     current token is returned; nothing changes, the new holder keeps its lock)
Effects  clears worker id and lock expiry; a locked or retry-waiting task becomes fetchable
         (one with 0 retries stays an incident); PUBLISH <topic> when it became fetchable.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local id, token = ARGV[2], ARGV[4]
local key = k_task(P, id)
local f = redis.call('HMGET', key, 's', 't', 'p', 'ct', 'tok')
if not f[1] then return {E_NOT_FOUND} end
f[3] = f[3] or '0'  -- priority 0 is not stored
-- a draining worker must not release a lock another worker has taken since its own
if token ~= '' and token ~= (f[5] or '0') then return {E_STALE_TOKEN, f[5] or '0'} end
redis.call('HDEL', key, 'w', 'le')
if f[1] == 'l' or f[1] == 'r' then
  move(P, id, f[1], 'a', f[2], f[3], f[4], nil)
  wake(P, ARGV[3], f[2])
end
return {OK}
