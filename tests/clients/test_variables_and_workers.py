"""Variable serialization and worker ids as Camunda's REST layer treats them, through the
official clients and plain HTTP against a real gateway."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

from redtask.broker.connection import client_for
from redtask.broker.model import NewTask
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from tests.clients.conftest import PARTITIONS, Redtask
from tests.clients.test_js_client import run_js
from tests.clients.typed import OBJECT_INFO

ORDER = '{"name":"order","amount":12,"lines":[{"sku":"a-1","qty":2}],"note":null}'
PARSED_ORDER = {"name": "order", "amount": 12, "lines": [{"sku": "a-1", "qty": 2}], "note": None}
JAVA_INFO = {
    "objectTypeName": "com.example.Order",
    "serializationDataFormat": "application/x-java-serialized-object",
}
JAVA_VALUE = "rO0ABXQABWhlbGxv"  # a serialized java.lang.String, base64


def _published(redtask: Redtask, topic: str) -> str:
    return redtask.publish(
        topic,
        {
            "order": {"type": "Object", "value": ORDER, "valueInfo": OBJECT_INFO},
            "javaOrder": {"type": "Object", "value": JAVA_VALUE, "valueInfo": JAVA_INFO},
        },
    )


def _fetch_with_python_client(redtask: Redtask, topic: str, **config: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def action(task: ExternalTask) -> TaskResult:
        seen.update(task.get_variables())
        return task.complete()

    settings = {"maxTasks": 1, "lockDuration": 10000, "asyncResponseTimeout": 1000}
    worker = ExternalTaskWorker(
        f"py-{uuid.uuid4().hex[:8]}", redtask.engine_rest, settings | config
    )
    worker.fetch_and_execute(topic, action)
    return seen


def test_python_client_receives_a_json_object_parsed(redtask: Redtask, topic: str) -> None:
    """The Python client asks for deserializeValues=true: the JSON Object arrives as the parsed
    object, a Java-serialized one stays serialized."""
    task_id = _published(redtask, topic)

    seen = _fetch_with_python_client(redtask, topic)

    assert seen == {"order": PARSED_ORDER, "javaOrder": JAVA_VALUE}
    assert redtask.finished(task_id)["outcome"] == "complete"


def test_python_client_without_deserialization_receives_the_serialized_text(
    redtask: Redtask, topic: str
) -> None:
    _published(redtask, topic)

    seen = _fetch_with_python_client(redtask, topic, deserializeValues=False)

    assert seen == {"order": ORDER, "javaOrder": JAVA_VALUE}


def test_fetch_and_lock_deserializes_per_topic(redtask: Redtask, topic: str) -> None:
    _published(redtask, topic)
    other = f"{topic}-2"
    _published(redtask, other)
    response = redtask.post(
        "/external-task/fetchAndLock",
        {
            "workerId": "w",
            "maxTasks": 2,
            "topics": [
                {"topicName": topic, "lockDuration": 10000, "deserializeValues": True},
                {"topicName": other, "lockDuration": 10000},
            ],
        },
    )

    assert response.status_code == 200, response.text
    orders = {t["topicName"]: t["variables"]["order"] for t in response.json()}
    assert orders == {
        topic: {"type": "Object", "value": PARSED_ORDER, "valueInfo": OBJECT_INFO},
        other: {"type": "Object", "value": ORDER, "valueInfo": OBJECT_INFO},
    }


def _deploy(redtask: Redtask, name: str, xml: str) -> dict[str, Any]:
    response = httpx.post(
        f"{redtask.engine_rest}/deployment/create",
        data={"deployment-name": name},
        files={"model": (f"{name}.bpmn", xml.encode(), "application/xml")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _waiting_process(key: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="{key}-topic"/>
  </process>
</definitions>"""


