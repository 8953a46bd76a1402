"""CorrelationSet: which waiting executions a message reaches, and how Camunda prints the set."""

from __future__ import annotations

import dataclasses

import pytest

from redtask.broker.correlation import CorrelationSet, InvalidCorrelation
from redtask.broker.engine import Execution, Wait
from tests.broker.engine.driver import Instance


def _typed(kind: str, value: object) -> dict[str, object]:
    return {"type": kind, "value": value, "valueInfo": {}}


def test_keys_compare_type_and_value_dates_by_instant_and_null_by_value() -> None:
    pi = Instance("messages.bpmn")
    variables = {
        "n": _typed("Integer", 5),
        "at": _typed("Date", "2023-11-14T22:13:20.000+0000"),
        "gone": _typed("String", None),
    }
    state = dataclasses.replace(pi.state, variables=variables)
    [waiting] = [e.id for e in state.executions if e.wait is not None]

    def hits(**keys: dict[str, object]) -> list[str]:
        return CorrelationSet(correlation_keys=keys).executions(state, "PaymentReceived")

    assert hits(n=_typed("Integer", 5)) == [waiting]
    assert hits(n=_typed("Long", 5)) == []
    assert hits(n=_typed("Integer", 6)) == []
    assert hits(at=_typed("Date", "2023-11-14T23:13:20.000+0100")) == [waiting]
    assert hits(gone=_typed("Null", None)) == [waiting]
    assert hits(n=_typed("Null", None)) == []
    assert hits(nowhere=_typed("Null", None)) == []


def test_every_waiting_execution_of_an_instance_is_a_match_of_its_own() -> None:
    pi = Instance("messages.bpmn")
    twin = Execution("x", "pi", None, "paid", wait=Wait("message", "PaymentReceived"))
    state = dataclasses.replace(pi.state, executions=(*pi.state.executions, twin))
    [first] = [e.id for e in pi.state.executions if e.wait is not None]

    assert CorrelationSet().executions(state, "PaymentReceived") == [first, "x"]
    assert CorrelationSet(process_instance_id="other").executions(state, "PaymentReceived") == []
    ended = dataclasses.replace(state, status="completed")
    assert CorrelationSet().executions(ended, "PaymentReceived") == []


def test_the_set_prints_as_java_does_keys_in_hash_map_order() -> None:
    keys = {"b": _typed("String", "x"), "a": _typed("Integer", 5), "BB": _typed("Boolean", True)}
    # String.hashCode: a 97 -> bucket 1, b 98 -> 2, "BB" and "Aa" both 2112 -> bucket 0
    local = {"BB": _typed("String", "y"), "Aa": _typed("String", "z")}
    text = str(CorrelationSet("bk", None, keys, local, "t1", True))
    assert text == (
        "CorrelationSet [businessKey=bk, processInstanceId=null, processDefinitionId=null, "
        "correlationKeys={\n"
        "  BB => Untyped value 'true', isTransient = false\n"
        "  a => Untyped value '5', isTransient = false\n"
        "  b => Untyped value 'x', isTransient = false\n"
        "}, localCorrelationKeys={\n"
        "  BB => Untyped value 'y', isTransient = false\n"
        "  Aa => Untyped value 'z', isTransient = false\n"
        "}, tenantId=t1, isTenantIdSet=true, isExecutionsOnly=false]"
    )


@pytest.mark.parametrize(
    ("kwargs", "kind", "message"),
    [
        (
            {"process_instance_id": "p", "tenant_id_set": True},
            "BadUserRequestException",
            "ENGINE-13028 Cannot specify a tenant-id when correlate a message to a single "
            "process instance.",
        ),
        (
            {"local_correlation_keys": {"b": _typed("Bytes", "AAE=")}},
            "ProcessEngineException",
            "Variables of type ByteArray cannot be used to query",
        ),
    ],
)
def test_what_camunda_refuses(kwargs: dict[str, object], kind: str, message: str) -> None:
    with pytest.raises(InvalidCorrelation) as caught:
        CorrelationSet(**kwargs)
    assert (caught.value.kind, str(caught.value)) == (kind, message)
