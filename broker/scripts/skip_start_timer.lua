--[[ skip_start_timer: consume a start timer's due time without starting an instance (the
instance's first step failed; the failure is logged and the schedule moves on).

KEYS[1]  partition prefix (the partition of the member)
ARGV[1]  claim JSON: {"m": member, "due": ms, "n": index, "next": ms | null, "nn": index}

Returns  {0} claimed | {-9} E_CONFLICT: another scheduler claimed it, or it was disarmed
Effects  as the claim in advance.lua: the member moves to its next due time or ends.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

if not start_timer_claim(KEYS[1], cjson.decode(ARGV[1])) then return {E_CONFLICT} end
return {OK}
