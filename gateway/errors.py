"""The one place that turns broker errors into Camunda's ``{type, message, code}`` bodies.

Where Camunda answers 500 for a client's bad input (missing workerId, negative retries, ...),
redtask answers 400 with the same type and message (see the README's compatibility table).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from redtask.broker.connection import UNREACHABLE_ERRORS
from redtask.broker.definition_model import (
    DefinitionNotFound,
    DeploymentNotFound,
    DeploymentParseError,
)
from redtask.broker.errors import (
    BrokerError,
    InvalidArgument,
    InvalidVariable,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.gateway.responses import JSONBody

log = logging.getLogger(__name__)


class CamundaError(Exception):
    """An error answered with Camunda's ExceptionDto body."""

    def __init__(self, status: int, type_: str, message: str | None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code

    def response(self) -> Response:
        body = {"type": self.type, "message": self.message, "code": self.code}
        return JSONBody(body, status_code=self.status)


class ParseError(CamundaError):
    """Camunda's ParseException (invalid BPMN in a deployment): 400 with ``details``, the errors
    of each resource. A problem carries both the field names of Camunda <= 7.12 and of the
    OpenAPI example (``mainBpmnElementId``, ``bpmnElementIds``) and those of 7.13+
    (``mainElementId``, and ``elementIds`` spelt as Camunda's ProblemDto getter spells it: with
    a Cyrillic first letter, U+0435)."""

    def __init__(self, exc: DeploymentParseError) -> None:
        super().__init__(400, "ParseException", str(exc), 0)
        self.details = {
            resource: {
                "errors": [
                    {
                        "message": p.message,
                        "line": p.line,
                        "column": p.column,
                        "mainBpmnElementId": p.element_id,
                        "bpmnElementIds": list(p.element_ids),
                        "mainElementId": p.element_id,
                        "\u0435lementIds": list(p.element_ids),
                    }
                    for p in problems
                ],
                "warnings": [],
            }
            for resource, problems in exc.problems.items()
        }

    def response(self) -> Response:
        body = {"type": self.type, "message": self.message, "code": self.code}
        return JSONBody({**body, "details": self.details}, status_code=self.status)


def invalid_request(message: str, status: int = 400) -> CamundaError:
    return CamundaError(status, "InvalidRequestException", message, None)


# How Camunda words a worker mismatch, per operation (ExternalTaskEntity / *Cmd).
_MISMATCH = {
    "complete": "External Task {id} cannot be completed by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "failure": "Failure of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "bpmnError": "Bpmn error of External Task {id} cannot be reported by worker '{w}'. "
    "It is locked by worker '{cur}'.",
    "extendLock": "The lock of the External Task {id} cannot be extended by worker '{w}''. "
    "It is locked by worker '{cur}'.",
    "lock": "External Task {id} cannot be locked by worker '{w}'. It is locked by worker '{cur}'.",
}

# Engine validations that Camunda answers with 500 and these types; redtask answers 400.
_VALIDATION_TYPES = {
    "workerId is null": "NullValueException",
    "errorCode is null": "NullValueException",
    "topicName is null": "NullValueException",
}


@contextmanager
def camunda_errors(
    operation: str, *, validation_type: str = "ProcessEngineException"
) -> Iterator[None]:
    """Translate broker errors raised inside the block for the given REST operation."""
    try:
        yield
    except TaskNotFound as exc:
        raise CamundaError(404, "RestException", str(exc), 0) from exc
    except WorkerMismatch as exc:
        template = _MISMATCH[exc.operation]
        current = exc.current_worker if exc.current_worker is not None else "null"
        message = template.format(id=exc.task_id, w=exc.worker_id, cur=current)
        raise CamundaError(400, "RestException", message, 0) from exc
    except (LockExpired, StaleLock) as exc:
        raise CamundaError(400, "RestException", str(exc), 0) from exc
    except InvalidVariable as exc:
        raise CamundaError(400, exc.kind, str(exc), None) from exc
    except DeploymentParseError as exc:
        raise ParseError(exc) from exc
    except DeploymentNotFound as exc:
        raise CamundaError(404, "InvalidRequestException", str(exc), None) from exc
    except DefinitionNotFound as exc:
        # an InvalidRequestException caused by the engine's exception: its code (0)
        raise CamundaError(404, "InvalidRequestException", str(exc), 0) from exc
    except InvalidArgument as exc:
        message = str(exc)
        kind = _VALIDATION_TYPES.get(message, validation_type)
        # the REST layer's own InvalidRequestException has no engine cause: code null
        code = None if kind == "InvalidRequestException" else 0
        raise CamundaError(400, kind, message, code) from exc


def install(app: FastAPI) -> None:
    """Register the handlers that render every error as an ExceptionDto."""

    @app.exception_handler(CamundaError)
    async def camunda_error(request: Request, exc: CamundaError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # Jackson's JsonParseException / JsonMappingException: 400 with an empty message
        return invalid_request("").response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        names = {404: "NotFoundException", 405: "NotAllowedException", 415: "NotSupportedException"}
        phrase = {404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type"}
        if exc.status_code in names:
            message = f"HTTP {exc.status_code} {phrase[exc.status_code]}"
            body: dict[str, Any] = {
                "type": names[exc.status_code],
                "message": message,
                "code": None,
            }
        else:
            body = {"type": "RestException", "message": str(exc.detail), "code": None}
        return JSONBody(body, status_code=exc.status_code, headers=exc.headers)

    async def backend_error(request: Request, exc: Exception) -> Response:
        # Redis is down or restarting: a clear, retryable answer instead of a traceback
        log.warning("%s %s: Redis unavailable (%s)", request.method, request.url.path, exc)
        error = CamundaError(503, "ProcessEngineException", f"Redis unavailable: {exc}", 0)
        return error.response()

    for kind in UNREACHABLE_ERRORS:
        app.add_exception_handler(kind, backend_error)

    @app.exception_handler(BrokerError)
    async def broker_error(request: Request, exc: BrokerError) -> Response:
        return CamundaError(500, "ProcessEngineException", str(exc), 0).response()
