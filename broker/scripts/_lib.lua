-- Shared helpers for the transition scripts: index placement, incidents, ownership checks.
-- (Status codes live in _status.lua.)
--
-- Priority 0, the default, is not stored (field "p" absent): it saves memory per waiting task.
-- Task states (hash field "s"): a = fetchable, l = locked, r = waiting out retryTimeout,
-- i = retries exhausted (carries an incident; fetchable only after set_retries > 0).
-- Every state change goes through unindex()/index() so a task is in exactly one index.

local function is_int(s)
  return s ~= nil and string.match(s, '^%-?%d+$') ~= nil
end

-- Run `cmd key items...` in chunks: Lua's unpack() fails beyond a few thousand values, and a
-- failure half-way through a script's writes would leave them half done. `step` keeps pairs
-- (ZADD score member) together.
local function bulk(cmd, key, items, step)
  local chunk = 1000 - 1000 % step
  for i = 1, #items, chunk do
    redis.call(cmd, key, unpack(items, i, math.min(i + chunk - 1, #items)))
  end
end

-- a < b for decimal integer strings of any size (priorities are 64-bit, beyond a double).
local function int_less(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then return na end
  if na then a, b = string.sub(b, 2), string.sub(a, 2) end
  a, b = string.gsub(a, '^0+(%d)', '%1'), string.gsub(b, '^0+(%d)', '%1')
  if #a ~= #b then return #a < #b end
  return a < b
end

-- Add a task to a priority level of its topic (score = createTime ms).
local function avail_add(P, id, topic, prio, ct)
  redis.call('ZADD', k_avail(P, topic, prio), ct, id)
  redis.call('ZADD', k_levels(P, topic), -tonumber(prio), prio)
end

local function avail_rem(P, id, topic, prio)
  local key = k_avail(P, topic, prio)
  redis.call('ZREM', key, id)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', k_levels(P, topic), prio)
  end
end

-- Remember that `topic` may have a lease or retry due at `due_ms` (only ever moves earlier).
local function sweep_hint(P, topic, due_ms)
  redis.call('ZADD', k_sweep(P), 'LT', due_ms, topic)
end

local function unindex(P, id, state, topic, prio)
  if state == 'a' then avail_rem(P, id, topic, prio)
  elseif state == 'l' then redis.call('ZREM', k_locked(P, topic), id)
  elseif state == 'r' then redis.call('ZREM', k_retry(P, topic), id)
  elseif state == 'i' then redis.call('SREM', k_xtasks(P, topic), id)
  end
end

-- Put a task into the index of `state`; `due_ms` is the lease/retry expiry for l and r.
local function index(P, id, state, topic, prio, ct, due_ms)
  if state == 'a' then avail_add(P, id, topic, prio, ct)
  elseif state == 'l' then
    redis.call('ZADD', k_locked(P, topic), due_ms, id)
    sweep_hint(P, topic, due_ms)
  elseif state == 'r' then
    redis.call('ZADD', k_retry(P, topic), due_ms, id)
    sweep_hint(P, topic, due_ms)
  elseif state == 'i' then redis.call('SADD', k_xtasks(P, topic), id)
  end
  redis.call('HSET', k_task(P, id), 's', state)
end

local function move(P, id, from, to, topic, prio, ct, due_ms)
  unindex(P, id, from, topic, prio)
  index(P, id, to, topic, prio, ct, due_ms)
end

local function wake(P, channel, topic)
  if channel ~= '' then redis.call('PUBLISH', channel, topic) end
end

-- "Retries left" as Camunda defines it: null or > 0.
local function retries_left(r)
  return r == false or r == nil or r == '' or tonumber(r) > 0
end

-- Open an incident for a task whose retries just dropped to 0 (one per task).
local function incident_open(P, id, task_key, iid, now)
  local f = redis.call('HMGET', task_key, 't', 'em', 'act', 'ex', 'pi', 'pd', 'tn')
  local ikey = k_incident(P, iid)
  redis.call('HSET', ikey, 'id', iid, 'ts', now, 'task', id, 't', f[1])
  local names = {'msg', 'act', 'ex', 'pi', 'pd', 'tn'}
  for n = 2, 7 do
    if f[n] then redis.call('HSET', ikey, names[n - 1], f[n]) end
  end
  redis.call('ZADD', k_incidents(P), now, iid)
  redis.call('HSET', task_key, 'iid', iid)
end

-- Keep a closing incident of a process instance in the instance's history (hi:<pi>) until the
-- instance is forgotten: every field of the incident hash, whatever its type, with the end
-- time and how it ended ("resolved" or "deleted"). Call before the incident hash goes.
local function incident_archive(P, iid, now, how)
  local f = redis.call('HGETALL', k_incident(P, iid))
  local record = {}
  for i = 1, #f, 2 do record[f[i]] = f[i + 1] end
  if not record.pi then return end
  record['end'] = tonumber(now)
  record.how = how
  redis.call('HSET', k_incident_history(P, record.pi), iid, cjson.encode(record))
end

-- Resolve (or, on cancellation, delete: `how`) the open incident of a task; both remove the
-- runtime record and keep it in the instance's history.
local function incident_close(P, task_key, iid, now, how)
  if iid then
    incident_archive(P, iid, now, how)
    redis.call('DEL', k_incident(P, iid))
    redis.call('ZREM', k_incidents(P), iid)
    redis.call('HDEL', task_key, 'iid')
  end
end

-- Move due leases and retries of one topic back to fetchable; at most `limit` tasks.
-- Returns the number moved. Expired locks keep their workerId, as in Camunda, so the last
-- holder may still complete until another worker locks the task. The sweep hint is never
-- later than the topic's earliest due lease or retry, so a hint in the future means no work.
local function reclaim(P, topic, now, limit)
  local hint = redis.call('ZSCORE', k_sweep(P), topic)
  if not hint or tonumber(hint) > now then return 0 end
  local moved = 0
  for _, zkey in ipairs({k_locked(P, topic), k_retry(P, topic)}) do
    if moved >= limit then break end
    local due = redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, limit - moved)
    for _, id in ipairs(due) do
      local f = redis.call('HMGET', k_task(P, id), 'p', 'ct')
      redis.call('ZREM', zkey, id)
      if f[2] then
        avail_add(P, id, topic, f[1] or '0', f[2])
        redis.call('HSET', k_task(P, id), 's', 'a')
      end
      moved = moved + 1
    end
  end
  return moved
end

-- Recompute the sweep hint of a topic from its lease and retry indexes.
local function sweep_refresh(P, topic)
  local best = nil
  for _, zkey in ipairs({k_locked(P, topic), k_retry(P, topic)}) do
    local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    if first[2] and (best == nil or tonumber(first[2]) < best) then best = tonumber(first[2]) end
  end
  if best == nil then
    redis.call('ZREM', k_sweep(P), topic)
  else
    redis.call('ZADD', k_sweep(P), best, topic)
  end
end

-- Forget a topic that holds no task any more (no fetchable level, lease, retry or incident),
-- so the `topics` set does not keep one-shot topics forever. Called after a task is deleted.
local function topic_forget(P, topic)
  local n = redis.call('EXISTS', k_levels(P, topic), k_locked(P, topic), k_retry(P, topic),
                       k_xtasks(P, topic))
  if n == 0 then redis.call('SREM', k_topics(P), topic) end
end

-- Count `n` completions of `topic` in the minute of `now` (ms): one field of a per-minute hash
-- that expires on its own, so the record is bounded (16 keys per partition at most) and costs
-- one HINCRBY per topic and script (plus a PEXPIRE when a field is new).
local COMPLETIONS_TTL_MS = 16 * 60000
local function completions_count(P, now, topic, n)
  local key = k_completions(P, math.floor(tonumber(now) / 60000))
  if redis.call('HINCRBY', key, topic, n) == n then
    redis.call('PEXPIRE', key, COMPLETIONS_TTL_MS)
  end
end

-- Note that `worker` fetched at `now` (ms) in the registry of recent workers: ids longer than
-- WORKER_ID_MAX bytes are not recorded; when an id is new, the entries older than
-- WORKERS_WINDOW_MS leave and at most WORKERS_MAX (the most recent) stay, so the set is bounded
-- whatever ids clients send, and a known worker's fetch costs one ZADD (readers skip entries
-- older than the window).
local WORKER_ID_MAX, WORKERS_WINDOW_MS, WORKERS_MAX = 200, 15 * 60000, 1000
local function workers_note(P, now, worker)
  if #worker > WORKER_ID_MAX then return end
  local key = k_workers(P)
  if redis.call('ZADD', key, now, worker) == 0 then return end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (tonumber(now) - WORKERS_WINDOW_MS))
  local n = redis.call('ZCARD', key)
  if n > WORKERS_MAX then redis.call('ZREMRANGEBYRANK', key, 0, n - WORKERS_MAX - 1) end
end

-- Remove a finished task (complete or BPMN error) and log the outcome to the capped stream.
local function finish(P, id, task_key, f_state, f_topic, f_prio, f_iid, outcome, extra, maxlen,
                      now)
  unindex(P, id, f_state, f_topic, f_prio)
  incident_close(P, task_key, f_iid, now, 'resolved')
  redis.call('DEL', task_key)
  topic_forget(P, f_topic)
  if tonumber(maxlen) > 0 then
    local entry = {'XADD', k_done(P), 'MAXLEN', '~', maxlen, '*', 'id', id, 't', f_topic,
                   'outcome', outcome}
    for _, v in ipairs(extra) do entry[#entry + 1] = v end
    redis.call(unpack(entry))
  end
end

-- Load a task record for a worker operation and check ownership.
-- Returns (fields, nil) or (nil, error reply). Fields: s, t, p, ct, w, le, tok, r, iid, pi.
local function owned_task(P, id, worker, token)
  local key = k_task(P, id)
  local f = redis.call('HMGET', key, 's', 't', 'p', 'ct', 'w', 'le', 'tok', 'r', 'iid', 'pi')
  if not f[1] then return nil, {E_NOT_FOUND} end
  f[3] = f[3] or '0'  -- priority 0 is not stored
  if f[5] ~= worker then return nil, {E_WORKER_MISMATCH, f[5]} end
  if token ~= '' and token ~= (f[7] or '0') then return nil, {E_STALE_TOKEN, f[7] or '0'} end
  return f, nil
end

-- Log an event of a process task (kind: "f" failed, "d" deleted) to its instance's
-- external-task log, from the task record as it is now; a failure keeps its error details.
-- A standalone task (no instance) has no log.
local function task_log(P, id, log_id, now, kind)
  local f = redis.call('HMGET', k_task(P, id), 'pi', 't', 'p', 'w', 'r', 'em', 'act', 'ai', 'ex', 'ed')
  if not f[1] then return end
  local entry = cjson.encode({ts = tonumber(now), task = id,
    t = f[2], p = f[3] or '0', w = f[4] or cjson.null, r = f[5] or cjson.null,
    em = f[6] or cjson.null, act = f[7], ai = f[8], ex = f[9], k = kind})
  local log = k_task_log(P, f[1])
  redis.call('HSET', log, log_id, entry)
  if kind == 'f' and f[10] then redis.call('HSET', log, log_id .. '|d', f[10]) end
end

-- Forget ended instances whose history retention has passed: the first `limit` ids of the
-- ended-instance index that ended at or before `cutoff` (ms) leave the index, and their hashes
-- (with their activity instances, external-task log and closed incidents) are deleted (their
-- EXPIRE runs on the server's clock, which may lag the caller's). An id in the index never runs
-- again, but a hash that says "active" is kept all the same. Returns the number forgotten.
local function history_trim(P, cutoff, limit)
  local ids = redis.call('ZRANGEBYSCORE', k_history(P), '-inf', cutoff, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local key = k_instance(P, id)
    if redis.call('HGET', key, 'status') ~= 'active' then
      redis.call('DEL', key, k_activities(P, id), k_task_log(P, id), k_incident_history(P, id))
    end
  end
  if #ids > 0 then bulk('ZREM', k_history(P), ids, 1) end
  return #ids
end

-- Claim the due time of a start timer (`c` = {m = member, due = ms, n = its occurrence index,
-- next = the next due ms or nil, nn = its index}): nil when the member is no longer at that due
-- time and index (another scheduler claimed it first, or it was disarmed), else true after the
-- schedule moved on to the next occurrence (or ended, keeping the index so nothing re-arms it).
local function start_timer_claim(P, c)
  local sts, stn = k_start_timers(P), k_start_timer_index(P)
  local score = redis.call('ZSCORE', sts, c.m)
  if not score or tonumber(score) ~= tonumber(c.due) then return nil end
  if redis.call('HGET', stn, c.m) ~= tostring(c.n) then return nil end
  if c.next and c.next ~= cjson.null then
    redis.call('ZADD', sts, c.next, c.m)
    redis.call('HSET', stn, c.m, c.nn)
  else
    redis.call('ZREM', sts, c.m)
    redis.call('HSET', stn, c.m, 'done')
  end
  return true
end
