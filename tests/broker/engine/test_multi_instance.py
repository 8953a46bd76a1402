"""Multi-instance activities in the pure engine: the body and its instances, loop variables,
completion conditions, errors caught on the body and refused inputs (Camunda's messages)."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from redtask.broker.bpmn import Expression, parse_bpmn
from redtask.broker.engine import CounterIds, complete_task, loops, start
from redtask.broker.engine.errors import MultiInstanceRefused, StepTooLarge
from redtask.broker.engine.loops import MAX_INSTANCES
from redtask.broker.errors import InvalidArgument
from tests.broker.engine.driver import HOUR, NOW, Instance, as_json
from tests.broker.engine.loop_models import loop, mi_model


def started(pi: Instance) -> list[tuple[str, str, str]]:
    """(activity id, type, parent activity instance) of what the last step started."""
    return [(a.activity_id, a.activity_type, a.parent_id) for a in pi.effects.activities]


def locals_of(pi: Instance, execution_id: str) -> dict[str, Any]:
    return {k: v["value"] for k, v in pi.state.execution(execution_id).variables.items()}


def task_ids(pi: Instance) -> list[str]:
    return [t.id for t in pi.effects.tasks_created]


def test_parallel_task_starts_every_instance_under_its_body() -> None:
    pi = Instance(mi_model(loop(cardinality="${n}")), {"n": 3})
    assert pi.path == ["start", "work"]
    body = pi.state.executions[1]
    assert body.activity_instance_id == "work#multiInstanceBody:2"
    assert locals_of(pi, body.id) == {
        "nrOfInstances": 3,
        "nrOfCompletedInstances": 0,
        "nrOfActiveInstances": 3,
    }
    instances = pi.state.executions[2:]
    assert [locals_of(pi, e.id) for e in instances] == [{"loopCounter": i} for i in range(3)]
    assert {e.parent_id for e in instances} == {body.id}
    assert (
        started(pi)
        == [
            ("start", "startEvent", "pi"),
            ("work#multiInstanceBody", "multiInstanceBody", "pi"),
        ]
        + [("work", "serviceTask", "work#multiInstanceBody:2")] * 3
    )
    first, second, third = task_ids(pi)
    pi.complete(second)
    assert pi.path == [] and locals_of(pi, body.id)["nrOfCompletedInstances"] == 1
    assert locals_of(pi, body.id)["nrOfActiveInstances"] == 2
    pi.complete(first)
    pi.complete(third)
    assert pi.path == ["after"]
    assert pi.state.execution(body.id).variables == {}  # the counters end with the body
    ended = [a.id for a in pi.effects.activities if a.ended and not a.canceled]
    assert ended == ["work:10", "work#multiInstanceBody:2"]


def test_sequential_task_runs_one_instance_after_another() -> None:
    pi = Instance(mi_model(loop(sequential=True, cardinality="3")))
    body = pi.state.executions[1]
    seen = []
    for _ in range(3):
        [task] = task_ids(pi)
        seen.append(locals_of(pi, body.id))
        pi.complete(task)
    assert [s["loopCounter"] for s in seen] == [0, 1, 2]
    assert [s["nrOfCompletedInstances"] for s in seen] == [0, 1, 2]
    assert {s["nrOfActiveInstances"] for s in seen} == {1}
    assert pi.path == ["after"]


@pytest.mark.parametrize("sequential", [False, True])
def test_collection_elements_are_local_to_each_instance(sequential: bool) -> None:
    model = mi_model(loop(sequential=sequential, collection="items", element="item"))
    pi = Instance(model, {"items": as_json(["a", "b"])})
    values, pending = [], list(pi.effects.tasks_created)
    assert len(pending) == (1 if sequential else 2)
    while pending:
        task = pending.pop(0)
        values.append(pi.visible(task.execution_id)["item"])
        pi.complete(task.id, {"result": values[-1]})
        pending += [t for t in pi.effects.tasks_created if t.activity_id == "work"]
    assert values == ["a", "b"]
    assert pi.path == ["after"]
    assert "item" not in pi.variables and pi.variables["result"] == "b"


def test_collection_expression_and_a_json_object_per_element() -> None:
    model = mi_model(loop(collection="${order.lines}", element="line"))
    pi = Instance(model, {"order": as_json({"lines": [{"sku": 1}, {"sku": 2}]})})
    got = [pi.visible(t.execution_id)["line"] for t in pi.effects.tasks_created]
    assert got == ['{"sku":1}', '{"sku":2}']


def test_parallel_completion_condition_cancels_the_remaining_instances() -> None:
    model = mi_model(loop(cardinality="4", condition="${nrOfCompletedInstances >= 2}"))
    pi = Instance(model)
    tasks = task_ids(pi)
    pi.complete(tasks[3])
    pi.complete(tasks[0])
    assert pi.path == ["after"]
    assert pi.effects.tasks_deleted == (tasks[1], tasks[2])
    canceled = [a.activity_id for a in pi.effects.activities if a.canceled]
    assert canceled == ["work", "work"]


def test_parallel_completion_condition_sees_the_instance_loop_counter() -> None:
    pi = Instance(mi_model(loop(cardinality="3", condition="${loopCounter == 1}")))
    tasks = task_ids(pi)
    pi.complete(tasks[0])
    assert pi.path == []
    pi.complete(tasks[1])
    assert pi.path == ["after"] and pi.effects.tasks_deleted == (tasks[2],)


def test_sequential_completion_condition() -> None:
    model = mi_model(loop(sequential=True, cardinality="5", condition="${loopCounter == 1}"))
    pi = Instance(model)
    pi.complete(task_ids(pi)[0])
    pi.complete(task_ids(pi)[0])
    assert pi.path == ["after"]


def test_flows_leaving_the_activity_see_its_counters() -> None:
    model = mi_model(loop(cardinality="2"), exits=("${nrOfCompletedInstances == 2}", "${false}"))
    pi = Instance(model)
    for task in task_ids(pi):
        pi.complete(task)
    assert pi.path == ["exit0"] and pi.state.status == "completed"


@pytest.mark.parametrize("sequential", [False, True])
def test_sub_process_instances(sequential: bool) -> None:
    pi = Instance(mi_model(loop(sequential=sequential, cardinality="2"), sub_process=True))
    expected = ["start", "work", "ws", "step"] + ([] if sequential else ["ws", "step"])
    assert pi.path == expected
    instances = [e for e in pi.state.executions if e.element_id == "work"][1:]
    assert [e.activity_instance_id for e in instances] == (
        ["work:4"] if sequential else ["work:4", "work:7"]
    )
    steps = [t for t in pi.effects.tasks_created]
    assert [pi.visible(t.execution_id)["loopCounter"] for t in steps] == (
        [0] if sequential else [0, 1]
    )
    for _ in range(2):
        pi.complete(pi.tasks["step"] if sequential else steps.pop(0).id)
    assert pi.path[-1] == "after"


@pytest.mark.parametrize("sub_process", [False, True])
@pytest.mark.parametrize("sequential", [False, True])
def test_an_error_caught_on_the_activity_cancels_every_instance(
    sequential: bool, sub_process: bool
) -> None:
    model = mi_model(
        loop(sequential=sequential, cardinality="3"), sub_process=sub_process, boundary=True
    )
    pi = Instance(model)
    tasks = task_ids(pi)
    pi.error(tasks[0], "FAIL")
    assert pi.path == ["caught", "handled"]
    assert pi.effects.tasks_deleted == tuple(tasks[1:])
    assert [e.element_id for e in pi.state.executions] == [None, "handled"]
    canceled = [a.id for a in pi.effects.activities if a.canceled]
    assert canceled[-1].startswith("work#multiInstanceBody:")


def test_an_uncaught_error_ends_only_its_instance() -> None:
    pi = Instance(mi_model(loop(cardinality="2")))
    first, second = task_ids(pi)
    pi.error(first, "OTHER")
    assert pi.path == [] and pi.tasks == {"work": second}
    pi.complete(second)
    assert pi.path == ["after"]


@pytest.mark.parametrize(
    "characteristics, variables",
    [
        (loop(cardinality="0"), {}),
        (loop(cardinality="${n}"), {"n": 0}),
        (loop(collection="items", element="item"), {"items": as_json([])}),
        (loop(sequential=True, collection="items"), {"items": as_json([])}),
    ],
    ids=["zero", "zero-expression", "empty-collection", "empty-sequential"],
)
def test_no_instances_pass_straight_through(
    characteristics: str, variables: dict[str, Any]
) -> None:
    pi = Instance(mi_model(characteristics), variables)
    assert pi.path == ["start", "work", "after"]
    assert started(pi)[1] == ("work#multiInstanceBody", "multiInstanceBody", "pi")
    assert pi.tasks == {"after": task_ids(pi)[0]}


REFUSED = {
    "negative": (
        loop(cardinality="${n}"),
        {"n": -1},
        "ENGINE-02023 Invalid number of 'instances': must be positive integer value or zero, "
        "but was '-1'.",
    ),
    "text": (loop(cardinality="many"), {}, 'For input string: "many"'),
    "boolean": (
        loop(cardinality="${true}"),
        {},
        "ENGINE-02027 Could not resolve expression of type 'loopCardinality'. Expression "
        "'${true}' needs to be a number or number String.",
    ),
    "missing collection": (
        loop(collection="items"),
        {},
        "ENGINE-02025 Variable 'items' is not of the expected type 'Collection'.",
    ),
    "not a list": (
        loop(collection="items"),
        {"items": as_json({"a": 1})},
        "ENGINE-02025 Variable 'items' is not of the expected type 'Collection'.",
    ),
    "expression not a list": (
        loop(collection="${name}"),
        {"name": "x"},
        "ENGINE-02024 Expression '${name}' didn't resolve to type 'Collection'.",
    ),
    "too many": (
        loop(cardinality=str(MAX_INSTANCES + 1)),
        {},
        f"Multi-instance activity 'work' would start {MAX_INSTANCES + 1} instances, more than "
        f"the limit of {MAX_INSTANCES}",
    ),
    "collection shorter than the cardinality": (
        loop(cardinality="3", collection="items", element="item"),
        {"items": as_json([1])},
        "The collection of 'work' has no element 1",
    ),
}


@pytest.mark.parametrize("characteristics, variables, message", REFUSED.values(), ids=REFUSED)
def test_bad_counts_are_refused_as_bad_input(
    characteristics: str, variables: dict[str, Any], message: str
) -> None:
    with pytest.raises(MultiInstanceRefused) as caught:
        Instance(mi_model(characteristics), variables)
    assert str(caught.value) == message
    assert isinstance(caught.value, InvalidArgument)


def test_a_completion_condition_must_be_a_boolean() -> None:
    pi = Instance(mi_model(loop(cardinality="2", condition="${nrOfInstances}")))
    with pytest.raises(MultiInstanceRefused, match=r"ENGINE-02028 .*'completionCondition'"):
        pi.complete(task_ids(pi)[0])


def test_a_fan_out_of_1000_costs_milliseconds_per_completion() -> None:
    model = mi_model(loop(cardinality="1000", collection="items", element="item"))
    ids = CounterIds()
    items = {"items": as_json(list(range(1000)))}
    began = time.perf_counter()
    state, effects = start(model, "pi", items, None, None, NOW, ids)
    assert time.perf_counter() - began < 1.0
    assert len(effects.tasks_created) == 1000
    steps = []
    for task in effects.tasks_created[:30]:
        began = time.perf_counter()
        state, _ = complete_task(model, state, task.id, {}, {}, NOW, ids)
        steps.append(time.perf_counter() - began)
    assert max(steps) < 0.1  # about 1 ms each: one pass over the executions, no more


def test_the_limit_itself_is_allowed() -> None:
    pi = Instance(mi_model(loop(cardinality=str(MAX_INSTANCES))))
    assert len(pi.effects.tasks_created) == MAX_INSTANCES


TIMER_AND_DATA_REFS = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="mi" isExecutable="true">
    <startEvent id="start" /><sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <serviceTask id="work" camunda:type="external" camunda:topic="work">
      <multiInstanceLoopCharacteristics isSequential="false">
        <loopDataInputRef>items</loopDataInputRef>
        <inputDataItem name="item" />
        <loopDataOutputRef>ignored</loopDataOutputRef>
        <complexBehaviorDefinition id="ignored_too" />
      </multiInstanceLoopCharacteristics>
    </serviceTask>
    <sequenceFlow id="f2" sourceRef="work" targetRef="end" /><endEvent id="end" />
    <boundaryEvent id="late" attachedToRef="work">
      <timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f3" sourceRef="late" targetRef="too_late" /><endEvent id="too_late" />
  </process>
</definitions>"""


