"""Typed variables (Camunda wire form) shared by the client tests.

``PUBLISHED`` is what a task carries, one variable per type; ``wire()`` is how Camunda's
fetchAndLock renders each of them (primitives with ``valueInfo: {}``).
"""

from __future__ import annotations

import base64
from typing import Any

RAW_BYTES = bytes([0, 1, 2, 127, 128, 253, 254, 255])
OBJECT_INFO = {
    "objectTypeName": "com.example.Order",
    "serializationDataFormat": "application/json",
}

PUBLISHED: dict[str, dict[str, Any]] = {
    "aString": {"type": "String", "value": 'héllo "world" ✓'},
    "anInteger": {"type": "Integer", "value": 2147483647},
    "aLong": {"type": "Long", "value": 9007199254740991},
    "aDouble": {"type": "Double", "value": -3.25},
    "aWholeDouble": {"type": "Double", "value": 4.0},
    "aBoolean": {"type": "Boolean", "value": True},
    "aDate": {"type": "Date", "value": "2024-02-29T23:59:58.123+0000"},
    "aJson": {"type": "Json", "value": '{"items":[1,2.5,"x",null],"ok":true}'},
    "anObject": {
        "type": "Object",
        "value": '{"name":"order","amount":12}',
        "valueInfo": OBJECT_INFO,
    },
    "someBytes": {"type": "Bytes", "value": base64.b64encode(RAW_BYTES).decode()},
    "nothing": {"type": "Null", "value": None},
}


def wire(variables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The typed values as a Camunda response carries them (valueInfo always present)."""
    return {
        name: {"type": v["type"], "value": v["value"], "valueInfo": v.get("valueInfo", {})}
        for name, v in variables.items()
    }
