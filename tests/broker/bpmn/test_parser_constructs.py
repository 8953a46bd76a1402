"""Each supported construct, parsed from a small file, gives exactly the expected model."""

from __future__ import annotations

from pathlib import Path

from redtask.broker.bpmn import (
    BoundaryEvent,
    EndEvent,
    ErrorDefinition,
    ErrorEventDefinition,
    ExclusiveGateway,
    Expression,
    ExternalTask,
    InclusiveGateway,
    IntermediateCatchEvent,
    IoParameter,
    MessageDefinition,
    ParallelGateway,
    ProcessModel,
    ReceiveTask,
    SequenceFlow,
    StartEvent,
    SubProcess,
    TimerDefinition,
    parse_bpmn,
)

FILES = Path(__file__).parent / "files"


def parse_one(name: str) -> ProcessModel:
    [model] = parse_bpmn((FILES / name).read_bytes(), name)
    return model


def E(text: str) -> Expression:
    return Expression.parse(text)


def task(
    id: str, topic: str, ins: tuple[str, ...], outs: tuple[str, ...], **kw: object
) -> ExternalTask:
    return ExternalTask(id=id, topic=topic, incoming=ins, outgoing=outs, **kw)  # type: ignore[arg-type]


def test_start_external_task_end_with_process_attributes() -> None:
    model = parse_one("simple.bpmn")
    assert model == ProcessModel(
        key="order",
        resource_name="simple.bpmn",
        name="Order",
        description="Charges the card.",
        is_executable=True,
        version_tag="v1",
        history_time_to_live=30,
        task_priority=5,
        elements={
            "start": StartEvent(id="start", name="Order received", outgoing=("f1",)),
            "charge": ExternalTask(
                id="charge",
                name="Charge card",
                incoming=("f1",),
                outgoing=("f2",),
                task_type="serviceTask",
                topic="charge-card",
                priority=10,
                extension_properties={"retriesHint": "3", "owner": "payments"},
            ),
            "end": EndEvent(id="end", name="Done", incoming=("f2",)),
        },
        flows={
            "f1": SequenceFlow("f1", "start", "charge"),
            "f2": SequenceFlow("f2", "charge", "end"),
        },
        errors={},
        messages={},
    )


def test_exclusive_gateway_with_conditions_and_default() -> None:
    model = parse_one("exclusive_gateway.bpmn")
    assert model.elements["decide"] == ExclusiveGateway(
        id="decide",
        name="Amount?",
        incoming=("f0",),
        outgoing=("f_big", "f_vip", "f_small"),
        default_flow="f_small",
    )
    assert model.outgoing("decide") == (
        SequenceFlow("f_big", "decide", "review", E("${amount > 1000}"), "big"),
        SequenceFlow("f_vip", "decide", "review", E("#{customer.tier == 'vip' && amount > 10}")),
        SequenceFlow("f_small", "decide", "end"),
    )
    big, vip, _ = model.outgoing("decide")
    assert big.condition is not None and vip.condition is not None
    assert big.condition.evaluate_condition({"amount": 1001}) is True
    assert vip.condition.evaluate_condition({"amount": 11, "customer": {"tier": "vip"}}) is True
    assert model.elements["review"].incoming == ("f_big", "f_vip")


def test_parallel_fork_and_join_drop_conditions_like_camunda() -> None:
    model = parse_one("parallel_gateway.bpmn")
    assert model.elements["fork"] == ParallelGateway(
        id="fork", incoming=("f0",), outgoing=("f_pack", "f_bill")
    )
    assert model.elements["join"] == ParallelGateway(
        id="join", incoming=("f_packed", "f_billed"), outgoing=("f_end",)
    )
    assert model.flows["f_pack"] == SequenceFlow("f_pack", "fork", "pack", condition=None)
    assert [f.id for f in model.flows_into("join")] == ["f_packed", "f_billed"]


