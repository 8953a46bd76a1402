-- Key names inside one partition; mirrors broker/keys.py (a test checks they agree).
-- P is the partition prefix "{ns:p}:" passed as KEYS[1].
local function k_task(P, id) return P .. 't:' .. id end
local function k_avail(P, topic, prio) return P .. 'a:' .. topic .. ':' .. prio end
local function k_levels(P, topic) return P .. 'al:' .. topic end
local function k_locked(P, topic) return P .. 'l:' .. topic end
local function k_retry(P, topic) return P .. 'r:' .. topic end
local function k_xtasks(P, topic) return P .. 'x:' .. topic end
local function k_topics(P) return P .. 'topics' end
local function k_sweep(P) return P .. 'sw' end
local function k_incident(P, iid) return P .. 'inc:' .. iid end
local function k_incidents(P) return P .. 'incs' end
local function k_done(P) return P .. 'done' end
local function k_completions(P, minute) return P .. 'cpm:' .. minute end
local function k_workers(P) return P .. 'ws' end
local function k_instance(P, id) return P .. 'pi:' .. id end
local function k_instances(P) return P .. 'pis' end
local function k_history(P) return P .. 'pih' end
local function k_timers(P) return P .. 'tms' end
local function k_timer_jobs(P) return P .. 'tmj' end
local function k_timer_incidents(P) return P .. 'tmi' end
local function k_message(P, name) return P .. 'msg:' .. name end
local function k_activities(P, id) return P .. 'ha:' .. id end
local function k_task_log(P, id) return P .. 'hx:' .. id end
local function k_incident_history(P, id) return P .. 'hi:' .. id end
local function k_signal_throws(P) return P .. 'sig' end
local function k_start_timers(P) return P .. 'sts' end
local function k_start_timer_index(P) return P .. 'stn' end
