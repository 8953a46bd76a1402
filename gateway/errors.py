"""The one place that turns broker errors into Camunda's ``{type, message, code}`` bodies.

Where Camunda answers 500 for a client's bad input (missing workerId, negative retries, ...),
redtask answers 400 with the same type and message (see the README's compatibility table).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from redtask.broker.connection import UNREACHABLE_ERRORS
from redtask.broker.correlation import InvalidCorrelation
from redtask.broker.definition_model import (
    DefinitionNotFound,
    DeploymentNotFound,
    DeploymentParseError,
)
from redtask.broker.engine.errors import InvalidTopic
from redtask.broker.errors import (
    BrokerError,
    InvalidArgument,
    InvalidVariable,
    LockExpired,
    StaleLock,
    TaskNotFound,
    WorkerMismatch,
)
from redtask.broker.instances import InstanceNotFound, MessageNotCorrelated
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

E = TypeVar("E", bound=Exception)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Answer = Callable[[E], CamundaError]


def task_not_found(exc: TaskNotFound) -> CamundaError:
    return CamundaError(404, "RestException", str(exc), 0)


def worker_mismatch(exc: WorkerMismatch) -> CamundaError:
    current = exc.current_worker if exc.current_worker is not None else "null"
    message = _MISMATCH[exc.operation].format(id=exc.task_id, w=exc.worker_id, cur=current)
    return CamundaError(400, "RestException", message, 0)


def lock_refused(exc: LockExpired | StaleLock) -> CamundaError:
    return CamundaError(400, "RestException", str(exc), 0)


def invalid_variable(exc: InvalidVariable) -> CamundaError:
    return CamundaError(400, exc.kind, str(exc), None)


def deployment_not_found(exc: DeploymentNotFound) -> CamundaError:
    # Camunda's wording differs between reading and deleting a deployment
    verb = "do not exist" if exc.deleting else "does not exist"
    message = f"Deployment with id '{exc.deployment_id}' {verb}"
    return CamundaError(404, "InvalidRequestException", message, None)


def definition_not_found(exc: DefinitionNotFound) -> CamundaError:
    # an InvalidRequestException caused by the engine's exception: its code (0)
    return CamundaError(404, "InvalidRequestException", str(exc), 0)


def invalid_argument(
    exc: InvalidArgument, default_type: str = "ProcessEngineException"
) -> CamundaError:
    """An engine validation: Camunda's 500 answered 400, with its type and message (code 0).
    Where Camunda's REST layer validates the input itself, ``default_type`` is its
    InvalidRequestException, which has no engine cause: code null."""
    message = str(exc)
    kind = _VALIDATION_TYPES.get(message, default_type)
    return CamundaError(400, kind, message, None if kind == "InvalidRequestException" else 0)


def unknown_task_by_rest_layer(exc: TaskNotFound) -> CamundaError:
    """``GET /external-task/{id}``: the REST layer's own 404, without an engine cause (code
    null)."""
    return CamundaError(404, "RestException", str(exc), None)


def no_error_details(exc: TaskNotFound) -> CamundaError:
    """``GET /external-task/{id}/errorDetails`` of an unknown task: Camunda's 500
    NullValueException, answered 400."""
    message = f"No external task found with id {exc.task_id}: externalTask is null"
    return CamundaError(400, "NullValueException", message, 0)


def retries_of_unknown_task(exc: TaskNotFound) -> CamundaError:
    """``PUT /external-task/retries`` and ``POST /external-task/retries-async`` naming a task
    that does not exist."""
    return invalid_request(
        f"Cannot find external task with id {exc.task_id}: externalTask is null", 404
    )


def instantiation_refused(definition_id: str, exc: BrokerError) -> CamundaError:
    """A start refused by the engine (ProcessDefinitionResourceImpl#startProcessInstance wraps
    it): a bad variable is the client's (400), and so is any other refused input (Camunda's
    500 answered 400, e.g. a fork past the engine's step limit); anything else the engine's
    (500)."""
    message = f"Cannot instantiate process definition {definition_id}: {exc}"
    if isinstance(exc, InvalidVariable):
        return CamundaError(400, "InvalidRequestException", message, None)
    # InvalidTopic: a topic computed from the client's variables
    if isinstance(exc, InvalidArgument | InvalidTopic):
        return CamundaError(400, "RestException", message, 0)
    return CamundaError(500, "RestException", message, 0)


def unknown_definition_to_start(definition_id: str) -> CamundaError:
    """``POST /process-definition/{id}/start`` of an unknown id: Camunda's 500, answered 400
    (a client's mistake)."""
    message = (
        f"Cannot instantiate process definition {definition_id}: no deployed process "
        f"definition found with id '{definition_id}': processDefinition is null"
    )
    return CamundaError(400, "RestException", message, 0)


def unknown_instance(exc: InstanceNotFound) -> CamundaError:
    """``GET /process-instance/{id}`` of an unknown or ended instance."""
    return CamundaError(404, "InvalidRequestException", str(exc), None)


def correlation_refused(exc: InvalidCorrelation) -> CamundaError:
    # an engine exception: code 0 (a 500 in Camunda for some)
    return CamundaError(400, exc.kind, str(exc), 0)


def message_not_correlated(exc: MessageNotCorrelated) -> CamundaError:
    # a RestException around the engine's: Java's toString() of it
    message = f"org.camunda.bpm.engine.MismatchingMessageCorrelationException: {exc}"
    return CamundaError(400, "RestException", message, 0)


def undeliverable_variable(exc: InvalidVariable) -> CamundaError:
    """``POST /message`` with a bad variable: Camunda wraps the REST layer's RestException."""
    return CamundaError(400, "InvalidRequestException", f"Cannot deliver message: {exc}", None)


def no_instance_to_delete(instance_id: str) -> CamundaError:
    """``DELETE /process-instance/{id}`` of an unknown instance (unless failIfNotExists=false)."""
    message = f"No process instance found for id '{instance_id}': processInstance is null"
    return CamundaError(404, "InvalidRequestException", message, 0)


def execution_missing(instance_id: str, prefix: str = "") -> CamundaError:
    """The variables of an unknown or ended instance: Camunda's 500, answered 400 (a client's
    bad input); ``prefix``: how the variable resource method wraps it."""
    message = f"execution {instance_id} doesn't exist: execution is null"
    if not prefix:
        return CamundaError(400, "NullValueException", message, 0)
    return CamundaError(400, "RestException", f"{prefix}: {message}", 0)


def execution_not_signalled(execution_id: str, exc: Exception) -> CamundaError:
    """``POST /execution/{id}/signal`` of an unknown execution or of one that waits in no
    receive task or message catch event: Camunda's 500 RestException, answered 400."""
    return CamundaError(400, "RestException", f"Cannot signal execution {execution_id}: {exc}", 0)


def signal_not_delivered(exc: Exception, missing: bool) -> CamundaError:
    """``POST /signal`` to an execution: unknown (``missing``, Camunda's 500
    NullValueException) or without a signal subscription (500 RestException); both 400."""
    return CamundaError(400, "NullValueException" if missing else "RestException", str(exc), 0)


def invalid_topic(exc: InvalidTopic) -> CamundaError:
    """A task's topic expression computed a topic no worker can fetch, from the variables the
    request set: Camunda's 500 of the engine, answered 400."""
    return CamundaError(400, "ProcessEngineException", str(exc), 0)


def broker_error(exc: BrokerError) -> CamundaError:
    return CamundaError(500, "ProcessEngineException", str(exc), 0)


# How each broker error is answered, by class (the most specific class found wins).
ANSWERS: dict[type[Exception], Answer[Any]] = {
    TaskNotFound: task_not_found,
    WorkerMismatch: worker_mismatch,
    LockExpired: lock_refused,
    StaleLock: lock_refused,
    InvalidVariable: invalid_variable,
    DeploymentParseError: ParseError,
    DeploymentNotFound: deployment_not_found,
    DefinitionNotFound: definition_not_found,
    InvalidCorrelation: correlation_refused,
    MessageNotCorrelated: message_not_correlated,
    InvalidArgument: invalid_argument,
    InvalidTopic: invalid_topic,
    BrokerError: broker_error,
}

# route endpoint -> {exception class: its answer under that route}
_ROUTE_ANSWERS: dict[Callable[..., Any], dict[type[Exception], Answer[Any]]] = {}


def answers(kind: type[E], answer: Answer[E]) -> Callable[[Endpoint], Endpoint]:
    """Declare that under the decorated route ``kind`` (and its subclasses that have no
    answer of their own) is answered by ``answer``: for a REST method whose Camunda wording
    or type differs from the class's."""

    def declare(endpoint: Endpoint) -> Endpoint:
        _ROUTE_ANSWERS.setdefault(endpoint, {})[kind] = answer
        return endpoint

    return declare


def rest_layer_validates(endpoint: Endpoint) -> Endpoint:
    """Declare that Camunda's REST layer validates the decorated route's input itself (the
    queries, publish): an InvalidArgument raised under it is an InvalidRequestException, which
    has no engine cause (code null), not the engine's ProcessEngineException."""
    return answers(InvalidArgument, _refused_by_rest_layer)(endpoint)


def _refused_by_rest_layer(exc: InvalidArgument) -> CamundaError:
    return invalid_argument(exc, "InvalidRequestException")


async def _broker_error(request: Request, exc: Exception) -> Response:
    declared = _ROUTE_ANSWERS.get(request.scope.get("endpoint"), {})  # type: ignore[arg-type]
    for kind in type(exc).__mro__:
        answer = declared.get(kind) or ANSWERS.get(kind)
        if answer is not None:
            return answer(exc).response()
    raise exc  # not a broker error: never registered for one


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
        request.app.state.metrics.redis_errors.inc()
        error = CamundaError(503, "ProcessEngineException", f"Redis unavailable: {exc}", 0)
        return error.response()

    for kind in UNREACHABLE_ERRORS:
        app.add_exception_handler(kind, backend_error)

    for kind in ANSWERS:
        app.add_exception_handler(kind, _broker_error)
