--[[ lock: lock one task by id for a worker, without fetching (POST /external-task/{id}/lock).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  worker id
ARGV[4]  lock duration ms (> 0)

Returns  {0, token}       the new lock token
         {-1}             E_NOT_FOUND
         {-2, worker}     E_WORKER_MISMATCH: another worker holds a lock that has not expired
         {-6, message}    E_INVALID: lock duration not > 0
Effects  as Camunda: same worker, unlocked and expired tasks may be locked; no retries check
         (a task with 0 retries gets the lock but stays out of the fetchable indexes).
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local id, worker, dur = ARGV[2], ARGV[3], ARGV[4]
if not is_int(dur) or tonumber(dur) <= 0 then return {E_INVALID, 'lockDuration is not greater than 0'} end
local key = k_task(P, id)
local f = redis.call('HMGET', key, 's', 't', 'p', 'ct', 'w', 'le')
if not f[1] then return {E_NOT_FOUND} end
f[3] = f[3] or '0'  -- priority 0 is not stored
if f[5] and f[5] ~= worker and f[6] and now <= tonumber(f[6]) then
  return {E_WORKER_MISMATCH, f[5]}
end
local le = now + tonumber(dur)
local token = redis.call('HINCRBY', key, 'tok', 1)
redis.call('HSET', key, 'w', worker, 'le', le)
if f[1] ~= 'i' then move(P, id, f[1], 'l', f[2], f[3], f[4], le) end
return {OK, token}
