-- wrk script for bench/gateway_wrk.py: fetchAndLock(maxTasks=10) only (the tasks stay locked).
-- An optional argument is a think time in milliseconds (fractional: each wait is its floor or
-- its ceiling, at random, so the mean is the argument) between a response and the next request
-- of the connection: the rate-limited phase uses it to run at a share of the saturated rate.
wrk.method = "POST"
wrk.path = "/engine-rest/external-task/fetchAndLock"
wrk.body = '{"workerId":"wrk","maxTasks":10,"topics":[{"topicName":"bench","lockDuration":600000}]}'
wrk.headers["Content-Type"] = "application/json"
tasks, short, bad = 0, 0, 0
local think = 0
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  think = tonumber(args[1] or "0") or 0
end

delay = function()
  if think <= 0 then
    return 0
  end
  local base = math.floor(think)
  if math.random() < think - base then
    return base + 1
  end
  return base
end

response = function(status, hdrs, body)
  if status ~= 200 then
    bad = bad + 1
    return
  end
  local _, n = string.gsub(body, '"id":"', "")
  tasks = tasks + n
  if n < 10 then
    short = short + 1
  end
end

done = function(summary, latency, requests)
  local t, s, b = 0, 0, 0
  for _, thread in ipairs(threads) do
    t = t + thread:get("tasks")
    s = s + thread:get("short")
    b = b + thread:get("bad")
  end
  io.write(string.format("FETCH tasks=%d short=%d bad=%d\n", t, s, b))
end
