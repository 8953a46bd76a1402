--[[ advance: commit one step of process instances (start, complete, BPMN error) atomically.

The step is computed in Python from the instances' states read at version `expected`; this
script writes it only if every instance is still at that version (compare-and-set), so concurrent
steps of one instance (parallel branches completing at once) never lose or duplicate a token: the
loser gets E_CONFLICT and recomputes from the new state. A step may change several instances of
one partition (a call activity and the instance it calls): each is one block of arguments, all
checked before anything is written.

KEYS[1]  partition prefix (the instances' partition; their tasks live there too)
ARGV[1]  now_ms
ARGV[2]  wake channel ('' = none)
ARGV[3]  seconds an ended instance is kept (history), 0 = delete it at once
ARGV[4]  MAXLEN of the finished-task log (0 = do not log)
ARGV[5]  trigger JSON (a task of the first block's instance): {} or {"task": id, "worker": w,
         "token": t ('' = worker check only), "outcome": "complete" | "bpmn_error",
         "log": [field, value, ...]}
ARGV[6]  number of instance blocks n (1..MAX_BLOCKS); block i (from 0) is ARGV[7+12i ..18+12i]:
 +0  instance id
 +1  expected version ("0" = create: the instance must not exist yet)
 +2  new state JSON (stored verbatim)
 +3  status: "active" | "completed" | "terminated" | "internally_terminated"
 +4  instance meta JSON, used on create: {"pd", "pk", "pvt", "bk", "tn", "sa" (the start
     event, when not the initial one), "sup" (the calling instance), "rpi" (the root of its
     call tree)} (null = absent)
 +5  tasks to create JSON: [{"id", "topic", "priority" (decimal string), "act", "ai",
     "ex", "xp" (JSON text or ""), "eed" ("1": the activity has camunda:errorEventDefinition
     expressions, so handle_failure leaves the task to the engine; "" = none)}]
 +6  ids of tasks to delete JSON (cancelled: their incidents are deleted)
 +7  timers JSON: {"add": [ [timer id, due ms], ... ], "remove": [timer id, ...]}
 +8  message names JSON: {"open": [names the instance now waits for], "close": [names it
     no longer waits for]} (the per-name instance sets used by message correlation)
 +9  history JSON: {"a": [field, value, ...] of the activity-instance hash
     ha:<id>, "x": [log id, entry JSON, ...] for the external-task log hx:<id> (tasks
     created), "s": log id of the trigger task's success entry, "d": {deleted task id: log id}
     (deletion entries, written from the task record), "ea": the end event that completed
     the instance}
 +10 signal throws JSON: a list of {throw id, entry JSON} pairs, the signals the
     instance's throw and end events broadcast, kept in sig until delivered
 +11 start timer claim JSON ('' = none), on create: {"m", "due", "n", "next", "nn"} (see
     start_timer_claim in _lib.lua): the instance is created only if this scheduler claims
     that due time of the timer start event, so it starts once per due time

Returns  {0, version}        committed; the first instance's new version
         {-9, version}       E_CONFLICT: an instance is at another version (nothing written)
         {-7}                E_DUPLICATE: create, but the instance exists
         {-9, '0'}           E_CONFLICT on create: the start timer's due time was claimed
         {-1} | {-2, worker} | {-4, token}   the trigger task is gone / locked by another
                             worker / locked again since (nothing written)
         {-6}                E_INVALID: no block, or more than MAX_BLOCKS
Effects  per instance: hash pi:<id> (st, ver, status, meta); pis index; new tasks indexed and
         woken; cancelled tasks removed (a topic left without tasks leaves `topics`); the
         trigger task finished (and logged; a completion counted in cpm:<minute>); timers in
         tms (a removed timer's failure record and failedJob incident in tmj/tmi/inc go with it);
         closed incidents kept in hi:<id>;
         msg:<name> sets of waiting instances. An ending instance moves to the ended index pih
         (score = end ms) with an EXPIRE of ARGV[3] (its ha:, hx: and hi: hashes too), and up to
         10 instances that ended at or
         before now_ms - ARGV[3] s are forgotten (out of pih, hash deleted). Signal throws
         in sig.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = ARGV[1]
local channel = ARGV[2]
local ttl = tonumber(ARGV[3])
local log_length = ARGV[4]
local TRIM_ON_END = 10
local MAX_BLOCKS = 1000
local BLOCK = 12

local n = tonumber(ARGV[6])
if not n or n < 1 or n > MAX_BLOCKS or #ARGV ~= 6 + n * BLOCK then return {E_INVALID} end

-- every check before the first write: scripts do not roll back
local versions = {}
for i = 0, n - 1 do
  local b = 6 + i * BLOCK
  local current = redis.call('HGET', k_instance(P, ARGV[b + 1]), 'ver')
  local expected = ARGV[b + 2]
  if expected == '0' then
    if current then return {E_DUPLICATE} end
  elseif current ~= expected then
    return {E_CONFLICT, current or '0'}
  end
  versions[i] = current
end
local trigger = cjson.decode(ARGV[5])
local owned = nil
if trigger.task then
  local f, err = owned_task(P, trigger.task, trigger.worker, trigger.token)
  if err then return err end
  owned = f
end
-- a claimed start timer due time (written at once: the last check: a start has no trigger)
for i = 0, n - 1 do
  local b = 6 + i * BLOCK
  if ARGV[b + 12] ~= '' and ARGV[b + 2] == '0'
      and not start_timer_claim(P, cjson.decode(ARGV[b + 12])) then
    return {E_CONFLICT, '0'}
  end
end

local function commit(b, current, first)
  local id = ARGV[b + 1]
  local expected = ARGV[b + 2]
  local ikey = k_instance(P, id)
  local status = ARGV[b + 4]
  local hist = cjson.decode(ARGV[b + 10])
  if first and owned then
    local extra = trigger.log or {}
    if hist.s then task_log(P, trigger.task, hist.s, now, 's') end
    finish(P, trigger.task, k_task(P, trigger.task), owned[1], owned[2], owned[3], owned[9],
           trigger.outcome, extra, log_length, now)
    if trigger.outcome == 'complete' then completions_count(P, now, owned[2], 1) end
  end
  local deleted_logs = hist.d or {}
  for _, tid in ipairs(cjson.decode(ARGV[b + 7])) do
    local key = k_task(P, tid)
    local f = redis.call('HMGET', key, 's', 't', 'p', 'iid')
    if f[1] then
      if deleted_logs[tid] then task_log(P, tid, deleted_logs[tid], now, 'd') end
      unindex(P, tid, f[1], f[2], f[3] or '0')
      incident_close(P, key, f[4], now, 'deleted')
      redis.call('DEL', key)
      topic_forget(P, f[2])
    end
  end

  local version = tostring((tonumber(current) or 0) + 1)
  redis.call('HSET', ikey, 'st', ARGV[b + 3], 'ver', version, 'status', status)
  if expected == '0' then
    local m = cjson.decode(ARGV[b + 5])
    redis.call('HSET', ikey, 'start', now)
    for _, field in ipairs({'pd', 'pk', 'pvt', 'bk', 'tn', 'sa', 'sup', 'rpi'}) do
      if m[field] ~= nil and m[field] ~= cjson.null then redis.call('HSET', ikey, field, m[field]) end
    end
    redis.call('ZADD', k_instances(P), now, id)
  end
  local meta = redis.call('HMGET', ikey, 'pd', 'pk', 'pvt', 'bk', 'tn')
  local names = {'pd', 'pk', 'pvt', 'bk', 'tn'}

  local woken = {}
  for _, t in ipairs(cjson.decode(ARGV[b + 6])) do
    local record = {'t', t.topic, 'ct', now, 's', 'a', 'pi', id, 'act', t.act, 'ai', t.ai,
                    'ex', t.ex}
    if t.priority ~= '0' then table.insert(record, 'p'); table.insert(record, t.priority) end
    if t.xp ~= '' then table.insert(record, 'xp'); table.insert(record, t.xp) end
    if t.eed == '1' then table.insert(record, 'eed'); table.insert(record, '1') end
    for k, field in ipairs(names) do
      if meta[k] then table.insert(record, field); table.insert(record, meta[k]) end
    end
    bulk('HSET', k_task(P, t.id), record, 2)
    avail_add(P, t.id, t.topic, t.priority, now)
    redis.call('SADD', k_topics(P), t.topic)
    woken[t.topic] = true
  end
  for topic, _ in pairs(woken) do wake(P, channel, topic) end

  local timers = cjson.decode(ARGV[b + 8])
  for _, t in ipairs(timers.add or {}) do
    redis.call('ZADD', k_timers(P), t[2], id .. '|' .. t[1])
  end
  for _, tid in ipairs(timers.remove or {}) do
    redis.call('ZREM', k_timers(P), id .. '|' .. tid)
    -- a timer that fired or was cancelled leaves its failure record and incident behind
    if redis.call('HDEL', k_timer_jobs(P), tid) == 1 then
      local iid = redis.call('HGET', k_timer_incidents(P), tid)
      if iid then
        incident_archive(P, iid, now, 'deleted')
        redis.call('DEL', k_incident(P, iid))
        redis.call('ZREM', k_incidents(P), iid)
        redis.call('HDEL', k_timer_incidents(P), tid)
      end
    end
  end
  if hist.a and #hist.a > 0 then bulk('HSET', k_activities(P, id), hist.a, 2) end
  if hist.x and #hist.x > 0 then bulk('HSET', k_task_log(P, id), hist.x, 2) end
  local messages = cjson.decode(ARGV[b + 9])
  for _, name in ipairs(messages.open or {}) do redis.call('SADD', k_message(P, name), id) end
  for _, name in ipairs(messages.close or {}) do redis.call('SREM', k_message(P, name), id) end
  for _, throw in ipairs(cjson.decode(ARGV[b + 11])) do
    redis.call('HSET', k_signal_throws(P), throw[1], throw[2])
  end

  if status ~= 'active' then
    redis.call('HSET', ikey, 'end', now)
    if hist.ea then redis.call('HSET', ikey, 'ea', hist.ea) end
    redis.call('ZREM', k_instances(P), id)
    -- each end forgets up to TRIM_ON_END instances past their retention, so the index stays
    -- bounded even while no scheduler runs (trim_history.lua is the scheduler's pass)
    history_trim(P, tonumber(now) - ttl * 1000, TRIM_ON_END)
    if ttl > 0 then
      redis.call('ZADD', k_history(P), now, id)
      redis.call('EXPIRE', ikey, ttl)
      redis.call('EXPIRE', k_activities(P, id), ttl)
      redis.call('EXPIRE', k_task_log(P, id), ttl)
      redis.call('EXPIRE', k_incident_history(P, id), ttl)
    else
      redis.call('DEL', ikey, k_activities(P, id), k_task_log(P, id), k_incident_history(P, id))
    end
  end
  return version
end

local first_version = nil
for i = 0, n - 1 do
  local version = commit(6 + i * BLOCK, versions[i], i == 0)
  if i == 0 then first_version = version end
end
return {OK, first_version}