def test_inclusive_gateway_with_default() -> None:
    model = parse_one("inclusive_gateway.bpmn")
    assert model.elements["channels"] == InclusiveGateway(
        id="channels",
        incoming=("f0",),
        outgoing=("f_mail", "f_sms", "f_letter"),
        default_flow="f_letter",
    )
    assert model.elements["merge"] == InclusiveGateway(
        id="merge", incoming=("f_m", "f_s", "f_l"), outgoing=("f_end",)
    )
    assert model.flows["f_mail"].condition == E("${not empty email}")
    assert model.elements["mail"] == task(
        "mail", "mail", ("f_mail",), ("f_m",), task_type="sendTask"
    )


def test_embedded_sub_process_and_its_children() -> None:
    model = parse_one("sub_process.bpmn")
    assert model.elements["ship"] == SubProcess(
        id="ship",
        name="Ship",
        incoming=("f0",),
        outgoing=("f1",),
        child_ids=("ship_start", "label", "ship_end"),
        start_event_id="ship_start",
    )
    assert model.elements["ship_start"] == StartEvent(
        id="ship_start", scope_id="ship", outgoing=("s1",)
    )
    assert model.elements["label"] == ExternalTask(
        id="label", scope_id="ship", incoming=("s1",), outgoing=("s2",), topic="print-label"
    )
    assert model.elements["ship_end"] == EndEvent(id="ship_end", scope_id="ship", incoming=("s2",))
    assert model.flows["s1"] == SequenceFlow("s1", "ship_start", "label")
    assert model.elements["ship_failed"] == BoundaryEvent(
        id="ship_failed", outgoing=("f2",), attached_to="ship", kind="error", error_code=None
    )
    assert list(model.elements) == [
        "start", "ship", "ship_start", "label", "ship_end", "end", "ship_failed", "failed",
    ]  # fmt: skip


def test_boundary_errors_with_error_ref_unknown_ref_and_catch_all() -> None:
    model = parse_one("boundary_error.bpmn")
    assert model.boundary_events("charge") == (
        BoundaryEvent(
            id="on_any", outgoing=("f3",), attached_to="charge", kind="error", error_code=None
        ),
        BoundaryEvent(
            id="on_declined",
            outgoing=("f2",),
            attached_to="charge",
            kind="error",
            cancel_activity=True,
            error_code="CARD_DECLINED",
            error_code_variable="code",
            error_message_variable="msg",
        ),
        BoundaryEvent(
            id="on_fraud", outgoing=("f4",), attached_to="charge", kind="error", error_code="FRAUD"
        ),
    )
    assert model.errors == {
        "Error_declined": ErrorDefinition("Error_declined", "CARD_DECLINED", "Declined"),
        "Error_nocode": ErrorDefinition("Error_nocode", None, "No code"),
    }


def test_error_end_event_and_terminate_end_event() -> None:
    model = parse_one("error_end_event.bpmn")
    assert model.elements["stock_end"] == EndEvent(
        id="stock_end", scope_id="stock", incoming=("s1",), error_code="OUT_OF_STOCK"
    )
    assert model.elements["kill"] == EndEvent(id="kill", incoming=("f2",), terminate=True)
    assert model.errors["Error_out"] == ErrorDefinition(
        "Error_out", "OUT_OF_STOCK", None, "Nothing left"
    )


def test_input_output_mappings_topic_and_priority_expressions() -> None:
    model = parse_one("input_output.bpmn")
    assert model.elements["lookup"] == ExternalTask(
        id="lookup",
        incoming=("f0",),
        outgoing=("f1",),
        task_type="businessRuleTask",
        topic=E("${region}-lookup"),
        priority=E("${priority}"),
        inputs=(
            IoParameter("customerId", E("${customer.id}")),
            IoParameter("greeting", E("Hello ${customer.name}")),
            IoParameter("constant", "fixed"),
            IoParameter("nothing", None),
        ),
        outputs=(IoParameter("score", E("${result.score}")),),
    )
    variables = {"region": "eu", "customer": {"id": 7, "name": "Ada"}}
    assert E("${region}-lookup").evaluate(variables) == "eu-lookup"
    assert E("Hello ${customer.name}").evaluate(variables) == "Hello Ada"


