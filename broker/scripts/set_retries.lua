--[[ set_retries: set the retries of one or more tasks of a partition; manage incidents.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  retries (>= 0)
ARGV[3]  wake channel ('' = none)
ARGV[4..] pairs: task id, incident id to use if this task's retries drop to 0

Returns  {0, n}           n tasks updated
         {-1, id}         E_NOT_FOUND: that id does not exist (nothing written)
         {-6, message}    E_INVALID: negative retries (nothing written)
Effects  retries left -> 0: incident opened, task leaves the fetchable indexes.
         0 -> retries left: incident resolved; the task is fetchable once its lock expiry
         (from the last failure's retryTimeout) has passed. The lock itself is untouched.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local retries = ARGV[2]
if not is_int(retries) or tonumber(retries) < 0 then
  return {E_INVALID, 'retries is not greater than or equal to 0'}
end
for n = 4, #ARGV, 2 do
  if redis.call('EXISTS', k_task(P, ARGV[n])) == 0 then return {E_NOT_FOUND, ARGV[n]} end
end
local r = tonumber(retries)
for n = 4, #ARGV, 2 do
  local id = ARGV[n]
  local key = k_task(P, id)
  local f = redis.call('HMGET', key, 's', 't', 'p', 'ct', 'le', 'r', 'iid')
  f[3] = f[3] or '0'  -- priority 0 is not stored
  local was_left = retries_left(f[6])
  redis.call('HSET', key, 'r', retries)
  if r == 0 then
    if was_left then incident_open(P, id, key, ARGV[n + 1], now) end
    if f[1] ~= 'i' then move(P, id, f[1], 'i', f[2], f[3], f[4], nil) end
  elseif f[1] == 'i' then
    incident_close(P, key, f[7], ARGV[1], 'resolved')
    local le = tonumber(f[5] or '0')
    if le > now then
      move(P, id, 'i', 'r', f[2], f[3], f[4], le)
    else
      move(P, id, 'i', 'a', f[2], f[3], f[4], nil)
      wake(P, ARGV[3], f[2])
    end
  end
end
return {OK, (#ARGV - 3) / 2}
