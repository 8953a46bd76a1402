--[[ complete: finish locked tasks with variables (one or many tasks of one partition).

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  MAXLEN of the finished-task stream (0 = do not log)
ARGV[3]  n, the number of tasks; then five values per task, ARGV[4 + 5k .. 8 + 5k]: task id,
         worker id, lock token the caller holds ('' = check the worker id only, as Camunda's
         REST API does), variables slot, local variables slot;
         a slot is the ARGV index of a variables JSON text ('0' = none), logged with the outcome
ARGV[4 + 5n ..] the variables JSON texts (stored verbatim, never re-encoded)
         (plain arguments, not one JSON text: decoding it cost more than the rest of a small
         task's completion)

Returns  {status1, info1, status2, info2, ...}, one pair per task, in order:
         0, ''            done
         -1, ''           E_NOT_FOUND
         -2, worker       E_WORKER_MISMATCH: locked by another worker (nil: by nobody)
         -4, token        E_STALE_TOKEN: another lock was taken since the caller's
         -8, ''           E_PROCESS: a task of a process instance (untouched; see advance)
Effects  Each task is checked on its own: one refused task does not stop the others. Lock
         expiry is not checked (Camunda's late-complete rule): the last holder may complete
         until someone else locks the task. Deletes the tasks and their open incidents;
         XADD done per task; counts the completions per topic in cpm:<minute>. Locked tasks leave their index in one ZREM per topic. A topic left
         without tasks leaves the `topics` set.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local maxlen = ARGV[2]
local out = {}
local doomed, locked_of, seen, emptied = {}, {}, {}, {}
local completed_of = {}
local log = tonumber(maxlen) > 0
for at = 4, 3 + 5 * tonumber(ARGV[3]), 5 do
  local id = ARGV[at]
  local f, err
  if seen[id] then
    err = {E_NOT_FOUND}  -- completed earlier in this batch
  else
    f, err = owned_task(P, id, ARGV[at + 1], ARGV[at + 2])
    if not err and f[10] then err = {E_PROCESS} end
  end
  seen[id] = true
  if err then
    out[#out + 1] = err[1]
    local info = err[2]
    if info == nil then info = '' end
    out[#out + 1] = info
  else
    local key = k_task(P, id)
    if f[1] == 'l' then
      locked_of[f[2]] = locked_of[f[2]] or {}
      table.insert(locked_of[f[2]], id)
    else
      unindex(P, id, f[1], f[2], f[3])
    end
    incident_close(P, key, f[9], ARGV[1], 'resolved')
    doomed[#doomed + 1] = key
    emptied[f[2]] = true
    completed_of[f[2]] = (completed_of[f[2]] or 0) + 1
    if log then
      local v, lv = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
      local entry = {'XADD', k_done(P), 'MAXLEN', '~', maxlen, '*', 'id', id, 't', f[2],
                     'outcome', 'complete'}
      if v > 0 then entry[#entry + 1] = 'v'; entry[#entry + 1] = ARGV[v] end
      if lv > 0 then entry[#entry + 1] = 'lv'; entry[#entry + 1] = ARGV[lv] end
      redis.call(unpack(entry))
    end
    out[#out + 1] = OK
    out[#out + 1] = ''
  end
end
for topic, ids in pairs(locked_of) do bulk('ZREM', k_locked(P, topic), ids, 1) end
for i = 1, #doomed, 1000 do redis.call('DEL', unpack(doomed, i, math.min(i + 999, #doomed))) end
for topic, _ in pairs(emptied) do topic_forget(P, topic) end
for topic, n in pairs(completed_of) do completions_count(P, ARGV[1], topic, n) end
return out
