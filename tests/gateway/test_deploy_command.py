"""`redtask deploy FILE...` against a real gateway process: what it prints, and its errors."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.gateway.test_deployment import NO_TOPIC, NO_TOPIC_MESSAGE, SIMPLE, UUID
from tests.processes import gateway_process, redtask_env


def test_redtask_deploy_prints_the_deployment_and_its_definitions(redis_url, namespace, tmp_path):
    (tmp_path / "order.bpmn").write_bytes(SIMPLE)
    (tmp_path / "bad.bpmn").write_bytes(NO_TOPIC)
    with gateway_process(redtask_env(redis_url, namespace)) as base:
        command = [sys.executable, "-m", "redtask", "deploy", "--url", f"{base}/engine-rest"]
        ok = subprocess.run([*command, str(tmp_path / "order.bpmn"), "--name", "orders"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
        bad = subprocess.run(
            [*command, str(tmp_path / "bad.bpmn")], capture_output=True, text=True, timeout=60
        )
    assert ok.returncode == 0, ok.stderr
    assert re.fullmatch(
        rf"deployment {UUID}\n  order:1:{UUID}  key=order version=1 resource=order.bpmn\n",
        ok.stdout,
    )
    assert bad.returncode == 1
    assert bad.stderr == (
        "redtask deploy: HTTP 400 ParseException: the BPMN is invalid\n"
        f"  bad.bpmn (line 5, element no_topic): {NO_TOPIC_MESSAGE}\n"
        "  bad.bpmn (line 4, element p): process must define a startEvent element\n"
    )
    unreachable = subprocess.run(
        [*command, str(tmp_path / "order.bpmn")], capture_output=True, text=True, timeout=60
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(
        f"redtask deploy: cannot reach {base}/engine-rest/deployment/create: "
    )
    missing = subprocess.run(
        [*command, str(tmp_path / "nope.bpmn")], capture_output=True, text=True
    )
    assert (missing.returncode, missing.stderr) == (
        1, f"redtask deploy: cannot read {tmp_path / 'nope.bpmn'}: No such file or directory\n"
    )  # fmt: skip
