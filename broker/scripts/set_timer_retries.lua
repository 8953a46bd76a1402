--[[ set_timer_retries: set the retries of a timer job whose step failed (Camunda's
PUT /job/{id}/retries). Retries > 0 resolve its failedJob incident and make it due at once;
0 parks it with an incident (message of the last failure kept).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  timer id (the job id)
ARGV[3]  retries (>= 0)
ARGV[4]  incident id to use if retries are 0 and none is open

Returns  {0}              updated
         {-1, id}         E_NOT_FOUND: no failed timer job with that id in this partition
Effects  tmj, tms, tmi, inc:<iid>, incs; a resolved incident is kept in the instance's
         history (hi:<instance>)
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local tid = ARGV[2]
local retries = tonumber(ARGV[3])
local record = redis.call('HGET', k_timer_jobs(P), tid)
if not record then return {E_NOT_FOUND, tid} end
local id = string.sub(record, string.find(record, '|', 1, true) + 1)
local member = id .. '|' .. tid
redis.call('HSET', k_timer_jobs(P), tid, retries .. '|' .. id)
local iid = redis.call('HGET', k_timer_incidents(P), tid)
if retries > 0 then
  if iid then
    incident_archive(P, iid, now, 'resolved')
    redis.call('DEL', k_incident(P, iid))
    redis.call('ZREM', k_incidents(P), iid)
    redis.call('HDEL', k_timer_incidents(P), tid)
  end
  redis.call('ZADD', k_timers(P), now, member)
  return {0}
end
if not iid then
  iid = ARGV[4]
  redis.call('ZREM', k_timers(P), member)
  redis.call('HSET', k_incident(P, iid), 'id', iid, 'ts', now, 'type', 'failedJob', 'task', tid,
    't', '', 'pi', id)
  redis.call('ZADD', k_incidents(P), now, iid)
  redis.call('HSET', k_timer_incidents(P), tid, iid)
end
return {0}
