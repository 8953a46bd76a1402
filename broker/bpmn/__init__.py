"""The BPMN layer: a hardened parser of Camunda-dialect BPMN 2.0 into immutable process models,
a safe evaluator for ``${...}`` expressions and ISO-8601 timers. Pure Python: no Redis, no HTTP.

Typical use by the engine::

    [model] = parse_bpmn(data, "order.bpmn")      # raises BpmnParseError with every problem
    for flow in model.outgoing(model.start_event().id):
        if flow.condition is None or flow.condition.evaluate_condition(variables):
            ...
"""

from redtask.broker.bpmn.expressions import Expression, ExpressionError, parse_value
from redtask.broker.bpmn.model import (
    BoundaryEvent,
    BpmnParseError,
    CallActivity,
    CallParameter,
    Element,
    EndEvent,
    ErrorDefinition,
    ErrorEventDefinition,
    EventBasedGateway,
    EventStartEvent,
    ExclusiveGateway,
    ExternalTask,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    IoParameter,
    LinkCatchEvent,
    LoopCharacteristics,
    MessageDefinition,
    NoInitialStartEvent,
    ParallelGateway,
    Problem,
    ReceiveTask,
    SequenceFlow,
    StartEvent,
    SubProcess,
)
from redtask.broker.bpmn.parser import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_bpmn
from redtask.broker.bpmn.process_model import ProcessModel
from redtask.broker.bpmn.timers import (
    IsoDuration,
    TimerDefinition,
    TimerError,
    due_ms,
    parse_date,
    parse_duration,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "BoundaryEvent",
    "BpmnParseError",
    "CallActivity",
    "CallParameter",
    "Element",
    "EndEvent",
    "ErrorDefinition",
    "ErrorEventDefinition",
    "EventBasedGateway",
    "EventStartEvent",
    "ExclusiveGateway",
    "Expression",
    "ExpressionError",
    "ExternalTask",
    "FlowNode",
    "InclusiveGateway",
    "IntermediateCatchEvent",
    "IntermediateThrowEvent",
    "IoParameter",
    "IsoDuration",
    "LinkCatchEvent",
    "LoopCharacteristics",
    "MessageDefinition",
    "NoInitialStartEvent",
    "ParallelGateway",
    "Problem",
    "ProcessModel",
    "ReceiveTask",
    "SequenceFlow",
    "StartEvent",
    "SubProcess",
    "TimerDefinition",
    "TimerError",
    "due_ms",
    "parse_bpmn",
    "parse_date",
    "parse_duration",
    "parse_value",
]
