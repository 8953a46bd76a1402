-- wrk script for bench/gateway_wrk.py: the bare FastAPI endpoint, POSTed the fetch body.
wrk.method = "POST"
wrk.path = "/noop-json"
wrk.body = '{"workerId":"wrk","maxTasks":1,"topics":[{"topicName":"bench","lockDuration":60000}]}'
wrk.headers["Content-Type"] = "application/json"
