--[[ arm_start_timer: schedule the first due time of a timer start event (idempotent).

KEYS[1]  partition prefix (the partition of the member)
ARGV[1]  member: "<process definition id>|<start event id>"
ARGV[2]  first due ms
ARGV[3]  its occurrence index

Returns  {0, 1} armed now | {0, 0} already armed before (or its cycle already ended: the
         index hash keeps the member until it is disarmed, so nothing restarts a cycle)
Effects  stn[member] = index (HSETNX) and sts member scored by the due time.
]]
--!include _status.lua
--!include _keys.lua

local P = KEYS[1]
if redis.call('HSETNX', k_start_timer_index(P), ARGV[1], ARGV[3]) == 0 then return {OK, 0} end
redis.call('ZADD', k_start_timers(P), ARGV[2], ARGV[1])
return {OK, 1}
