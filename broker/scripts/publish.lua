--[[ publish: create standalone external tasks, fetchable at once.

KEYS[1]  partition prefix "{ns:p}:"
ARGV[1]  now_ms        creation time (ms since epoch)
ARGV[2]  wake channel  pub/sub channel for wake-ups ('' = none)
ARGV[3..] per task: meta JSON, then meta.nv pairs of variable name, typed value JSON
         meta = {"id", "topic", "priority" (decimal string), "retries" (decimal string|null),
                 "businessKey" (string|null), "tenantId" (string|null), "nv" (count)}
         each variable is stored verbatim in hash field "v.<name>"

Returns  {0, n}                 n tasks created
         {-7, id}               E_DUPLICATE: a task with that id exists, or the batch repeats
                                it (nothing written)
         {-6, message}          E_INVALID: bad priority/retries (nothing written)
Effects  task hashes, a:<topic>:<prio>, al:<topic>, topics; PUBLISH <topic> once per topic.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = ARGV[1]
local channel = ARGV[2]

-- Validate the whole batch before the first write: scripts do not roll back.
local tasks = {}
local seen = {}
local n = 3
while n <= #ARGV do
  local m = cjson.decode(ARGV[n])
  if seen[m.id] or redis.call('EXISTS', k_task(P, m.id)) == 1 then return {E_DUPLICATE, m.id} end
  seen[m.id] = true
  if not is_int(m.priority) then return {E_INVALID, 'priority must be an integer'} end
  if m.retries ~= cjson.null and (not is_int(m.retries) or tonumber(m.retries) < 1) then
    return {E_INVALID, 'retries must be null or greater than 0'}
  end
  tasks[#tasks + 1] = {m, n + 1}
  n = n + 1 + 2 * m.nv
end

-- One HSET per task; the fetchable index is written with one ZADD per topic and priority level
-- (every write is also fed to the AOF, so fewer and larger writes are cheaper).
local levels = {}  -- topic -> priority -> {score, id, score, id, ...}
for _, pair in ipairs(tasks) do
  local m, first = pair[1], pair[2]
  local record = {'t', m.topic, 'ct', now, 's', 'a'}
  if m.priority ~= '0' then table.insert(record, 'p'); table.insert(record, m.priority) end
  if m.retries ~= cjson.null then table.insert(record, 'r'); table.insert(record, m.retries) end
  if m.businessKey ~= cjson.null then
    table.insert(record, 'bk'); table.insert(record, m.businessKey)
  end
  if m.tenantId ~= cjson.null then table.insert(record, 'tn'); table.insert(record, m.tenantId) end
  for i = first, first + 2 * m.nv - 1, 2 do
    table.insert(record, 'v.' .. ARGV[i]); table.insert(record, ARGV[i + 1])
  end
  bulk('HSET', k_task(P, m.id), record, 2)
  levels[m.topic] = levels[m.topic] or {}
  local members = levels[m.topic][m.priority] or {}
  levels[m.topic][m.priority] = members
  table.insert(members, now)
  table.insert(members, m.id)
end
for topic, by_prio in pairs(levels) do
  for prio, members in pairs(by_prio) do
    bulk('ZADD', k_avail(P, topic, prio), members, 2)
    redis.call('ZADD', k_levels(P, topic), -tonumber(prio), prio)
  end
  redis.call('SADD', k_topics(P), topic)
  wake(P, channel, topic)
end
return {OK, #tasks}
