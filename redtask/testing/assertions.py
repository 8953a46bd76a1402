"""Assertions on process instances, topics, tasks and incidents, in the manner of
camunda-bpm-assert. Each is made from a snapshot the broker read once (``await kit.instance(pi)``),
so the checks are plain calls that chain::

    (await kit.instance(order)).is_waiting_at("ship_standard").has_variables(total=25.0)

A failing check raises AssertionError saying what was expected and what the instance (task,
topic) actually did: its state, where it waits, the elements it entered, its variables and
incidents.

The checks live by what they assert on: :mod:`redtask.testing.instance_assertions` (a process
instance), :mod:`redtask.testing.task_assertions` (a task, a topic, the incidents), and what
they share in :mod:`redtask.testing.describing`; this module gathers them.
"""

from redtask.testing.describing import (
    TASK_STATES,
    Expected,
    TaskStateName,
    describe_incident,
    describe_task,
    task_state,
)
from redtask.testing.instance_assertions import InstanceAssert, InstanceSnapshot
from redtask.testing.task_assertions import IncidentsAssert, TaskAssert, TopicAssert

__all__ = [
    "TASK_STATES",
    "Expected",
    "IncidentsAssert",
    "InstanceAssert",
    "InstanceSnapshot",
    "TaskAssert",
    "TaskStateName",
    "TopicAssert",
    "describe_incident",
    "describe_task",
    "task_state",
]
