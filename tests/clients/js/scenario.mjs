// Drives the official camunda-external-task-client-js against a redtask gateway.
//
//   node scenario.mjs <engine-rest base URL> <scenario> '<options JSON>'
//
// Prints ONE JSON object to stdout and exits 0 when the scenario is done; on an overall
// timeout (options.timeoutMs, default 15000) it prints what it has, with "error", and exits 2.
// Progress events that the driving test must react to (e.g. "the first poll has started")
// go to stderr as JSON lines. Every HTTP exchange of the client is recorded in "trace"
// (method, path, request body, status, response body) so a failing test can show exactly
// what the client sent and what the gateway answered.

import { Buffer } from "node:buffer";
import { Client, Variables } from "camunda-external-task-client-js";

const [baseUrl, scenario, rawOptions = "{}"] = process.argv.slice(2);
if (!baseUrl || !scenario) {
  process.stderr.write("usage: node scenario.mjs <baseUrl> <scenario> [options JSON]\n");
  process.exit(64);
}
const options = JSON.parse(rawOptions);
const topic = options.topic;
const started = Date.now();
const result = { scenario, workerId: options.workerId, deliveries: [], polls: [], errors: [] };
const trace = [];

function event(name, extra = {}) {
  process.stderr.write(JSON.stringify({ event: name, t: Date.now(), ...extra }) + "\n");
}

