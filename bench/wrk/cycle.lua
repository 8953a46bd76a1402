-- wrk script for bench/gateway_wrk.py: fetchAndLock(maxTasks=1), then complete of the task it
-- got. The connections of a wrk thread share this state: a fetch's response queues its task
-- id, and the next request of any connection completes a queued task, else fetches again.
local fetch_body = '{"workerId":"wrk","maxTasks":1,"topics":[{"topicName":"bench","lockDuration":60000}]}'
local complete_body = '{"workerId":"wrk"}'
local headers = { ["Content-Type"] = "application/json" }
local queue, head, tail = {}, 1, 0
fetched, completed, empty, bad = 0, 0, 0, 0
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

request = function()
  if head <= tail then
    local id = queue[head]
    queue[head] = nil
    head = head + 1
    return wrk.format("POST", "/engine-rest/external-task/" .. id .. "/complete", headers, complete_body)
  end
  return wrk.format("POST", "/engine-rest/external-task/fetchAndLock", headers, fetch_body)
end

response = function(status, hdrs, body)
  if status == 200 then
    local id = string.match(body, '"id":"([^"]+)"')
    if id then
      tail = tail + 1
      queue[tail] = id
      fetched = fetched + 1
    else
      empty = empty + 1
    end
  elseif status == 204 then
    completed = completed + 1
  else
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  local f, c, e, b = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    f = f + t:get("fetched")
    c = c + t:get("completed")
    e = e + t:get("empty")
    b = b + t:get("bad")
  end
  io.write(string.format("CYCLE fetched=%d completed=%d empty=%d bad=%d\n", f, c, e, b))
end
