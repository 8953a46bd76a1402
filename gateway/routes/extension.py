"""redtask's own API (not Camunda's): publish standalone tasks and read topic statistics.

Lives under ``/redtask`` so the Camunda surface stays exactly Camunda's.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from redtask.broker.model import NewTask
from redtask.gateway import errors
from redtask.gateway.deps import StoreDep
from redtask.gateway.dto.extension import PublishedDto, PublishTaskDto
from redtask.gateway.responses import JSONBody

router = APIRouter(prefix="/redtask", tags=["redtask extension"])


@router.post("/topics/{topic}/tasks", response_model=PublishedDto)
@errors.rest_layer_validates
async def publish(
    topic: str, tasks: PublishTaskDto | list[PublishTaskDto], store: StoreDep
) -> Response:
    """Publish one task (object body) or several (array body) on a topic; fetchable at once."""
    items = tasks if isinstance(tasks, list) else [tasks]
    ids = await store.publish_many(
        [
            NewTask(topic, t.variables, t.priority, t.retries, t.business_key, t.tenant_id)
            for t in items
        ]
    )
    return JSONBody({"ids": ids}, status_code=201)


@router.get("/topics")
async def topic_statistics(store: StoreDep) -> Response:
    """Per topic: tasks available, locked, waiting out a retry timeout, and with incidents."""
    stats = await store.topic_stats()
    return JSONBody(
        [
            {
                "topicName": s.topic_name,
                "available": s.available,
                "locked": s.locked,
                "retrying": s.retrying,
                "incidents": s.incidents,
            }
            for s in stats
        ]
    )
