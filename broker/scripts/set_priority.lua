--[[ set_priority: change a task's priority.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  priority (decimal integer string)

Returns  {0} | {-1} E_NOT_FOUND | {-6, message} E_INVALID
Effects  a fetchable task moves to its new priority level.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local id, prio = ARGV[2], ARGV[3]
if not is_int(prio) then return {E_INVALID, 'priority must be an integer'} end
local key = k_task(P, id)
local f = redis.call('HMGET', key, 's', 't', 'p', 'ct')
if not f[1] then return {E_NOT_FOUND} end
f[3] = f[3] or '0'  -- priority 0 is not stored
if f[1] == 'a' then
  avail_rem(P, id, f[2], f[3])
  avail_add(P, id, f[2], prio, f[4])
end
if tonumber(prio) == 0 then redis.call('HDEL', key, 'p') else redis.call('HSET', key, 'p', prio) end
return {OK}
