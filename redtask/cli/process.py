"""``redtask start`` and ``redtask instances``: process instances of a running gateway over its
REST API (httpx is imported lazily, like ``deploy``). The REST root defaults to the gateway of
REDTASK_GATEWAY_HOST and REDTASK_GATEWAY_PORT."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from typing import Any


def default_url() -> str:
    """The REST root of the gateway that REDTASK_GATEWAY_HOST/PORT configure (a wildcard bind
    address is reached on the loopback)."""
    host = os.environ.get("REDTASK_GATEWAY_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = os.environ.get("REDTASK_GATEWAY_PORT") or "8080"
    return f"http://{host}:{port}/engine-rest"


DEFAULT_URL = "http://127.0.0.1:8080/engine-rest"
TYPES = {
    name.lower(): name
    for name in (
        "String", "Boolean", "Short", "Integer", "Long", "Double", "Date", "Null",
        "Json", "Xml", "Object", "Bytes",
    )
}  # fmt: skip
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)")
_NAME_TYPE = re.compile(r"([^:=]+?)(?::(\w+))?")


def untyped(text: str) -> dict[str, Any]:
    """The typed value Camunda gives an untyped JSON value written as ``text``."""
    if _INTEGER.fullmatch(text):
        number = int(text)
        if -(2**31) <= number < 2**31:
            return {"value": number, "type": "Integer"}
        if -(2**63) <= number < 2**63:
            return {"value": number, "type": "Long"}
        return {"value": float(number), "type": "Double"}
    if _DECIMAL.fullmatch(text):
        return {"value": float(text), "type": "Double"}
    if text in ("true", "false"):
        return {"value": text == "true", "type": "Boolean"}
    if text == "null":
        return {"value": None, "type": "Null"}
    return {"value": text, "type": "String"}


def parse_var(spec: str) -> tuple[str, dict[str, Any]]:
    """``name=value`` (typed like an untyped value) or ``name:Type=value`` (the gateway
    converts the text to Type); an argparse type, so a bad spec is a usage error."""
    left, equals, text = spec.partition("=")
    match = _NAME_TYPE.fullmatch(left.strip())
    if not equals or not match:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE or NAME:TYPE=VALUE, got {spec!r}")
    name, type_name = match.group(1).strip(), match.group(2)
    if type_name is None:
        return name, untyped(text)
    if type_name.lower() not in TYPES:
        known = ", ".join(TYPES.values())
        raise argparse.ArgumentTypeError(f"unknown type {type_name!r} (known: {known})")
    canonical = TYPES[type_name.lower()]
    return name, {"value": None if canonical == "Null" else text, "type": canonical}


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON answer of ``method path``; exits 1 with a readable line when it fails."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the command reports for itself
    prefix = f"redtask {args.command}"
    url = args.url.rstrip("/") + path
    auth = None
    if args.user is not None:
        user, colon, password = args.user.partition(":")
        if not colon:
            sys.exit(f"{prefix}: --user must be USER:PASSWORD")
        auth = (user, password)
    try:
        response = httpx.request(method, url, auth=auth, timeout=args.timeout, **kwargs)
    except httpx.HTTPError as exc:
        sys.exit(f"{prefix}: cannot reach {url}: {exc}")
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        if isinstance(body, dict) and "message" in body:
            sys.exit(f"{prefix}: {body.get('type')}: {body['message']}")
        sys.exit(f"{prefix}: HTTP {response.status_code}: {response.text.strip()}")
    if body is None:
        sys.exit(f"{prefix}: HTTP {response.status_code}: the answer is not JSON")
    return body


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def cmd_start(args: argparse.Namespace) -> int:
    payload = {"businessKey": args.business_key, "variables": dict(args.var)}
    body = _request(args, "POST", f"/process-definition/key/{args.key}/start", json=payload)
    print(f"{body['id']} ended" if body.get("ended") else body["id"])
    return 0


def cmd_instances(args: argparse.Namespace) -> int:
    params = {"processDefinitionKey": args.key} if args.key else {}
    for item in _request(args, "GET", "/process-instance", params=params):
        print(f"{item['id']}  {_text(item.get('definitionKey'))}  {_text(item.get('businessKey'))}")
    return 0


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=default_url(),
        help="the REST API root (default http://$REDTASK_GATEWAY_HOST:$REDTASK_GATEWAY_PORT"
        "/engine-rest, else http://127.0.0.1:8080/engine-rest)",
    )
    parser.add_argument("--user", help="USER:PASSWORD for HTTP Basic authentication")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")


def add_process_commands(sub: Any) -> None:
    """Register the commands on ``build_parser``'s subparsers."""
    start = sub.add_parser(
        "start",
        help="start a process instance of KEY (its latest version)",
        description="POST /process-definition/key/KEY/start and print the new instance id "
        "(followed by 'ended' if it already ended). Exits 1 with the gateway's reason on "
        "failure.",
    )
    start.add_argument("key", metavar="KEY", help="process definition key, e.g. order")
    start.add_argument(
        "--var",
        action="append",
        type=parse_var,
        default=[],
        metavar="NAME[:TYPE]=VALUE",
        help="a variable; untyped values become Integer/Long, Double, Boolean, Null or String "
        "like Camunda's; NAME:TYPE=VALUE forces a type (e.g. amount:Double=5). Repeatable.",
    )
    start.add_argument("--business-key", help="the instance's business key")
    _client_options(start)
    start.set_defaults(func=cmd_start)

    instances = sub.add_parser(
        "instances",
        help="list running process instances",
        description="GET /process-instance and print one line per instance: "
        "id, definition key, business key ('-' when none).",
    )
    instances.add_argument("--key", help="only instances of this process definition key")
    _client_options(instances)
    instances.set_defaults(func=cmd_instances)
