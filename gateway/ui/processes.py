"""The dashboard's process pages: deployed definitions and their versions; a definition's
diagram (BPMN DI drawn as SVG) with the running activity instances and open incidents of each
activity as badges, and its instances; an instance with its variables, tasks, incidents and a
cancel action."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from redtask.broker.bpmn import BpmnParseError
from redtask.broker.bpmn.diagram import Diagram, read_diagram
from redtask.broker.definition_model import DefinitionNotFound, ProcessDefinition
from redtask.broker.engine import InstanceState
from redtask.broker.errors import InstanceNotFound
from redtask.broker.history import HistoryQuery
from redtask.broker.instance_reads import IncidentQuery
from redtask.broker.query import TaskQuery
from redtask.broker.store import Store
from redtask.gateway.deps import StoreDep
from redtask.gateway.ui import csrf
from redtask.gateway.ui.views import UI, not_found, paginate, render

BADGE_INSTANCES = 5_000
"""The most running instances whose states are read for a diagram's badges."""

router = APIRouter(prefix=UI, include_in_schema=False)


def activity_counts(states: Iterable[InstanceState]) -> Counter[str]:
    """Running activity instances per activity: every token of the instances' executions."""
    return Counter(
        e.element_id for state in states for e in state.executions if e.element_id is not None
    )


async def diagram_of(store: Store, definition: ProcessDefinition) -> Diagram:
    try:
        xml = await store.definitions.xml(definition.id)
        return read_diagram(xml, definition.key, definition.resource)
    except (BpmnParseError, DefinitionNotFound):
        return Diagram((), (), 0.0, 0.0)


@router.get("/processes")
async def processes_page(request: Request, store: StoreDep) -> HTMLResponse:
    definitions = await store.definitions.definitions()
    running = Counter(i.definition_id for i in await store.query_instances())
    incidents = Counter(i.process_definition_id for i in await store.incidents())
    by_key: dict[str, list[ProcessDefinition]] = {}
    for d in sorted(definitions, key=lambda d: (d.key, d.tenant_id or "", -d.version)):
        by_key.setdefault(d.key, []).append(d)
    return render(request, "processes.html", by_key=by_key, running=running, incidents=incidents)


@router.get("/processes/{definition_id}")
async def definition_page(definition_id: str, request: Request, store: StoreDep) -> HTMLResponse:
    try:
        definition = await store.definitions.definition(definition_id)
    except DefinitionNotFound:
        return not_found(request, f"Process definition {definition_id}")
    instances = await store.query_history(
        HistoryQuery(process_definition_id=definition_id),
        [("startTime", "desc"), ("instanceId", "asc")],
    )
    running_ids = [i.id for i in instances if i.end is None]
    states = await store.repository.states(running_ids[:BADGE_INSTANCES])
    incidents = await store.query_incidents(IncidentQuery(process_definition_id=definition_id))
    shown, page, pages = paginate(request, instances)
    return render(
        request,
        "definition.html",
        definition=definition,
        diagram=await diagram_of(store, definition),
        counts=activity_counts(states.values()),
        incident_counts=Counter(i.activity_id for i in incidents),
        capped=len(running_ids) > BADGE_INSTANCES,
        instances=shown,
        running=len(running_ids),
        total=len(instances),
        page_number=page,
        pages=pages,
        query={},
    )


@router.get("/instances/{instance_id}")
async def instance_page(instance_id: str, request: Request, store: StoreDep) -> HTMLResponse:
    record = await store.get_historic_instance(instance_id)
    if record is None:
        return not_found(request, f"Process instance {instance_id}")
    try:
        state: InstanceState | None = (await store.instance_state(instance_id))[0]
    except InstanceNotFound:
        state = None
    task_ids = tuple(
        e.wait.ref for e in (state.executions if state else ()) if e.wait and e.wait.kind == "task"
    )
    tasks = await store.query(TaskQuery(external_task_id_in=task_ids)) if task_ids else []
    incidents = await store.query_incidents(IncidentQuery(process_instance_id=instance_id))
    try:
        definition: ProcessDefinition | None = await store.definitions.definition(
            record.definition_id
        )
    except DefinitionNotFound:
        definition = None
    diagram = await diagram_of(store, definition) if definition else Diagram((), (), 0.0, 0.0)
    return render(
        request,
        "instance.html",
        record=record,
        state=state,
        tasks=tasks,
        incidents=incidents,
        definition=definition,
        diagram=diagram,
        counts=activity_counts([state] if state and record.end is None else []),
        incident_counts=Counter(i.activity_id for i in incidents),
    )


@router.post("/instances/{instance_id}/cancel")
async def cancel_instance(instance_id: str, request: Request, store: StoreDep) -> Response:
    """Cancel a running instance, as ``DELETE /process-instance/{id}`` does."""
    refused = csrf.refusal(request)
    if refused is not None:
        return refused
    try:
        await store.cancel_instance(instance_id)
    except InstanceNotFound:
        message = f"Process instance {instance_id} is not running."
        return render(request, "refused.html", 404, message=message)
    return RedirectResponse(f"{UI}/instances/{instance_id}", status_code=303)
