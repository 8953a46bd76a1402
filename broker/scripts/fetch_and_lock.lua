--[[ fetch_and_lock: lock up to max_tasks fetchable tasks of several topics for one worker.

KEYS[1]  partition prefix "{ns:p}:"
ARGV[1]  now_ms
ARGV[2]  worker id
ARGV[3]  max_tasks (>= 1)
ARGV[4]  order: "prio"      priority desc, createTime asc (usePriority, and the default)
                "prio_desc" priority desc, createTime desc
                "ct_asc"    createTime asc, priority ignored
                "ct_desc"   createTime desc, priority ignored
ARGV[5]  scan budget: most index entries examined when topics carry filters
ARGV[6]  reclaim limit: most due leases/retries per topic moved back to fetchable first
ARGV[7]  topics JSON: [{"topic": s, "lock": ms (decimal string), "f": filters|null}]
         filters (all optional, AND-ed): "bk" business key, "pd" [definition ids],
         "pk" [definition keys], "vt" the version tag LIKE as
         {"s": [quantifier-free Lua patterns], "n": fewest bytes} (see like() below), "tin" [tenant ids],
         "wt" true = only tasks without tenant, "pv" {name: JSON text of a plain value}
         (OR-ed equality; integers compare exactly, other numbers as doubles). "pv" matches
         the process-level variables of a process task's instance (pi:<id> field "st") and
         the variables of a standalone task (fields "v.<name>": it is its own process).

Returns  {0, n, id1, m1, fields1..., id2, m2, fields2..., ...}  fields = the m values of the
         locked task's HGETALL, inline: one flat reply (Redis 6.2 writes each nested array of
         a script's reply with a write(2) of its own)
         {-6, message}  E_INVALID: bad max_tasks / lock duration (nothing written)
Effects  locked tasks move a:<topic>:<prio> -> l:<topic>; their lock token ("tok") is bumped;
         sw hint updated; due leases/retries of the topics are reclaimed first; the worker
         id is noted in the registry of recent workers (ws, see workers_note in _lib.lua).
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = tonumber(ARGV[1])
local worker = ARGV[2]
local need = tonumber(ARGV[3])
local order = ARGV[4]
local budget = tonumber(ARGV[5])
local reclaim_limit = tonumber(ARGV[6])
local topics = cjson.decode(ARGV[7])

if not need or need < 1 then return {E_INVALID, 'maxTasks must be greater than 0'} end
for _, tp in ipairs(topics) do
  if not is_int(tp.lock) or tonumber(tp.lock) <= 0 then
    return {E_INVALID, 'lockTime is not greater than 0'}
  end
end
workers_note(P, now, worker)

local by_prio = order == 'prio' or order == 'prio_desc'
local ct_desc = order == 'prio_desc' or order == 'ct_desc'

-- a before b in the requested order? Elements: {priority (decimal string), ct, id}.
local function before(a, b)
  if by_prio and a[1] ~= b[1] then return int_less(b[1], a[1]) end
  if a[2] ~= b[2] then
    if ct_desc then return a[2] > b[2] else return a[2] < b[2] end
  end
  if ct_desc then return a[3] > b[3] else return a[3] < b[3] end
end

-- The raw JSON text of "value" in a stored typed value {"type":..,"value":..,"valueInfo":..}.
-- Raw quotes cannot occur inside JSON strings, so these separators are structural.
local function raw_value(typed)
  local first = string.find(typed, ',"value":', 1, true)
  local last = nil
  local from = 1
  while true do
    local at = string.find(typed, ',"valueInfo":', from, true)
    if not at then break end
    last, from = at, at + 1
  end
  return string.sub(typed, first + 9, last - 1)
end

local function value_equals(typed, want)
  local have = raw_value(typed)
  if have == want then return true end
  local integer = '^%-?%d+$'
  if string.match(have, integer) and string.match(want, integer) then return false end
  local hn, wn = tonumber(have), tonumber(want)
  if hn and wn and string.match(have, '^[%d%-]') and string.match(want, '^[%d%-]') then
    return hn == wn
  end
  return false
end

-- Index just past the JSON string that starts at i. The instance state is compact JSON
-- written by orjson: no whitespace between tokens.
local function skip_string(s, i)
  local j = i + 1
  while true do
    local q = string.find(s, '["\\]', j)
    if string.sub(s, q, q) == '"' then return q + 1 end
    j = q + 2  -- an escape: the next character cannot end the string
  end
end

-- Index just past the JSON value that starts at i.
local function skip_value(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return skip_string(s, i) end
  if c ~= '{' and c ~= '[' then return string.find(s, '[,%]}]', i) end  -- a scalar
  local depth, j = 0, i
  while true do
    local k = string.find(s, '[%[%]{}"]', j)
    local ch = string.sub(s, k, k)
    if ch == '"' then
      j = skip_string(s, k)
    else
      depth = depth + ((ch == '{' or ch == '[') and 1 or -1)
      j = k + 1
      if depth == 0 then return j end
    end
  end
end

local function json_string(text)
  if string.find(text, '\\', 1, true) then return cjson.decode(text) end
  return string.sub(text, 2, -2)
end

-- The process-level variables of an instance (broker/engine/state.py, InstanceState.to_json):
-- name -> JSON text of the typed value. Only the top-level "variables" member is walked, never
-- the executions, and raw texts are kept so that Long values compare exactly.
local process_vars = {}
local function instance_variables(pi)
  if process_vars[pi] then return process_vars[pi] end
  local out = {}
  local st = redis.call('HGET', k_instance(P, pi), 'st')
  local i = 2
  while st and string.sub(st, i, i) == '"' do
    local key_end = skip_string(st, i)
    local value_end = skip_value(st, key_end + 1)
    if string.sub(st, i, key_end - 1) == '"variables"' then
      local j = key_end + 2
      while string.sub(st, j, j) == '"' do
        local name_end = skip_string(st, j)
        local typed_end = skip_value(st, name_end + 1)
        out[json_string(string.sub(st, j, name_end - 1))] =
          string.sub(st, name_end + 1, typed_end - 1)
        j = typed_end + 1
      end
      break
    end
    i = value_end + 1
  end
  process_vars[pi] = out
  return out
end

-- SQL LIKE without backtracking: the segments between '%' are found one after another, each
-- from where the previous ended (the first anchored with '^', the last with '$'). None holds a
-- quantifier, so string.find never backtracks; every segment but the first and last is non-empty
-- and a value shorter than the pattern's fewest bytes is refused at once, so there are at most
-- #s + 2 searches, each bounded by #s * #segment.
local function like(s, spec)
  if #s < spec.n then return false end
  local pos = 1
  for _, segment in ipairs(spec.s) do
    local _, e = string.find(s, segment, pos)
    if not e then return false end
    pos = e + 1
  end
  return true
end

local function matches(id, f)
  if f == nil or f == cjson.null then return true end
  local v = redis.call('HMGET', k_task(P, id), 'bk', 'pd', 'pk', 'pvt', 'tn', 'pi')
  if f.bk ~= nil and v[1] ~= f.bk then return false end
  local function member(list, x)
    for _, y in ipairs(list) do if y == x then return true end end
    return false
  end
  if f.pd ~= nil and not member(f.pd, v[2]) then return false end
  if f.pk ~= nil and not member(f.pk, v[3]) then return false end
  if f.vt ~= nil and (not v[4] or not like(v[4], f.vt)) then return false end
  if f.tin ~= nil then
    if not member(f.tin, v[5]) then return false end
  elseif f.wt and v[5] then
    return false
  end
  if f.pv ~= nil and next(f.pv) ~= nil then
    local any = false
    local process = v[6] and instance_variables(v[6])
    for name, want in pairs(f.pv) do
      local raw
      if process then
        raw = process[name]
      else
        raw = redis.call('HGET', k_task(P, id), 'v.' .. name)
      end
      if raw and value_equals(raw, want) then any = true break end
    end
    if not any then return false end
  end
  return true
end

-- One stream per (topic, priority level), read lazily in chunks.
local streams = {}
local filtered = false
for ti, tp in ipairs(topics) do
  reclaim(P, tp.topic, now, reclaim_limit)
  if tp.f ~= nil and tp.f ~= cjson.null then filtered = true end
  local levels = redis.call('ZRANGE', k_levels(P, tp.topic), 0, -1)
  for _, level in ipairs(levels) do
    streams[#streams + 1] = {key = k_avail(P, tp.topic, level), topic = ti,
      prio = level, buf = {}, pos = 1, off = 0, done = false}
  end
end
local chunk = filtered and math.max(need, 64) or need
if not filtered then budget = need end  -- every entry examined is taken

local function head(s)
  if s.pos > #s.buf then
    if s.done then return nil end
    local cmd = ct_desc and 'ZREVRANGE' or 'ZRANGE'
    local got = redis.call(cmd, s.key, s.off, s.off + chunk - 1, 'WITHSCORES')
    s.buf, s.pos, s.off = {}, 1, s.off + chunk
    for n = 1, #got, 2 do s.buf[#s.buf + 1] = {s.prio, tonumber(got[n + 1]), got[n]} end
    if #got < 2 * chunk then s.done = true end
    if #s.buf == 0 then return nil end
  end
  return s.buf[s.pos]
end

local picked = {}
if #streams == 1 and not filtered then
  -- one priority level of one topic, no filters: its first `need` entries, in index order
  local s = streams[1]
  local tp = topics[s.topic]
  local ids = redis.call(ct_desc and 'ZREVRANGE' or 'ZRANGE', s.key, 0, need - 1)
  for n = 1, #ids do picked[n] = {ids[n], s, tp} end
else
  local scanned = 0
  while #picked < need and scanned < budget do
    local best, best_s = nil, nil
    for _, s in ipairs(streams) do
      local h = head(s)
      if h and (best == nil or before(h, best)) then best, best_s = h, s end
    end
    if best == nil then break end
    best_s.pos = best_s.pos + 1
    scanned = scanned + 1
    local tp = topics[best_s.topic]
    if matches(best[3], tp.f) then picked[#picked + 1] = {best[3], best_s, tp} end
  end
end

-- Lock the picks with as few calls as possible (every write is also fed to the AOF): one ZREM
-- per priority level and one ZADD per topic for the indexes, then per task a token bump, one
-- write and one read of its record (cheaper in Lua than patching a copy read before the write:
-- every string crossing into Lua is copied and interned).
local from_level, to_locked, lease_of = {}, {}, {}
for _, p in ipairs(picked) do
  local id, s, tp = p[1], p[2], p[3]
  local le = now + tonumber(tp.lock)
  from_level[s] = from_level[s] or {}
  table.insert(from_level[s], id)
  if not to_locked[tp.topic] then to_locked[tp.topic] = {}; lease_of[tp.topic] = le end
  table.insert(to_locked[tp.topic], le)
  table.insert(to_locked[tp.topic], id)
end
for s, ids in pairs(from_level) do
  bulk('ZREM', s.key, ids, 1)
  if redis.call('EXISTS', s.key) == 0 then
    redis.call('ZREM', k_levels(P, topics[s.topic].topic), s.prio)
  end
end
for topic, pairs_ in pairs(to_locked) do
  bulk('ZADD', k_locked(P, topic), pairs_, 2)
  sweep_hint(P, topic, lease_of[topic])
end
local out = {OK, #picked}
for _, p in ipairs(picked) do
  local id, tp = p[1], p[3]
  local key = k_task(P, id)
  redis.call('HINCRBY', key, 'tok', 1)
  redis.call('HSET', key, 'w', worker, 'le', now + tonumber(tp.lock), 's', 'l')
  local rec = redis.call('HGETALL', key)
  out[#out + 1] = id
  out[#out + 1] = #rec
  for n = 1, #rec do out[#out + 1] = rec[n] end
end
return out
