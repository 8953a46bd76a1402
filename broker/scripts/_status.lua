-- Status codes every script returns as the first element of its reply. This file is the one
-- place they are declared: broker/errors.py reads it (scripts.status_codes) and maps each code
-- to one exception; a test checks every code a script uses is declared here and mapped.
local OK = 0
local E_NOT_FOUND = -1
local E_WORKER_MISMATCH = -2
local E_LOCK_EXPIRED = -3
local E_STALE_TOKEN = -4
local E_INVALID = -6
local E_DUPLICATE = -7
local E_PROCESS = -8  -- the task belongs to a process instance: the engine finishes it
local E_CONFLICT = -9  -- the instance is at another version than the one the engine read
