"""The Camunda 7 ``/job`` resource, as far as redtask has jobs: a timer whose step failed
(an expression error, a mapping over the variables limit, ...) is a failing job with retries
and, once they are used up, a failedJob incident whose ``configuration`` is the job's id.
``PUT /job/{id}/retries`` is how an operator resolves it (Camunda Cockpit's "retry")."""

from __future__ import annotations

from fastapi import APIRouter, Response

from redtask.broker.errors import JobNotFound
from redtask.gateway import errors
from redtask.gateway.deps import StoreDep
from redtask.gateway.dto.external_task import RetriesDto
from redtask.gateway.errors import CamundaError, invalid_request

router = APIRouter(prefix="/job", tags=["Job"])

NO_CONTENT = 204
# the largest retries Camunda's Integer holds
MAX_RETRIES = 2**31 - 1


def unknown_job(exc: JobNotFound) -> CamundaError:
    """Camunda answers 500 (an InvalidRequestException around the engine's message); redtask
    answers 400: the client named a job that does not exist."""
    return CamundaError(400, "InvalidRequestException", f"{exc}.", None)


@router.put("/{id}/retries", status_code=NO_CONTENT)
@errors.answers(JobNotFound, unknown_job)
async def set_job_retries(id: str, dto: RetriesDto, store: StoreDep) -> Response:
    if dto.retries is None or not 0 <= dto.retries <= MAX_RETRIES:
        given = "null" if dto.retries is None else dto.retries
        raise invalid_request(
            "The number of job retries must be a non-negative Integer, "
            f"but '{given}' has been provided."
        )
    await store.set_job_retries(id, dto.retries)
    return Response(status_code=NO_CONTENT)