def test_instance_variables_are_deserialized_by_default(redtask: Redtask) -> None:
    key = f"vars-{uuid.uuid4().hex[:8]}"
    _deploy(redtask, key, _waiting_process(key))
    started = redtask.post(
        f"/process-definition/key/{key}/start",
        {
            "variables": {
                "order": {"type": "Object", "value": ORDER, "valueInfo": OBJECT_INFO},
                "javaOrder": {"type": "Object", "value": JAVA_VALUE, "valueInfo": JAVA_INFO},
            },
            "withVariablesInReturn": True,
        },
    )
    assert started.status_code == 200, started.text
    parsed = {"type": "Object", "value": PARSED_ORDER, "valueInfo": OBJECT_INFO}
    serialized = {"type": "Object", "value": ORDER, "valueInfo": OBJECT_INFO}
    java = {"type": "Object", "value": JAVA_VALUE, "valueInfo": JAVA_INFO}
    assert started.json()["variables"] == {"order": parsed, "javaOrder": java}
    url = f"{redtask.engine_rest}/process-instance/{started.json()['id']}/variables"

    assert httpx.get(url).json() == {"order": parsed, "javaOrder": java}
    assert httpx.get(url, params={"deserializeValues": "true"}).json()["order"] == parsed
    assert httpx.get(url, params={"deserializeValues": "false"}).json() == {
        "order": serialized,
        "javaOrder": java,
    }
    assert httpx.get(f"{url}/order").json() == parsed
    assert httpx.get(f"{url}/order", params={"deserializeValue": "false"}).json() == serialized


def test_js_client_with_a_numeric_worker_id_completes(
    redtask: Redtask, topic: str, js_client: Path
) -> None:
    """The JS client sends its workerId as configured: a number is read as its text."""
    task_id = redtask.publish(topic)

    result = run_js(js_client, redtask.engine_rest, "complete", topic=topic, workerId=4242)

    [fetch] = [x for x in result["trace"] if x["path"].endswith("/fetchAndLock")][-1:]
    assert fetch["request"]["workerId"] == 4242
    [complete] = [x for x in result["trace"] if x["path"].endswith("/complete")]
    assert complete["request"]["workerId"] == 4242
    assert complete["status"] == 204
    assert redtask.finished(task_id)["outcome"] == "complete"
    assert result["deliveries"][0]["workerId"] == "4242"


def _locked(redtask: Redtask, topic: str, worker: Any) -> str:
    topic = f"{topic}-{worker}"
    task_id = redtask.publish(topic)
    body = {
        "workerId": worker,
        "maxTasks": 1,
        "topics": [{"topicName": topic, "lockDuration": 9000}],
    }
    response = redtask.post("/external-task/fetchAndLock", body)
    assert [t["id"] for t in response.json()] == [task_id], response.text
    assert response.json()[0]["workerId"] == ("true" if worker is True else str(worker))
    return task_id


def test_every_worker_id_endpoint_reads_a_number_as_its_text(redtask: Redtask, topic: str) -> None:
    task_id = _locked(redtask, topic, 7)
    assert (
        redtask.post(
            f"/external-task/{task_id}/extendLock", {"workerId": 7, "newDuration": 5000}
        ).status_code
        == 204
    )
    assert (
        redtask.post(
            f"/external-task/{task_id}/lock", {"workerId": 7, "lockDuration": 5000}
        ).status_code
        == 204
    )
    failure = {"workerId": 7, "errorMessage": "x", "retries": 1, "retryTimeout": 0}
    assert redtask.post(f"/external-task/{task_id}/failure", failure).status_code == 204
    assert redtask.get(task_id).json()["workerId"] == "7"
    query = redtask.post("/external-task", {"workerId": 7, "topicName": f"{topic}-7"})
    assert [t["id"] for t in query.json()] == [task_id]

    task_id = _locked(redtask, topic, 8)
    error = {"workerId": 8, "errorCode": "E"}
    assert redtask.post(f"/external-task/{task_id}/bpmnError", error).status_code == 204

    task_id = _locked(redtask, topic, 9.5)
    assert redtask.post(f"/external-task/{task_id}/complete", {"workerId": 9.5}).status_code == 204
    assert redtask.finished(task_id)["outcome"] == "complete"

    # an object is no string for Jackson either: a mapping error (400, empty message)
    task_id = _locked(redtask, topic, True)
    refused = redtask.post(f"/external-task/{task_id}/complete", {"workerId": {"id": 1}})
    assert (refused.status_code, refused.json()) == (
        400,
        {"type": "InvalidRequestException", "message": "", "code": None},
    )
    assert redtask.post(f"/external-task/{task_id}/complete", {"workerId": True}).status_code == 204


