--[[ fail_timer: record that the step a due timer starts failed (an expression, a mapping over
the variables limit, a flow no condition selects, ...), as Camunda's job executor does for a
failing timer job: the timer is retried after a delay while retries are left, then it is parked
with a failedJob incident until an operator sets the job's retries again.

KEYS[1]  partition prefix (the instance's partition)
ARGV[1]  now_ms
ARGV[2]  instance id
ARGV[3]  timer id (the job id)
ARGV[4]  ms the next attempt is delayed by
ARGV[5]  retries of a timer that never failed before (Camunda: 3)
ARGV[6]  incident id to use if no retries are left
ARGV[7]  incident fields JSON: {"msg", "act", "ex", "pd", "pk", "tn"} (absent = none)

Returns  {0}              the timer is no longer due (fired or cancelled meanwhile): nothing written
         {1, left}        retried at now + delay; `left` retries remain
         {2, iid}         no retries left: parked (out of tms) with incident iid
Effects  tmj[timer] = "left|instance"; tms score; on 0 left: inc:<iid> (type failedJob,
         configuration = the timer id), incs, tmi[timer] = iid.
]]
--!include _status.lua
--!include _keys.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local id, tid = ARGV[2], ARGV[3]
local member = id .. '|' .. tid
if not redis.call('ZSCORE', k_timers(P), member) then return {0} end
local left = tonumber(ARGV[5])
local record = redis.call('HGET', k_timer_jobs(P), tid)
if record then left = tonumber(string.sub(record, 1, string.find(record, '|', 1, true) - 1)) end
left = math.max(left - 1, 0)
redis.call('HSET', k_timer_jobs(P), tid, left .. '|' .. id)
if left > 0 then
  redis.call('ZADD', k_timers(P), now + tonumber(ARGV[4]), member)
  return {1, left}
end
redis.call('ZREM', k_timers(P), member)
local iid = ARGV[6]
local ikey = k_incident(P, iid)
redis.call('HSET', ikey, 'id', iid, 'ts', now, 'type', 'failedJob', 'task', tid, 't', '', 'pi', id)
local fields = cjson.decode(ARGV[7])
for _, name in ipairs({'msg', 'act', 'ex', 'pd', 'pk', 'tn'}) do
  if type(fields[name]) == 'string' then redis.call('HSET', ikey, name, fields[name]) end
end
redis.call('ZADD', k_incidents(P), now, iid)
redis.call('HSET', k_timer_incidents(P), tid, iid)
return {2, iid}