def test_data_input_refs_and_a_timer_on_the_body() -> None:
    [model] = parse_bpmn(TIMER_AND_DATA_REFS.encode(), "mi.bpmn")
    pi = Instance(model, {"items": as_json(["a", "b"])})
    [timer] = pi.effects.timers_scheduled
    body = pi.state.executions[1]
    assert timer.execution_id == body.id and timer.due_ms == NOW + HOUR  # one, on the body
    created = pi.effects.tasks_created
    assert [pi.visible(t.execution_id)["item"] for t in created] == ["a", "b"]
    pi.complete(created[0].id)
    pi.fire(timer.id)
    assert pi.path == ["late", "too_late"] and pi.state.status == "completed"
    assert pi.effects.tasks_deleted == (created[1].id,)
    canceled = [a.id for a in pi.effects.activities if a.canceled]
    assert canceled == [created[1].activity_instance_id, body.activity_instance_id]


def test_a_sub_process_fan_out_counts_its_inner_elements_against_the_step_limit() -> None:
    with pytest.raises(StepTooLarge):  # 6,000 start events and 6,000 tasks entered at once
        Instance(mi_model(loop(cardinality="6000"), sub_process=True))


@pytest.mark.parametrize(
    "value, count", [(2.9, 2), (float("inf"), 2**31 - 1), (float("-inf"), -(2**31)), (math.nan, 0)]
)
def test_a_double_cardinality_is_cut_as_javas_int_value(value: float, count: int) -> None:
    assert loops._count("work", Expression.parse("${x}"), {"x": value}) == count
