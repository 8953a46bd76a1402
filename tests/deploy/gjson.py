"""The subset of GJSON (github.com/tidwall/gjson, the path syntax of KEDA's metrics-api
``valueLocation``) that deploy/'s triggers use, evaluated as gjson does:

- ``a.b`` / ``a|b``: an object's member by name, an array's element by index;
- ``#(key=="value")``: the first element of an array whose member ``key`` equals the string;
- ``[p1,p2,...]`` (a multipath): an array of the results of the paths that exist, in order
  (gjson skips a path with no result), followed by ``|rest`` or ``.rest``;
- ``!literal``: a JSON number, string, true, false or null, as a path of its own.

Anything else raises ``NotImplementedError``, so a trigger using more syntax fails its test
instead of passing on a wrong reading.
"""

from __future__ import annotations

import json
import re
from typing import Any

MISSING = object()
_QUERY = re.compile(r'#\((\w+)=="((?:[^"\\]|\\.)*)"\)$')


def get(document: Any, path: str) -> Any:
    """The value at ``path``, or ``MISSING``."""
    if path.startswith("!"):
        return json.loads(path[1:])
    if path.startswith("["):
        subpaths, rest = _split_multipath(path)
        found = [v for v in (get(document, p) for p in subpaths) if v is not MISSING]
        if not rest:
            return found
        if rest[0] not in "|.":
            raise NotImplementedError(path)
        return get(found, rest[1:])
    value = document
    for component in _components(path):
        value = _step(value, component)
        if value is MISSING:
            return MISSING
    return value


def _split_multipath(path: str) -> tuple[list[str], str]:
    depth, start, quoted, parts = 0, 1, False, []
    i = 0
    while i < len(path):
        char = path[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                parts.append(path[start:i])
                return parts, path[i + 1 :]
        elif char == "," and depth == 1:
            parts.append(path[start:i])
            start = i + 1
        i += 1
    raise NotImplementedError(f"unbalanced multipath {path!r}")


def _components(path: str) -> list[str]:
    parts, current, depth = [], "", 0
    for char in path:
        if char in ".|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [*parts, current]


def _step(value: Any, component: str) -> Any:
    query = _QUERY.match(component)
    if query:
        if not isinstance(value, list):
            return MISSING
        key, wanted = query.group(1), json.loads(f'"{query.group(2)}"')
        return next((v for v in value if isinstance(v, dict) and v.get(key) == wanted), MISSING)
    if re.fullmatch(r"\w[\w-]*", component):
        if isinstance(value, dict):
            return value.get(component, MISSING)
        if isinstance(value, list) and component.isdigit():
            index = int(component)
            return value[index] if index < len(value) else MISSING
        return MISSING
    raise NotImplementedError(f"GJSON syntax outside the subset: {component!r}")