def test_integer_literals_in_expressions_make_long_variables(redtask: Redtask) -> None:
    """JUEL reads ``${1}`` as a java.lang.Long; an Integer variable read through an expression
    stays an Integer."""
    key = f"longs-{uuid.uuid4().hex[:8]}"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="{key}">
      <extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="one">${{1}}</camunda:inputParameter>
          <camunda:inputParameter name="sum">${{count + 1}}</camunda:inputParameter>
          <camunda:inputParameter name="picked">${{count > 0 ? count : 0}}</camunda:inputParameter>
          <camunda:inputParameter name="copy">${{count}}</camunda:inputParameter>
        </camunda:inputOutput>
      </extensionElements>
    </serviceTask>
  </process>
</definitions>"""
    _deploy(redtask, key, xml)
    count = {"count": {"type": "Integer", "value": 3}}
    started = redtask.post(f"/process-definition/key/{key}/start", {"variables": count})
    assert started.status_code == 200, started.text

    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": key, "lockDuration": 9000}]}
    [task] = redtask.post("/external-task/fetchAndLock", body).json()

    assert task["variables"] == {
        "count": {"type": "Integer", "value": 3, "valueInfo": {}},
        "one": {"type": "Long", "value": 1, "valueInfo": {}},
        "sum": {"type": "Long", "value": 4, "valueInfo": {}},
        "picked": {"type": "Integer", "value": 3, "valueInfo": {}},
        "copy": {"type": "Integer", "value": 3, "valueInfo": {}},
    }


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_task_and_incident_ids_are_uuids(redtask: Redtask, topic: str) -> None:
    task_id = redtask.publish(topic)
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": topic, "lockDuration": 9000}]}
    [task] = redtask.post("/external-task/fetchAndLock", body).json()
    failure = {"workerId": "w", "errorMessage": "down", "retries": 0, "retryTimeout": 0}
    assert redtask.post(f"/external-task/{task_id}/failure", failure).status_code == 204

    incidents = httpx.get(f"{redtask.engine_rest}/incident", params={"configuration": task_id})

    assert task["id"] == task_id and _is_uuid(task_id)
    [incident] = incidents.json()
    assert incident["configuration"] == task_id
    assert _is_uuid(incident["id"])
    assert incident["id"] == incident["causeIncidentId"] == incident["rootCauseIncidentId"]


def test_a_task_stored_under_an_id_of_the_former_format_still_works(
    redtask: Redtask, topic: str
) -> None:
    """Ids are only ever hashed to a partition, never parsed: a task created before ids became
    UUIDs (21 base62 characters) is fetched and completed as before."""
    old_id = "7fKq2ZpXw9LmN4bVc0RtY"

    async def publish() -> None:
        settings = Settings(namespace=redtask.namespace, partitions=PARTITIONS)
        store = Store(client_for(redtask.redis_url), settings)
        try:
            await store.publish(NewTask(topic, id=old_id))
        finally:
            await store.close()

    asyncio.run(publish())
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": topic, "lockDuration": 9000}]}
    [task] = redtask.post("/external-task/fetchAndLock", body).json()

    assert task["id"] == old_id
    assert redtask.get(old_id).json()["workerId"] == "w"
    assert redtask.post(f"/external-task/{old_id}/complete", {"workerId": "w"}).status_code == 204
    assert redtask.finished(old_id)["outcome"] == "complete"


def test_a_message_result_renders_json_objects_parsed(redtask: Redtask) -> None:
    key = f"msg-vars-{uuid.uuid4().hex[:8]}"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
  <message id="m" name="{key}-go"/>
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <receiveTask id="wait" messageRef="m"/>
    <sequenceFlow id="f2" sourceRef="wait" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="{key}"
        xmlns:camunda="http://camunda.org/schema/1.0/bpmn"/>
  </process>
</definitions>"""
    _deploy(redtask, key, xml)
    started = redtask.post(f"/process-definition/key/{key}/start", {})
    assert started.status_code == 200, started.text
    order = {"type": "Object", "value": ORDER, "valueInfo": OBJECT_INFO}

    response = redtask.post(
        "/message",
        {
            "messageName": f"{key}-go",
            "processVariables": {"order": order},
            "resultEnabled": True,
            "variablesInResultEnabled": True,
        },
    )

    assert response.status_code == 200, response.text
    [result] = response.json()
    assert result["variables"] == {
        "order": {"type": "Object", "value": PARSED_ORDER, "valueInfo": OBJECT_INFO}
    }
