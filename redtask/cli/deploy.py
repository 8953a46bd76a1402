"""``redtask deploy``: BPMN resources to a running gateway's ``POST /deployment/create``, over
its REST API (httpx is imported lazily), with a readable account of a refusal."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


def _deploy_error(response: Any) -> str:
    """A readable account of a failed ``POST /deployment/create``."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text.strip()}"
    lines = [f"HTTP {response.status_code} {body.get('type')}: {body.get('message')}"]
    if body.get("type") == "ParseException":
        lines = [f"HTTP {response.status_code} ParseException: the BPMN is invalid"]
        for resource, report in (body.get("details") or {}).items():
            for problem in report.get("errors", []):
                where = f"line {problem.get('line')}" if problem.get("line") else ""
                element = problem.get("mainBpmnElementId")
                where += f"{', ' if where else ''}element {element}" if element else ""
                lines.append(f"  {resource}{f' ({where})' if where else ''}: {problem['message']}")
    return "\n".join(lines)


def cmd_deploy(args: argparse.Namespace) -> int:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the command reports for itself
    files = []
    for i, name in enumerate(args.files):
        path = Path(name)
        try:
            files.append((f"resource{i}", (path.name, path.read_bytes(), "application/xml")))
        except OSError as exc:
            sys.exit(f"redtask deploy: cannot read {name}: {exc.strerror}")
    form = {"enable-duplicate-filtering": str(args.duplicate_filtering).lower()}
    form["deploy-changed-only"] = str(args.changed_only).lower()
    for field, value in (
        ("deployment-name", args.name),
        ("deployment-source", args.source),
        ("tenant-id", args.tenant_id),
    ):
        if value is not None:
            form[field] = value
    url = args.url.rstrip("/") + "/deployment/create"
    auth = None
    if args.user is not None:
        user, colon, password = args.user.partition(":")
        if not colon:
            sys.exit("redtask deploy: --user must be USER:PASSWORD")
        auth = (user, password)
    try:
        response = httpx.post(url, files=files, data=form, auth=auth, timeout=args.timeout)
    except httpx.HTTPError as exc:
        sys.exit(f"redtask deploy: cannot reach {url}: {exc}")
    if response.status_code != 200:
        sys.exit(f"redtask deploy: {_deploy_error(response)}")
    body = response.json()
    print(f"deployment {body['id']}")
    definitions = body.get("deployedProcessDefinitions")
    if not definitions:
        print("  no new process definitions (nothing changed, or no executable process)")
    for definition in (definitions or {}).values():
        print(
            f"  {definition['id']}  key={definition['key']} version={definition['version']}"
            f" resource={definition['resource']}"
        )
    return 0
