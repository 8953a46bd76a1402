"""The helpers the engine builds on: navigation, error-handler search and priority resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from redtask.broker.bpmn import (
    EndEvent,
    Expression,
    ExternalTask,
    ProcessModel,
    SequenceFlow,
    StartEvent,
    parse_bpmn,
)

FILES = Path(__file__).parent / "files"


def parse_one(name: str) -> ProcessModel:
    [model] = parse_bpmn((FILES / name).read_bytes(), name)
    return model


def external(model: ProcessModel, element_id: str) -> ExternalTask:
    element = model.elements[element_id]
    assert isinstance(element, ExternalTask)
    return element


def test_navigation_follows_flows_in_document_order() -> None:
    model = parse_one("simple.bpmn")
    assert model.start_event() == StartEvent(id="start", name="Order received", outgoing=("f1",))
    assert model.outgoing("start") == (SequenceFlow("f1", "start", "charge"),)
    assert model.flows_into("end") == (SequenceFlow("f2", "charge", "end"),)
    assert model.outgoing("end") == ()
    assert [e.id for e in model.children()] == ["start", "charge", "end"]
    with pytest.raises(KeyError):
        model.outgoing("nope")


def test_scopes_have_their_own_children_and_start_event() -> None:
    model = parse_one("sub_process.bpmn")
    assert [e.id for e in model.children()] == ["start", "ship", "end", "ship_failed", "failed"]
    assert [e.id for e in model.children("ship")] == ["ship_start", "label", "ship_end"]
    assert model.start_event("ship").id == "ship_start"
    assert model.start_event(None).id == "start"
    with pytest.raises(KeyError):
        model.children("label")
    with pytest.raises(KeyError):
        model.start_event("missing")


def test_boundary_events_of_an_activity() -> None:
    model = parse_one("boundary_error.bpmn")
    assert [b.id for b in model.boundary_events("charge")] == ["on_any", "on_declined", "on_fraud"]
    assert model.boundary_events("end") == ()
    with pytest.raises(KeyError):
        model.boundary_events("ghost")


@pytest.mark.parametrize(
    "code, handler",
    [
        ("CARD_DECLINED", "on_declined"),  # a specific code beats an earlier catch-all
        ("FRAUD", "on_fraud"),  # unknown errorRef: the ref itself is the code
        ("SOMETHING_ELSE", "on_any"),  # errorRef to an error without errorCode: catch-all
        (None, "on_any"),  # an error without code is caught only by catch-alls
    ],
)
def test_error_handler_precedence_on_one_activity(code: str | None, handler: str) -> None:
    model = parse_one("boundary_error.bpmn")
    found = model.error_handler("charge", code)
    assert found is not None and found.id == handler


def test_error_handler_search_goes_outward_through_sub_processes() -> None:
    shipping = parse_one("sub_process.bpmn")
    found = shipping.error_handler("label", "ANY")
    assert found is not None and found.id == "ship_failed"
    reserve = parse_one("error_end_event.bpmn")
    thrower = reserve.elements["stock_end"]
    assert isinstance(thrower, EndEvent) and thrower.error_code == "OUT_OF_STOCK"
    found = reserve.error_handler("stock_end", thrower.error_code)
    assert found is not None and found.id == "no_stock"
    assert reserve.error_handler("stock", "OUT_OF_STOCK") == found


def test_no_error_handler_means_none() -> None:
    assert parse_one("boundary_timer.bpmn").error_handler("approve", "X") is None
    assert parse_one("simple.bpmn").error_handler("charge", "X") is None
    assert parse_one("sub_process.bpmn").error_handler("end", "X") is None


def test_priority_resolution_task_then_process_then_zero() -> None:
    simple = parse_one("simple.bpmn")
    assert simple.priority_of(external(simple, "charge")) == 10
    assert simple.priority_of(dataclasses.replace(external(simple, "charge"), priority=None)) == 5
    mapping = parse_one("input_output.bpmn")
    assert mapping.priority_of(external(mapping, "lookup")) == Expression.parse("${priority}")
    shipping = parse_one("sub_process.bpmn")
    assert shipping.priority_of(external(shipping, "label")) == 0


def test_the_model_is_immutable() -> None:
    model = parse_one("simple.bpmn")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.elements["x"] = model.elements["start"]  # type: ignore[index]
    with pytest.raises(TypeError):
        external(model, "charge").extension_properties["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.elements["start"].name = "x"  # type: ignore[misc]
