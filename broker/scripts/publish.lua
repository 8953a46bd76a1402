--[[ publish: create standalone external tasks, fetchable at once.

KEYS[1]  partition prefix "{ns:p}:"
ARGV[1]  now_ms        creation time (ms since epoch)
ARGV[2]  wake channel  pub/sub channel for wake-ups ('' = none)
ARGV[3..] pairs: meta JSON, variables JSON
         meta = {"id", "topic", "priority" (decimal string), "retries" (decimal string|null),
                 "businessKey" (string|null), "tenantId" (string|null)}
         variables = the typed-variable map as JSON text (stored verbatim; "" = none)

Returns  {0, n}                 n tasks created
         {-7, id}               E_DUPLICATE: a task with that id exists (nothing written)
         {-6, message}          E_INVALID: bad priority/retries (nothing written)
Effects  task hashes, a:<topic>:<prio>, al:<topic>, topics; PUBLISH <topic> once per topic.
]]
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local now = ARGV[1]
local channel = ARGV[2]

-- Validate the whole batch before the first write: scripts do not roll back.
local tasks = {}
for n = 3, #ARGV, 2 do
  local m = cjson.decode(ARGV[n])
  if redis.call('EXISTS', k_task(P, m.id)) == 1 then return {E_DUPLICATE, m.id} end
  if not is_int(m.priority) then return {E_INVALID, 'priority must be an integer'} end
  if m.retries ~= cjson.null and (not is_int(m.retries) or tonumber(m.retries) < 1) then
    return {E_INVALID, 'retries must be null or greater than 0'}
  end
  tasks[#tasks + 1] = {m, ARGV[n + 1]}
end

local topics = {}
for _, pair in ipairs(tasks) do
  local m, vars = pair[1], pair[2]
  local key = k_task(P, m.id)
  redis.call('HSET', key, 't', m.topic, 'ct', now, 'p', m.priority)
  if m.retries ~= cjson.null then redis.call('HSET', key, 'r', m.retries) end
  if m.businessKey ~= cjson.null then redis.call('HSET', key, 'bk', m.businessKey) end
  if m.tenantId ~= cjson.null then redis.call('HSET', key, 'tn', m.tenantId) end
  if vars ~= '' then redis.call('HSET', key, 'v', vars) end
  index(P, m.id, 'a', m.topic, m.priority, now, nil)
  topics[m.topic] = true
end
for topic, _ in pairs(topics) do
  redis.call('SADD', k_topics(P), topic)
  wake(P, channel, topic)
end
return {OK, #tasks}
