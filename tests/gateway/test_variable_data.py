"""GET /process-instance/{id}/variables/{name}/data: the content of a Bytes or File variable,
as Camunda's AbstractVariablesResource#getVariableBinary and VariableResponseProvider answer."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.gateway.helpers import API, error
from tests.gateway.test_history_filters import deploy, one_task_process

PI = f"{API}/process-instance"
HELLO = base64.b64encode(b"hello\x00world").decode()


@pytest.fixture
async def instance(client: httpx.AsyncClient) -> str:
    definition_id = await deploy(client, one_task_process("files", "Files", "s", "t"))
    variables = {
        "blob": {"type": "Bytes", "value": HELLO},
        "empty": {"type": "Bytes", "value": None},
        "note": {
            "type": "File",
            "value": base64.b64encode("grüße".encode()).decode(),
            "valueInfo": {"filename": "note.txt", "mimeType": "text/plain", "encoding": "UTF-8"},
        },
        "scan": {
            "type": "File",
            "value": base64.b64encode(b"%PDF").decode(),
            "valueInfo": {"filename": "scan.pdf"},
        },
        "name": {"type": "String", "value": "plain text"},
    }
    response = await client.post(
        f"{API}/process-definition/{definition_id}/start", json={"variables": variables}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_a_bytes_variable_is_served_as_an_octet_stream(
    client: httpx.AsyncClient, instance: str
) -> None:
    response = await client.get(f"{PI}/{instance}/variables/blob/data")
    assert (response.status_code, response.content) == (200, b"hello\x00world")
    assert response.headers["content-type"] == "application/octet-stream"


async def test_a_null_bytes_variable_is_served_empty(
    client: httpx.AsyncClient, instance: str
) -> None:
    response = await client.get(f"{PI}/{instance}/variables/empty/data")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-type"] == "application/octet-stream"


async def test_a_file_variable_is_served_with_its_mime_type_encoding_and_filename(
    client: httpx.AsyncClient, instance: str
) -> None:
    response = await client.get(f"{PI}/{instance}/variables/note/data")
    assert (response.status_code, response.content) == (200, "grüße".encode())
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.headers["content-disposition"] == "attachment; filename=note.txt"


async def test_a_file_without_mime_type_is_an_octet_stream(
    client: httpx.AsyncClient, instance: str
) -> None:
    response = await client.get(f"{PI}/{instance}/variables/scan/data")
    assert (response.status_code, response.content) == (200, b"%PDF")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment; filename=scan.pdf"


async def test_a_variable_that_is_not_binary_is_400(
    client: httpx.AsyncClient, instance: str
) -> None:
    response = await client.get(f"{PI}/{instance}/variables/name/data")
    # Camunda's message names the process instance (the resource id), not the variable
    expected = error(
        "InvalidRequestException", f"Value of variable with id {instance} is not a binary value."
    )
    assert (response.status_code, response.json()) == (400, expected)


async def test_a_missing_variable_is_404(client: httpx.AsyncClient, instance: str) -> None:
    response = await client.get(f"{PI}/{instance}/variables/nope/data")
    expected = error(
        "InvalidRequestException", "process instance variable with name nope does not exist"
    )
    assert (response.status_code, response.json()) == (404, expected)


async def test_an_unknown_instance_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PI}/unknown/variables/blob/data")
    expected = error(
        "RestException",
        "Cannot get process instance variable blob: execution unknown doesn't exist: "
        "execution is null",
        0,
    )
    assert (response.status_code, response.json()) == (400, expected)
