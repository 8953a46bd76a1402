"""The Redis key schema: the one place that formats key names.

Every key of partition ``p`` starts with the partition's hash tag, so every script touches a
single slot and Redis Cluster works by construction. Scripts receive the partition prefix
``{tag}:`` as ``KEYS[1]`` and build the same names with ``scripts/_keys.lua``; a test checks
that both agree (``tests/broker/test_keys.py``).

Hash tags (``TagScheme``, recorded in ``ns:config`` field ``tags`` when a namespace is created):

- ``spread`` (every namespace created since it exists): partition ``p`` of ``P`` uses the tag
  ``ns:p`` or ``ns:p.n``, with the smallest ``n >= 0`` whose CRC16 slot lies in the middle half
  of the p-th of P equal slot ranges. Cluster masters own equal contiguous slot ranges, so
  P = k * M partitions land k on each of M masters (``{ns:p}`` alone can land 8 partitions
  5/2/1 on 3 masters). Deterministic: every process computes the same tags.
- ``legacy``: the tag ``ns:p``, for namespaces whose config has no ``tags`` field (created
  before the spread scheme). Their keys keep their names, so their data stays readable; in a
  cluster they work, only less evenly spread.

Per partition (``P`` = ``{ns:p}:``):

=========================  ======  ==========================================================
key                        type    content
=========================  ======  ==========================================================
``P t:<id>``               HASH    the task record (fields in ``broker.model``)
``P a:<topic>:<prio>``     ZSET    fetchable tasks of one priority level, score = createTime ms
``P al:<topic>``           ZSET    the priority levels present in ``a:``, score = -priority
``P l:<topic>``            ZSET    locked tasks, score = lock expiry ms (a lease, never a TTL)
``P r:<topic>``            ZSET    failed tasks waiting out retryTimeout, score = due ms
``P x:<topic>``            SET     tasks whose retries are 0 (they carry an incident)
``P topics``               SET     topics holding a task in this partition (left when empty)
``P sw``                   ZSET    topic -> earliest time a lease or retry of it may be due
``P inc:<id>``             HASH    an incident (``failedExternalTask``)
``P incs``                 ZSET    incident ids, score = incident timestamp ms
``P done``                 STREAM  capped log of finished tasks (complete / BPMN error)
``P cpm:<minute>``         HASH    topic -> tasks completed in that minute (epoch ms // 60000);
                                   expires (PEXPIRE) 16 minutes after a topic's first count
``P ws``                   ZSET    worker ids that fetched, score = last fetch ms; when a new id
                                   enters, entries older than 15 minutes leave, 1000 at most stay
``P pi:<id>``              HASH    a process instance: st (engine state JSON), ver, status,
                                   pd, pk, pvt, bk, tn, sa (its start event, when started
                                   by a message, signal or timer), start, end (ms); a called
                                   instance (same partition as its caller): sup (caller), rpi
                                   (root)
``P pis``                  ZSET    running instance ids, score = start ms
``P pih``                  ZSET    ended instance ids kept for history, score = end ms; an id
                                   leaves (its hash deleted) once end + history TTL has passed
``P ha:<id>``               HASH    the activity instances of process instance <id>:
                                   <activity instance id> -> JSON (see broker.activity_history),
                                   <activity instance id>|e -> its end; kept as long as pi:<id>
``P hx:<id>``               HASH    the external-task log of process instance <id>: log id ->
                                   entry JSON, <log id>|d -> a failure's error details
``P hi:<id>``               HASH    the closed incidents of process instance <id>: incident id
                                   -> JSON of the incident's fields, its end and how it ended
``P tms``                  ZSET    "<instance id>|<timer id>" scored by due time (ms)
``P sts``                  ZSET    timer start events: "<definition id>|<start event id>"
                                   scored by its next due time (ms)
``P stn``                  HASH    the same member -> the occurrence index of that due time
                                   ("done" once its cycle ended: it is not armed again)
``P msg:<name>``           SET     instances with an execution waiting for that message; for
                                   ``msg:<NUL>execution:<execution id>``, the instance whose
                                   execution waits in a receive task or message catch event;
                                   for ``msg:<NUL>subscriber:<execution id>``, the instance
                                   whose execution holds a signal subscription; for
                                   ``msg:<NUL>signal:<signal name>``, the instances holding a
                                   subscription to that signal
``P sig``                  HASH    signal throws not yet delivered to every instance: throw id
                                   -> JSON (``broker.signal_delivery``)
=========================  ======  ==========================================================

Global (no hash tag, read-mostly): ``ns:config`` HASH (``partitions``, ``tags``), the wake-up
pub/sub channel ``ns:wake`` (message = topic name) and scheduler heartbeats ``ns:scheduler:<id>``.

Deployments and process definitions (``broker.definitions``) share the one hash tag ``{ns}``
(``G`` = ``{ns}:``), so a deployment is written by one MULTI/EXEC in one slot. User-chosen parts
(tenant id, deployment name, process key) are percent-encoded, so ``:`` in them stays unambiguous.

=============================  ======  =====================================================
key                            type    content
=============================  ======  =====================================================
``G dep:<id>``                 STRING  the deployment record (JSON)
``G dep:<id>:res``             HASH    resource name -> raw bytes
``G deps``                     SET     every deployment id
``G depn:<tenant>:<name>``     ZSET    deployments of one name and tenant, score = deploy ms
``G pd:<id>``                  STRING  a process definition record (JSON)
``G pds``                      SET     every process definition id
``G pdv:<tenant>:<key>``       ZSET    definition ids of one key and tenant, score = version
``G stk``                      SET     JSON [tenant, key] of the processes one of whose versions
                                       has a timer start event (``broker.start_timers``)
``G sta``                      SET     the armed timer start members (their partition holds
                                       their schedule): disarmed when no longer wanted
``G msk:<name>``               SET     JSON [tenant, key] of the processes one of whose versions
                                       has a message start event for message <name>
``G sgk:<name>``               SET     the same for signal start events (``broker.start_events``)
``G sync``                     STRING  written after a deployment change when replicas must
                                       confirm it (``REDTASK_WAIT_REPLICAS``): WAIT covers it
=============================  ======  =====================================================
"""