def test_intermediate_timer_catch_events() -> None:
    model = parse_one("timer_catch.bpmn")
    assert model.elements["wait"] == IntermediateCatchEvent(
        id="wait",
        name="Wait a day",
        incoming=("f0",),
        outgoing=("f1",),
        kind="timer",
        timer=TimerDefinition("duration", "P1DT2H"),
    )
    assert model.elements["until"] == IntermediateCatchEvent(
        id="until",
        incoming=("f1",),
        outgoing=("f2",),
        kind="timer",
        timer=TimerDefinition("date", "2030-01-01T09:00:00+01:00"),
    )


def test_boundary_timers_interrupting_and_not() -> None:
    model = parse_one("boundary_timer.bpmn")
    assert model.boundary_events("approve") == (
        BoundaryEvent(
            id="remind",
            outgoing=("f2",),
            attached_to="approve",
            kind="timer",
            cancel_activity=False,
            timer=TimerDefinition("duration", E("${reminderDelay}")),
        ),
        BoundaryEvent(
            id="expire",
            outgoing=("f3",),
            attached_to="approve",
            kind="timer",
            cancel_activity=True,
            timer=TimerDefinition("duration", "PT48H"),
        ),
    )
    # An activity without outgoing flows is allowed: its path simply ends.
    assert model.elements["send_reminder"].outgoing == ()


def test_message_catch_event_and_receive_task() -> None:
    model = parse_one("messages.bpmn")
    assert model.elements["paid"] == IntermediateCatchEvent(
        id="paid",
        incoming=("f0",),
        outgoing=("f1",),
        kind="message",
        message_name="PaymentReceived",
    )
    assert model.elements["shipped"] == ReceiveTask(
        id="shipped",
        name="Await shipping",
        incoming=("f1",),
        outgoing=("f2",),
        message_name="Shipped",
    )
    assert model.messages == {
        "Msg_paid": MessageDefinition("Msg_paid", "PaymentReceived"),
        "Msg_shipped": MessageDefinition("Msg_shipped", "Shipped"),
    }


def test_camunda_error_event_definitions_keep_only_those_with_error_ref() -> None:
    model = parse_one("error_event_definition.bpmn")
    t = model.elements["t"]
    assert isinstance(t, ExternalTask)
    assert t.error_event_definitions == (
        ErrorEventDefinition(
            "d1", "CARD_DECLINED", E("${externalTask.getErrorDetails().contains('card declined')}")
        ),
        ErrorEventDefinition("d2", "TIMEOUT", E("${timedOut}"), "code", "message"),
        ErrorEventDefinition("d3", "CARD_DECLINED", None),
    )
    first = t.error_event_definitions[0].expression
    assert first is not None
    details = {"externalTask": {"errorDetails": "the card declined twice"}}
    assert first.evaluate_condition(details) is True


def test_several_processes_non_executable_skipped_missing_flag_is_executable() -> None:
    data = (FILES / "several_processes.bpmn").read_bytes()
    models = parse_bpmn(data, "several_processes.bpmn")
    assert [m.key for m in models] == ["first", "second"]
    assert [m.children() for m in models] == [
        (StartEvent(id="a_start"),),
        (StartEvent(id="b_start"),),
    ]


def test_a_resource_without_executable_process_yields_nothing() -> None:
    data = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
      <process id="p" isExecutable="false"><userTask id="u"/></process></definitions>"""
    assert parse_bpmn(data, "drawing.bpmn") == []


def test_legacy_activiti_namespace_is_accepted() -> None:
    data = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
        xmlns:activiti="http://activiti.org/bpmn">
      <process id="p" isExecutable="true">
        <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/>
        <serviceTask id="t" activiti:type="external" activiti:topic="legacy"/>
      </process></definitions>"""
    [model] = parse_bpmn(data, "legacy.bpmn")
    assert model.elements["t"] == ExternalTask(id="t", incoming=("f",), topic="legacy")
