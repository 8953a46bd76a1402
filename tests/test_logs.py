"""The shared logging set-up: JSON lines with a UTC ISO-8601 time, level, logger, message and
the ids a call passes; text lines with the same ids; the format from the environment."""

from __future__ import annotations

import json
import logging
import re

import pytest

from redtask.logs import configure_logging, resolve_format


@pytest.fixture(autouse=True)
def _restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_and_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("redtask.worker").info(
        "task %s completed",
        "t1",
        extra={"task_id": "t1", "topic": "orders", "worker_id": "w1", "process_instance_id": "p1"},
    )
    logging.getLogger("redtask.worker").debug("not shown")
    logging.getLogger("httpx").info("HTTP Request: POST ... 200 OK")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("time"))
    assert entry == {
        "level": "INFO",
        "logger": "redtask.worker",
        "message": "task t1 completed",
        "task_id": "t1",
        "topic": "orders",
        "worker_id": "w1",
        "process_instance_id": "p1",
    }


def test_text_lines_append_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "text")
    logging.getLogger("redtask.x").warning("retry", extra={"task_id": "t9", "topic": "a"})
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"\S+Z WARNING redtask.x: retry task_id=t9 topic=a", line)


def test_the_format_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDTASK_LOG_FORMAT", "JSON")
    assert resolve_format(None) == "json"
    assert resolve_format("text") == "text"
    monkeypatch.delenv("REDTASK_LOG_FORMAT")
    assert resolve_format(None) == "text"
    with pytest.raises(ValueError, match="log format must be one of text, json, not 'xml'"):
        resolve_format("xml")
