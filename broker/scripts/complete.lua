--[[ complete: finish a locked task with variables.

KEYS[1]  partition prefix
ARGV[1]  now_ms
ARGV[2]  task id
ARGV[3]  worker id
ARGV[4]  lock token the caller holds ('' = check the worker id only, as Camunda's REST API does)
ARGV[5]  variables JSON ('' = none), logged with the outcome
ARGV[6]  local variables JSON ('' = none), logged with the outcome
ARGV[7]  MAXLEN of the finished-task stream (0 = do not log)

Returns  {0}              done
         {-1}             E_NOT_FOUND
         {-2, worker}     E_WORKER_MISMATCH: the task is locked by another worker (or nobody)
         {-4, token}      E_STALE_TOKEN: another lock was taken since the caller's
Effects  Lock expiry is not checked (Camunda's late-complete rule): the last holder may complete
         until someone else locks the task. Deletes the task and its open incident; XADD done.
]]
--!include _keys.lua
--!include _lib.lua

local P = KEYS[1]
local id = ARGV[2]
local f, err = owned_task(P, id, ARGV[3], ARGV[4])
if err then return err end
local extra = {}
if ARGV[5] ~= '' then extra[#extra + 1] = 'v'; extra[#extra + 1] = ARGV[5] end
if ARGV[6] ~= '' then extra[#extra + 1] = 'lv'; extra[#extra + 1] = ARGV[6] end
finish(P, id, k_task(P, id), f[1], f[2], f[3], f[9], 'complete', extra, ARGV[7])
return {OK}
