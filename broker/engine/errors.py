"""The engine's exception tree: every error names the element, task, timer or message involved."""

from __future__ import annotations

from redtask.broker.errors import BrokerError, InvalidArgument


class EngineError(BrokerError):
    """Base class: the step cannot be computed; the instance state is left unchanged."""


class StepTooLarge(EngineError, InvalidArgument):
    """One step would enter more elements than the limit (a cycle without a wait state, or a
    fork wider than that): refused as a client's bad input, nothing is stored."""

    def __init__(self, limit: int, element_id: str) -> None:
        super().__init__(f"More than {limit} elements entered in one step at '{element_id}'")
        self.element_id = element_id


class VariablesTooLarge(EngineError, InvalidArgument):
    """The input/output mappings of one step computed more bytes than the variables limit:
    refused as a client's bad input (the mappings repeat what the client sent), nothing stored."""

    def __init__(self, element_id: str, name: str, size: int, limit: int) -> None:
        super().__init__(
            f"Cannot evaluate the parameter '{name}' of '{element_id}': the mappings of one step "
            f"computed {size} bytes, more than the limit of {limit} (REDTASK_MAX_VARIABLES_BYTES)"
        )
        self.element_id = element_id


class MultiInstanceRefused(EngineError, InvalidArgument):
    """A multi-instance activity cannot start or go on: its cardinality or collection is not
    a count (negative, not a number, not a list, past the limit) or its completion condition
    not a boolean. Refused as a client's bad input, nothing is stored (Camunda's messages)."""


class InstanceEnded(EngineError):
    """The instance is completed or terminated: no event can reach it any more."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(f"Process instance {instance_id} is {status}")
        self.instance_id = instance_id
        self.status = status


class UnknownTask(EngineError):
    """No execution of the instance waits for this external task."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"External task with id {task_id} does not exist")
        self.task_id = task_id


class UnknownTimer(EngineError):
    """The instance has no timer with this id (it fired or was cancelled already)."""

    def __init__(self, timer_id: str) -> None:
        super().__init__(f"Timer with id {timer_id} does not exist")
        self.timer_id = timer_id


class NoOutgoingFlow(EngineError):
    """No outgoing flow of a gateway or activity could be selected (Camunda's message)."""

    def __init__(self, element_id: str) -> None:
        super().__init__(
            f"No outgoing sequence flow for the element with id '{element_id}' could be "
            "selected for continuing the process"
        )
        self.element_id = element_id


class NoMatch(EngineError):
    """A message matches no waiting execution, or several (Camunda's
    MismatchingMessageCorrelationException)."""

    def __init__(self, message_name: str, matches: int) -> None:
        detail = (
            "No process instance matches the correlation"
            if matches == 0
            else f"{matches} executions match the correlation"
        )
        super().__init__(f"Cannot correlate message '{message_name}': {detail}")
        self.message_name = message_name
        self.matches = matches


class EvaluationError(EngineError):
    """An expression or timer of an element could not be evaluated; ``element_id`` names it."""

    def __init__(self, element_id: str, what: str, cause: Exception) -> None:
        super().__init__(f"Cannot evaluate {what} of '{element_id}': {cause}")
        self.element_id = element_id


class TimerOutOfRange(EvaluationError, InvalidArgument):
    """A timer would fall outside the dates redtask stores (a duration or date computed from
    the client's variables, or deployed): refused as bad input, nothing is stored."""


class InvalidTopic(EvaluationError):
    """The topic an external task's expression computed is not one a worker can fetch (empty,
    too long, control characters): refused like a published task's."""


class InvalidState(EngineError):
    """A stored instance state is malformed (it cannot be read back)."""


class NotSignallable(EngineError):
    """A signal names an execution that waits in no receive task or message catch event (the
    only wait states redtask signals)."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(
            f"execution {execution_id} does not wait in a receive task or message catch event"
        )
        self.execution_id = execution_id


class UnknownCall(EngineError):
    """No execution of the instance waits for this called instance."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"No call activity waits for process instance {instance_id}")
        self.instance_id = instance_id


class CallTooDeep(EngineError, InvalidArgument):
    """A call activity would nest instances deeper than the limit (a process calling itself
    without end): refused, nothing is stored."""

    def __init__(self, element_id: str, limit: int) -> None:
        super().__init__(
            f"Call activity '{element_id}' cannot start a process instance: call activities "
            f"may nest process instances at most {limit} levels deep"
        )
        self.element_id = element_id


class SeveralDefinitions(EngineError, InvalidArgument):
    """A call activity's version tag names several versions of the called process."""


class CalledElementNotFound(EngineError, InvalidArgument):
    """No definition matches what a call activity calls (Camunda's ProcessDefinitionCache
    message, from its ensureNotNull)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: processDefinition is null")