from __future__ import annotations

import binascii
import functools
import zlib
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

TagScheme = Literal["spread", "legacy"]
TAG_SCHEMES: tuple[TagScheme, ...] = ("spread", "legacy")
SLOTS = 16384
_MAX_TAG_TRIES = 1 << 20  # never reached: a window of w slots is hit every 16384/w tries


def key_slot(tag: str) -> int:
    """The Redis Cluster slot of a hash tag (CRC16/XMODEM modulo 16384)."""
    return binascii.crc_hqx(tag.encode(), 0) % SLOTS


@functools.lru_cache(maxsize=256)
def spread_tags(namespace: str, partitions: int) -> tuple[str, ...]:
    """The ``spread`` scheme's tag of each partition (see the module docstring)."""
    tags = []
    for p in range(partitions):
        low, high = p * SLOTS // partitions, (p + 1) * SLOTS // partitions
        quarter = (high - low) // 4
        first, last = low + quarter, high - 1 - quarter
        for n in range(_MAX_TAG_TRIES):
            tag = f"{namespace}:{p}" if n == 0 else f"{namespace}:{p}.{n}"
            if first <= key_slot(tag) <= last:
                tags.append(tag)
                break
        else:  # pragma: no cover - CRC16 would have to avoid a slot window for 2^20 tries
            raise RuntimeError(f"no hash tag found for partition {p} of {partitions}")
    return tuple(tags)


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names for one namespace with ``partitions`` partitions and hash tags of ``tags``."""

    namespace: str = "redtask"
    partitions: int = 1
    tags: TagScheme = "spread"
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tags == "legacy":
            names = tuple(f"{self.namespace}:{p}" for p in range(self.partitions))
        else:
            names = spread_tags(self.namespace, self.partitions)
        object.__setattr__(self, "_prefixes", tuple(f"{{{t}}}:" for t in names))

    def prefix(self, partition: int) -> str:
        return self._prefixes[partition]

    def partition_of(self, entity_id: str) -> int:
        """The partition that owns a task or process instance id."""
        return zlib.crc32(entity_id.encode()) % self.partitions

    def task(self, task_id: str) -> str:
        return f"{self.prefix(self.partition_of(task_id))}t:{task_id}"

    def avail(self, partition: int, topic: str, priority: int) -> str:
        return f"{self.prefix(partition)}a:{topic}:{priority}"

    def avail_levels(self, partition: int, topic: str) -> str:
        return f"{self.prefix(partition)}al:{topic}"

    def locked(self, partition: int, topic: str) -> str:
        return f"{self.prefix(partition)}l:{topic}"

    def retry(self, partition: int, topic: str) -> str:
        return f"{self.prefix(partition)}r:{topic}"

    def incident_tasks(self, partition: int, topic: str) -> str:
        return f"{self.prefix(partition)}x:{topic}"

    def topics(self, partition: int) -> str:
        return f"{self.prefix(partition)}topics"

    def sweep(self, partition: int) -> str:
        return f"{self.prefix(partition)}sw"

    def incident(self, partition: int, incident_id: str) -> str:
        return f"{self.prefix(partition)}inc:{incident_id}"

    def incidents(self, partition: int) -> str:
        return f"{self.prefix(partition)}incs"

    def done(self, partition: int) -> str:
        return f"{self.prefix(partition)}done"

    def completions(self, partition: int, minute: int) -> str:
        return f"{self.prefix(partition)}cpm:{minute}"

    def workers(self, partition: int) -> str:
        return f"{self.prefix(partition)}ws"

    def instance(self, instance_id: str) -> str:
        return f"{self.prefix(self.partition_of(instance_id))}pi:{instance_id}"

    def instances(self, partition: int) -> str:
        return f"{self.prefix(partition)}pis"

    def history(self, partition: int) -> str:
        return f"{self.prefix(partition)}pih"

    def activities(self, instance_id: str) -> str:
        return f"{self.prefix(self.partition_of(instance_id))}ha:{instance_id}"

    def task_log(self, instance_id: str) -> str:
        return f"{self.prefix(self.partition_of(instance_id))}hx:{instance_id}"

    def incident_history(self, instance_id: str) -> str:
        return f"{self.prefix(self.partition_of(instance_id))}hi:{instance_id}"

    def timers(self, partition: int) -> str:
        return f"{self.prefix(partition)}tms"

    def timer_jobs(self, partition: int) -> str:
        """Hash: timer id -> ``retries left|instance id`` of a timer whose step failed."""
        return f"{self.prefix(partition)}tmj"

    def timer_incidents(self, partition: int) -> str:
        """Hash: timer id -> id of the open failedJob incident of that timer."""
        return f"{self.prefix(partition)}tmi"

    def start_timers(self, partition: int) -> str:
        return f"{self.prefix(partition)}sts"

    def start_timer_index(self, partition: int) -> str:
        return f"{self.prefix(partition)}stn"

    def message_waiters(self, partition: int, message_name: str) -> str:
        return f"{self.prefix(partition)}msg:{message_name}"

    def signal_throws(self, partition: int) -> str:
        return f"{self.prefix(partition)}sig"

    def signal_start_claim(self, partition: int, throw_id: str) -> str:
        """Set (NX) by the deliverer that starts the signal start events a throw reaches."""
        return f"{self.prefix(partition)}sgs:{throw_id}"

    def task_pattern(self, partition: int) -> str:
        """SCAN pattern matching every task hash of a partition."""
        return f"{self.prefix(partition)}t:*"

    @property
    def config(self) -> str:
        return f"{self.namespace}:config"

    def namespace_patterns(self) -> tuple[str, ...]:
        """SCAN patterns that together match every key of the namespace and no other: the
        partitions' ``{ns:p}:...``, the definitions' ``{ns}:...`` and the global ``ns:...``."""
        ns = self.namespace
        return (f"{{{ns}:*", f"{{{ns}}}:*", f"{ns}:*")

    @property
    def wake_channel(self) -> str:
        return f"{self.namespace}:wake"

    def scheduler_heartbeat(self, scheduler_id: str) -> str:
        return f"{self.namespace}:scheduler:{scheduler_id}"

    # ---------------------------------------------------------- deployments and definitions
    @property
    def definitions_prefix(self) -> str:
        return f"{{{self.namespace}}}:"

    def deployment(self, deployment_id: str) -> str:
        return f"{self.definitions_prefix}dep:{deployment_id}"

    def deployment_resources(self, deployment_id: str) -> str:
        return f"{self.definitions_prefix}dep:{deployment_id}:res"

    @property
    def deployments(self) -> str:
        return f"{self.definitions_prefix}deps"

    def deployments_named(self, tenant_id: str | None, name: str) -> str:
        """Deployments of one name and tenant (duplicate filtering compares against these)."""
        return f"{self.definitions_prefix}depn:{_part(tenant_id)}:{_part(name)}"

    def definition(self, definition_id: str) -> str:
        return f"{self.definitions_prefix}pd:{definition_id}"

    @property
    def definitions(self) -> str:
        return f"{self.definitions_prefix}pds"

    @property
    def timer_start_processes(self) -> str:
        return f"{self.definitions_prefix}stk"

    @property
    def armed_start_timers(self) -> str:
        return f"{self.definitions_prefix}sta"

    def message_start_processes(self, message_name: str) -> str:
        return f"{self.definitions_prefix}msk:{_part(message_name)}"

    def signal_start_processes(self, signal_name: str) -> str:
        return f"{self.definitions_prefix}sgk:{_part(signal_name)}"

    def definition_versions(self, tenant_id: str | None, key: str) -> str:
        return f"{self.definitions_prefix}pdv:{_part(tenant_id)}:{_part(key)}"


def _part(value: str | None) -> str:
    """A user-chosen key segment: percent-encoded, so it never contains ``:`` (None = empty)."""
    return quote(value or "", safe="")
