--[[ handle_bpmn_error: a worker reports a BPMN error for a locked task.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  worker id
ARGV[4]  lock token ('' = worker id check only)
ARGV[5]  error code (non-empty)
ARGV[6]  error message ('' = none)
ARGV[7]  variables JSON ('' = none)
ARGV[8]  MAXLEN of the finished-task stream (0 = do not log)

Returns  {0} | {-1} | {-2, worker} | {-4, token} as complete; {-6, message} for a missing code;
         {-8} E_PROCESS: a task of a process instance (untouched; the engine routes the error).
Effects  A standalone task has no boundary event to catch the error, so, as Camunda does for an
         uncaught BPMN error, its execution ends: the task and any incident are deleted and the
         error (code, message, variables) is logged to the finished-task stream.
]]
--!include _status.lua
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local id = ARGV[2]
if ARGV[5] == '' then return {E_INVALID, 'errorCode is null'} end
local f, err = owned_task(P, id, ARGV[3], ARGV[4])
if err then return err end
if redis.call('HEXISTS', k_task(P, id), 'pi') == 1 then return {E_PROCESS} end
local extra = {'code', ARGV[5]}
if ARGV[6] ~= '' then extra[#extra + 1] = 'msg'; extra[#extra + 1] = ARGV[6] end
if ARGV[7] ~= '' then extra[#extra + 1] = 'v'; extra[#extra + 1] = ARGV[7] end
finish(P, id, k_task(P, id), f[1], f[2], f[3], f[9], 'bpmn_error', extra, ARGV[8], ARGV[1])
return {OK}
