"""The runtime activity tree of a process instance (Camunda's ActivityInstance, from
RuntimeService#getActivityInstance) and the per-activity statistics of a definition
(ManagementService#createActivityStatisticsQuery), both read from the instances' states.

Every token that waits in an activity (an external task, a sub-process, a timer or message
catch event, a receive task, a join) is one activity instance, a child of the enclosing
sub-process's, or of the process instance (the root, whose activity id is the definition id).
Open incidents attach to the activity instance of their execution. A multi-instance activity
is its body (``<id>#multiInstanceBody``) holding one activity instance per instance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from redtask.broker.bpmn import ProcessModel
from redtask.broker.definition_model import DefinitionNotFound
from redtask.broker.engine import Execution, InstanceState
from redtask.broker.engine.activities import activity_type
from redtask.broker.engine.loops import BODY
from redtask.broker.errors import InstanceNotFound
from redtask.broker.executor import Executor
from redtask.broker.instance_reads import IncidentQuery, InstanceQuery, InstanceReads
from redtask.broker.instance_repository import InstanceRepository
from redtask.broker.model import Incident


@dataclass(slots=True)
class ActivityNode:
    id: str
    parent_id: str | None
    activity_id: str
    activity_type: str
    activity_name: str | None
    process_instance_id: str
    process_definition_id: str
    execution_ids: list[str]
    children: list[ActivityNode] = field(default_factory=list)
    incident_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActivityStatistics:
    """``incidents``: open incidents by type; ``failed_jobs``: timers parked without retries."""

    activity_id: str
    instances: int
    failed_jobs: int
    incidents: dict[str, int]


def _in_activity(e: Execution) -> bool:
    """Whether a token is in an activity instance (not the root, not passing through)."""
    return (
        e.parent_id is not None
        and e.element_id is not None
        and (e.activity_instance_id is not None or e.wait is not None)
    )


def _activity_id(e: Execution) -> str:
    """The element's id; a multi-instance body's is ``<element>#multiInstanceBody``."""
    body = f"{e.element_id}{BODY}"
    return body if (e.activity_instance_id or "").startswith(body + ":") else e.element_id or ""


def _node_id(e: Execution) -> str:
    # a token that began waiting before activity instances were recorded has none
    return e.activity_instance_id or f"{e.element_id}:{e.id}"


class ActivityTree:
    def __init__(self, repo: InstanceRepository, reads: InstanceReads, executor: Executor) -> None:
        self.repo = repo
        self.reads = reads
        self.executor = executor

    async def _model(self, definition_id: str) -> ProcessModel | None:
        if self.executor.models is None:
            return None
        try:
            return await self.executor.models(definition_id)
        except DefinitionNotFound:
            return None

    async def tree(self, instance_id: str) -> ActivityNode:
        """The activity tree of a running instance. Raises InstanceNotFound (also ended)."""
        state, _ = await self.repo.read(instance_id)
        if state.status != "active":
            raise InstanceNotFound(instance_id)
        model = await self._model(state.definition_id)
        incidents = await self.reads.query_incidents(IncidentQuery(process_instance_id=instance_id))
        return _build(state, model, incidents)

    async def statistics(self, definition_id: str) -> list[ActivityStatistics]:
        """Per activity of the definition's running instances: the activity instances, failed
        jobs and open incidents (by type), ordered by activity id."""
        running = await self.reads.query_instances(
            InstanceQuery(process_definition_id=definition_id)
        )
        states = await self.repo.states(i.id for i in running)
        instances: Counter[str] = Counter()
        for state in states.values():
            for e in state.executions:  # a multi-instance body is not counted (Camunda)
                if _in_activity(e) and e.element_id is not None and _activity_id(e) == e.element_id:
                    instances[e.element_id] += 1
        incidents: dict[str, Counter[str]] = {}
        for incident in await self.reads.query_incidents(
            IncidentQuery(process_definition_id=definition_id)
        ):
            if incident.activity_id is not None:
                by_type = incidents.setdefault(incident.activity_id, Counter())
                by_type[incident.incident_type] += 1
        return [
            ActivityStatistics(
                activity,
                instances[activity],
                incidents.get(activity, Counter())["failedJob"],
                dict(incidents.get(activity, {})),
            )
            for activity in sorted(set(instances) | set(incidents))
        ]


def _build(
    state: InstanceState, model: ProcessModel | None, incidents: list[Incident]
) -> ActivityNode:
    definition = state.definition_id
    root = ActivityNode(
        id=state.instance_id,
        parent_id=None,
        activity_id=definition,
        activity_type="processDefinition",
        activity_name=None if model is None else model.name,
        process_instance_id=state.instance_id,
        process_definition_id=definition,
        execution_ids=[state.instance_id],
    )
    by_execution = {e.id: e for e in state.executions}
    nodes: dict[str, ActivityNode] = {state.instance_id: root}  # execution id -> its node
    for e in state.executions:  # parents come before their children
        if not _in_activity(e) or e.element_id is None:
            continue
        parent = nodes.get(e.parent_id or "", root)
        if e.parent_id is not None and e.parent_id not in nodes:
            parent = _scope_node(by_execution, nodes, e.parent_id, root)
        activity_id = _activity_id(e)
        element = None if model is None else model.elements.get(activity_id)
        kind = "unknown" if element is None else activity_type(element)
        node = ActivityNode(
            id=_node_id(e),
            parent_id=parent.id,
            activity_id=activity_id,
            activity_type="multiInstanceBody" if activity_id.endswith(BODY) else kind,
            activity_name=None if element is None else element.name,
            process_instance_id=state.instance_id,
            process_definition_id=definition,
            execution_ids=[e.id],
        )
        parent.children.append(node)
        nodes[e.id] = node
    for incident in incidents:
        holder = nodes.get(incident.execution_id or "")
        if holder is not None:
            holder.incident_ids.append(incident.id)
    return root


def _scope_node(
    by_execution: dict[str, Execution],
    nodes: dict[str, ActivityNode],
    execution_id: str,
    root: ActivityNode,
) -> ActivityNode:
    """The node of the nearest enclosing execution that has one."""
    current = by_execution.get(execution_id)
    while current is not None and current.id not in nodes:
        current = by_execution.get(current.parent_id or "")
    return root if current is None else nodes[current.id]
