--[[ extend_lock: a worker extends its lock to now + new duration.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  worker id
ARGV[4]  lock token ('' = worker id check only)
ARGV[5]  new duration ms (> 0)

Returns  {0}              extended
         {-1} | {-2, worker} | {-4, token} as complete (an unlocked task has worker null)
         {-3, lock_ms}    E_LOCK_EXPIRED: the lock expired before now
         {-6, message}    E_INVALID: duration not > 0 (checked first, as Camunda does)
Effects  moves the lease score (locked or retry index). A lock extended at the very instant it
         expires may already have been swept back to fetchable: it is locked again.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local id, dur = ARGV[2], ARGV[5]
if not is_int(dur) or tonumber(dur) <= 0 then return {E_INVALID, 'lockTime is not greater than 0'} end
local f, err = owned_task(P, id, ARGV[3], ARGV[4])
if err then return err end
if not f[6] or tonumber(f[6]) < now then return {E_LOCK_EXPIRED, f[6] or ''} end
local le = now + tonumber(dur)
redis.call('HSET', k_task(P, id), 'le', le)
if f[1] == 'l' or f[1] == 'r' then
  move(P, id, f[1], f[1], f[2], f[3], f[4], le)
elseif f[1] == 'a' then
  move(P, id, 'a', 'l', f[2], f[3], f[4], le)
end
return {OK}
