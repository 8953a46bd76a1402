"""The dashboard's task pages: topics (live), tasks and a task's detail, incidents (with retry),
workers; ``install`` adds them, the process pages (``gateway.ui.processes``), the assets and the
index page at ``/`` to an app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from redtask.broker.errors import InstanceNotFound, JobNotFound, TaskNotFound
from redtask.broker.metrics import BrokerStateReads
from redtask.broker.model import TaskState
from redtask.broker.query import TaskQuery
from redtask.gateway.deps import StoreDep
from redtask.gateway.ui import csrf, processes
from redtask.gateway.ui.views import UI, not_found, paginate, render, templates

RATE_MINUTES = 5
STATES = {
    "available": TaskState.AVAILABLE,
    "locked": TaskState.LOCKED,
    "retrying": TaskState.RETRY,
    "incident": TaskState.INCIDENT,
}
MAX_RETRIES = 2**31 - 1  # Camunda's retries are a Java int

router = APIRouter(prefix=UI, include_in_schema=False)


@router.get("")
async def dashboard() -> Response:
    return RedirectResponse(f"{UI}/topics", status_code=307)


async def topic_rows(store: StoreDep) -> dict[str, object]:
    """The topics page's data: counts from the indexes, completions from the minute counters."""
    state = await BrokerStateReads(store.db, store.keys, store.clock).read()
    completed = await store.completions(RATE_MINUTES)
    rows: dict[str, dict[str, object]] = {
        t.topic_name: {
            "topicName": t.topic_name,
            "available": t.available,
            "locked": t.locked,
            "retrying": t.retrying,
            "incidents": t.incidents,
            "oldestAgeMs": None
            if t.oldest_available_ms is None
            else max(state.read_at_ms - t.oldest_available_ms, 0),
        }
        for t in state.topics
    }
    for name in completed:
        rows.setdefault(
            name,
            {
                "topicName": name,
                "available": 0,
                "locked": 0,
                "retrying": 0,
                "incidents": 0,
                "oldestAgeMs": None,
            },
        )
    for name, row in rows.items():
        per_minute = completed.get(name, [0] * RATE_MINUTES)
        row["completedPerMinute"] = per_minute
        row["completedLastMinutes"] = sum(per_minute)
    return {
        "readAt": state.read_at_ms,
        "rateMinutes": RATE_MINUTES,
        "runningInstances": state.running_instances,
        "openIncidents": state.open_incidents,
        "topics": [rows[name] for name in sorted(rows)],
    }


@router.get("/api/topics")
async def topics_json(store: StoreDep) -> JSONResponse:
    return JSONResponse(await topic_rows(store))


@router.get("/topics")
async def topics_page(request: Request, store: StoreDep) -> HTMLResponse:
    return render(request, "topics.html", data=await topic_rows(store))


@router.get("/tasks")
async def tasks_page(request: Request, store: StoreDep) -> HTMLResponse:
    params = request.query_params
    filters = {
        name: params.get(name, "").strip()
        for name in ("topic", "state", "worker", "businessKey", "instance")
    }
    query = TaskQuery(
        topic_name=filters["topic"] or None,
        worker_id=filters["worker"] or None,
        process_instance_id=filters["instance"] or None,
    )
    tasks = await store.query(query, [("createTime", "asc"), ("id", "asc")])
    state = STATES.get(filters["state"])
    if state is not None:
        tasks = [t for t in tasks if t.state is state]
    if filters["businessKey"]:
        tasks = [t for t in tasks if t.business_key == filters["businessKey"]]
    shown, page, pages = paginate(request, tasks)
    return render(
        request,
        "tasks.html",
        tasks=shown,
        total=len(tasks),
        filters=filters,
        states=list(STATES),
        page_number=page,
        pages=pages,
        query={k: v for k, v in filters.items() if v},
    )


@router.get("/tasks/{task_id:path}")  # a caller-chosen id may hold a "/"
async def task_page(task_id: str, request: Request, store: StoreDep) -> HTMLResponse:
    try:
        task = await store.get(task_id)
    except TaskNotFound:
        return not_found(request, f"External task {task_id}")
    instance_variables = None
    if task.process_instance_id:
        try:
            state, _ = await store.instance_state(task.process_instance_id)
            instance_variables = dict(state.variables)
        except InstanceNotFound:
            instance_variables = {}
    return render(request, "task.html", task=task, instance_variables=instance_variables)


@router.get("/incidents")
async def incidents_page(request: Request, store: StoreDep) -> HTMLResponse:
    incidents = await store.incidents()
    shown, page, pages = paginate(request, incidents)
    ids = tuple(i.configuration for i in shown)
    tasks = {t.id: t for t in await store.query(TaskQuery(external_task_id_in=ids))} if ids else {}
    retried = request.query_params.get("retried", "")
    return render(
        request,
        "incidents.html",
        incidents=shown,
        tasks=tasks,
        total=len(incidents),
        page_number=page,
        pages=pages,
        query={},
        retried=int(retried)
        if retried.isascii() and retried.isdigit() and len(retried) < 7
        else None,
    )


@router.post("/incidents/retry")
async def retry_incidents(request: Request, store: StoreDep) -> Response:
    """Set the retries of the chosen tasks (the checked ``task`` boxes, or the one ``only``
    button pressed) as ``PUT /external-task/retries`` does, and of the chosen timer jobs as
    ``PUT /job/{id}/retries`` does."""
    refused = csrf.refusal(request)
    if refused is not None:
        return refused
    form = await request.form()
    only = form.get("only")
    ids = [str(only)] if only else [str(v) for v in form.getlist("task")]
    text = str(form.get("retries", "1")).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_RETRIES:
        return render(request, "refused.html", 400, message="Retries must be a number ≥ 0.")
    if not ids:
        return render(request, "refused.html", 400, message="No incident was chosen.")
    # a failedJob incident names a timer job, retried as PUT /job/{id}/retries does
    jobs = {i.configuration for i in await store.incidents() if i.incident_type == "failedJob"}
    chosen = set(ids)
    try:
        tasks = [i for i in ids if i not in jobs]
        if tasks:
            await store.set_retries_many(tasks, int(text))
        for job_id in sorted(chosen & jobs):
            await store.set_job_retries(job_id, int(text))
    except TaskNotFound as exc:
        message = f"No external task with id {exc.task_id} (already solved?)."
        return render(request, "refused.html", 404, message=message)
    except JobNotFound as exc:
        message = f"No failed timer job with id {exc.job_id} (already solved?)."
        return render(request, "refused.html", 404, message=message)
    return RedirectResponse(f"{UI}/incidents?retried={len(set(ids))}", status_code=303)


@router.get("/workers")
async def workers_page(request: Request, store: StoreDep) -> HTMLResponse:
    workers, more = await store.workers()
    return render(request, "workers.html", workers=workers, more=more)


ASSETS = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """The dashboard's pages and assets under ``/redtask/ui``, and a page at ``/`` linking it."""
    app.mount(f"{UI}/static", StaticFiles(directory=ASSETS), name="dashboard-assets")
    app.include_router(router)
    app.include_router(processes.router)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(templates.get_template("index.html").render(ui=UI))
