--[[ handle_failure: a worker reports a failure; retry later or raise an incident.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  worker id
ARGV[4]  lock token ('' = worker id check only)
ARGV[5]  error message ('' = none; the caller truncates it to 666 characters)
ARGV[6]  "1" if error details are given, else "0" (null keeps the previous details)
ARGV[7]  error details
ARGV[8]  retries (>= 0)
ARGV[9]  retry timeout ms (>= 0)
ARGV[10] wake channel ('' = none)
ARGV[11] new incident id (used only if retries drop to 0); also the id of the failure's entry
         in the external-task log of a process task's instance
ARGV[12] "1" to refuse a task whose activity has camunda:errorEventDefinition expressions
         (field "eed", see advance), or a process task (field "pi") when variable pairs are
         given: the engine evaluates the expressions / sets the variables first; "0" after
ARGV[13] process instance id: commit the failure's variables with the bookkeeping ('' = none)
ARGV[14] the instance version the engine read (compare-and-set, as advance)
ARGV[15] the instance's new state JSON: the failure's variables set (stored verbatim)
ARGV[16..] pairs: variable name, typed value JSON (set on a standalone task, field "v.<name>")

Returns  {0, state}       state: "a" fetchable now, "r" waiting out the timeout, "i" incident
         {-1} | {-2, worker} | {-4, token} as complete
         {-6, message}    E_INVALID: negative retries or retry timeout (nothing written)
         {-8}             E_PROCESS: refused, see ARGV[12] (nothing written)
         {-9, version}    E_CONFLICT: the instance is at another version (nothing written)
Effects  lock expiry = now + retryTimeout, the worker id stays (Camunda); retries left -> 0
         opens an incident; 0 -> retries left resolves it. A process task's failure is logged
         (hx:<instance>, with its error details). PUBLISH <topic> when fetchable now.
         With ARGV[13]: the instance's st and ver, in the same script as the bookkeeping, so a
         failure's variables and its retry or incident are written together or not at all.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local id = ARGV[2]
local retries, timeout = ARGV[8], ARGV[9]
if not is_int(retries) or tonumber(retries) < 0 then
  return {E_INVALID, 'retries is not greater than or equal to 0'}
end
if not is_int(timeout) or tonumber(timeout) < 0 then
  return {E_INVALID, 'retryDuration is not greater than or equal to 0'}
end
local f, err = owned_task(P, id, ARGV[3], ARGV[4])
if err then return err end
local key = k_task(P, id)
if ARGV[12] == '1' then
  local marks = redis.call('HMGET', key, 'eed', 'pi')
  if marks[1] == '1' or (marks[2] and #ARGV > 15) then return {E_PROCESS} end
end
local ikey, version = nil, nil
if ARGV[13] ~= '' then
  ikey = k_instance(P, ARGV[13])
  local current = redis.call('HGET', ikey, 'ver')
  if current ~= ARGV[14] then return {E_CONFLICT, current or '0'} end
  version = tostring(tonumber(current) + 1)
end
local state, topic, prio, ct = f[1], f[2], f[3], f[4]
local due = now + tonumber(timeout)

if ARGV[5] ~= '' then redis.call('HSET', key, 'em', ARGV[5]) else redis.call('HDEL', key, 'em') end
if ARGV[6] == '1' then redis.call('HSET', key, 'ed', ARGV[7]) end
redis.call('HSET', key, 'le', due, 'r', retries)
for n = 16, #ARGV, 2 do redis.call('HSET', key, 'v.' .. ARGV[n], ARGV[n + 1]) end
if ikey then redis.call('HSET', ikey, 'st', ARGV[15], 'ver', version) end

local was_left = retries_left(f[8])
local new_state
if tonumber(retries) == 0 then
  new_state = 'i'
  if was_left then incident_open(P, id, key, ARGV[11], now) end
else
  if not was_left then incident_close(P, key, f[9], now, 'resolved') end
  if due > now then new_state = 'r' else new_state = 'a' end
end
move(P, id, state, new_state, topic, prio, ct, due)
task_log(P, id, ARGV[11], now, 'f')
if new_state == 'a' then wake(P, ARGV[10], topic) end
return {OK, new_state}
