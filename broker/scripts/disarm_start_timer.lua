--[[ disarm_start_timer: forget a timer start event's schedule (its definition is no longer the
latest version of its process, or is gone). Idempotent.

KEYS[1]  partition prefix (the partition of the member)
ARGV[1]  member: "<process definition id>|<start event id>"

Returns  {0}
Effects  the member leaves sts and stn: a due time claimed after this finds nothing.
]]
--!include _status.lua
--!include _keys.lua

local P = KEYS[1]
redis.call('ZREM', k_start_timers(P), ARGV[1])
redis.call('HDEL', k_start_timer_index(P), ARGV[1])
return {OK}