function finish(code = 0) {
  client.stop();
  result.trace = trace;
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

function fail(message) {
  result.error = message;
  finish(1);
}

setTimeout(() => {
  result.error = `scenario '${scenario}' timed out after ${Date.now() - started} ms`;
  finish(2);
}, options.timeoutMs ?? 15000).unref();

// Records every exchange: the interceptor sees the request options, the got hook the response.
function recorder(config) {
  const entry = { method: config.method, request: config.json ?? null };
  return {
    ...config,
    hooks: {
      afterResponse: [
        (response) => {
          entry.path = new URL(response.url).pathname;
          entry.status = response.statusCode;
          entry.contentType = response.headers["content-type"] ?? null;
          const body = Buffer.from(response.rawBody ?? response.body ?? "").toString("utf-8");
          entry.response = body.length > 4000 ? body.slice(0, 4000) + "..." : body;
          trace.push(entry);
          return response;
        },
      ],
    },
  };
}

const client = new Client({
  baseUrl,
  workerId: options.workerId,
  autoPoll: false,
  interval: options.interval ?? 50,
  maxTasks: 1,
  maxParallelExecutions: 1, // no new poll while a handler runs: deterministic scenarios
  lockDuration: options.lockDuration ?? 10000,
  asyncResponseTimeout: options.asyncResponseTimeout ?? 1000,
  interceptors: recorder,
});

client.on("poll:start", () => {
  const t = Date.now();
  if (!result.polls.length) event("poll:start");
  result.polls.push({ start: t });
});
client.on("poll:success", (tasks) => {
  const last = result.polls[result.polls.length - 1];
  if (last) Object.assign(last, { end: Date.now(), tasks: tasks.length });
});
client.on("poll:error", (e) => result.errors.push({ on: "poll", message: String(e.message) }));
client.on("handler:error", (e) =>
  result.errors.push({ on: "handler", message: String(e && e.message) })
);
for (const op of ["complete", "handleFailure", "handleBpmnError", "extendLock", "unlock"]) {
  client.on(`${op}:error`, (task, e) =>
    result.errors.push({ on: op, message: String(e && e.message) })
  );
}

// How a handler sees a variable: the typed value the library builds, made JSON-printable.
function describe(typed) {
  const { value } = typed;
  let jsType = value === null ? "null" : typeof value;
  let shown = value;
  if (value instanceof Date) {
    jsType = "Date";
    shown = Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  } else if (Buffer.isBuffer(value)) {
    jsType = "Buffer";
    shown = value.toString("base64");
  } else if (Array.isArray(value)) {
    jsType = "array";
  }
  return { type: typed.type, valueInfo: typed.valueInfo, jsType, value: shown };
}

function received(task) {
  const variables = {};
  for (const [name, typed] of Object.entries(task.variables.getAllTyped())) {
    variables[name] = describe(typed);
  }
  const delivery = {
    at: Date.now(),
    id: task.id,
    workerId: task.workerId,
    retries: task.retries,
    errorMessage: task.errorMessage,
    errorDetails: task.errorDetails,
    lockExpirationTime: task.lockExpirationTime,
    variables,
    plain: task.variables.getAll(),
  };
  result.deliveries.push(delivery);
  return delivery;
}

async function getTask(id) {
  const response = await fetch(`${baseUrl}/external-task/${id}`);
  return { status: response.status, body: await response.json() };
}

// The variables a worker sends back, one of each type, built with the library's API.
function outgoing() {
  const vars = new Variables();
  vars.set("outString", "done ✓");
  vars.set("outInteger", -42);
  vars.set("outLong", 9007199254740991);
  vars.set("outDouble", 2.5);
  vars.set("outBoolean", false);
  vars.set("outDate", new Date("2024-05-06T07:08:09.010Z"));
  vars.set("outJson", { list: [1, "two", null], nested: { ok: true } });
  vars.set("outNull", null);
  vars.setTyped("outBytes", {
    type: "Bytes",
    value: Buffer.from([0, 1, 2, 253, 254, 255]).toString("base64"),
    valueInfo: {},
  });
  vars.setTyped("outObject", {
    type: "Object",
    value: '{"name":"order","amount":12}',
    valueInfo: {
      objectTypeName: "com.example.Order",
      serializationDataFormat: "application/json",
    },
  });
  return vars;
}

const scenarios = {
  // Receive the typed variables, then complete without variables.
  async receive({ task, taskService }) {
    received(task);
    await taskService.complete(task);
    finish();
  },

  // Complete with variables of every type (and one local variable).
  async complete({ task, taskService }) {
    received(task);
    const vars = outgoing();
    const local = new Variables().set("outLocal", "only here");
    result.sent = { variables: vars.getDirtyVariables(), localVariables: local.getDirtyVariables() };
    await taskService.complete(task, vars, local);
    finish();
  },

  // Fail once with a retry timeout, then wait for the task to come back and complete it.
  async failure({ task, taskService }) {
    const delivery = received(task);
    if (result.deliveries.length === 1) {
      result.failingAt = Date.now();
      await taskService.handleFailure(task, {
        errorMessage: "temporary outage",
        errorDetails: "stack trace\n  at line 1",
        retries: options.retries,
        retryTimeout: options.retryTimeout,
      });
      result.failedAt = Date.now();
      result.afterFailure = await getTask(task.id);
      return;
    }
    // every poll since the failure except the last one, which delivered this task
    delivery.pollsWhileWaiting = result.polls.slice(0, -1).filter((p) => p.start >= result.failedAt);
    await taskService.complete(task);
    finish();
  },

  async bpmn_error({ task, taskService }) {
    received(task);
    const vars = new Variables().set("reason", "out of stock").set("missing", 3);
    await taskService.handleBpmnError(task, options.errorCode, options.errorMessage, vars);
    result.reportedAt = Date.now();
    finish();
  },

  // Extend the lock and leave the task locked: the test checks the lock afterwards.
  async extend_lock({ task, taskService }) {
    received(task);
    result.before = await getTask(task.id);
    result.extendedAt = Date.now();
    await taskService.extendLock(task, options.newDuration);
    result.after = await getTask(task.id);
    finish();
  },

  // Unlock on the first delivery; the same subscription must receive the task again.
  async unlock({ task, taskService }) {
    received(task);
    if (result.deliveries.length === 1) {
      await taskService.unlock(task);
      result.afterUnlock = await getTask(task.id);
      return;
    }
    await taskService.complete(task);
    finish();
  },

  // Long polling: the task is published by the test while the first request is parked.
  async long_poll({ task, taskService }) {
    received(task);
    await taskService.complete(task);
    finish();
  },
};

const handler = scenarios[scenario];
if (!handler) {
  fail(`unknown scenario '${scenario}'`);
} else {
  client.subscribe(topic, { lockDuration: options.lockDuration ?? 10000 }, async (args) => {
    try {
      await handler(args);
    } catch (e) {
      fail(`handler failed: ${e && e.message}`);
    }
  });
  client.start();
}
