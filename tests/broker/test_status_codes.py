"""The scripts' status codes have one source, ``scripts/_status.lua``: Python reads them from
there, every code a script returns is declared there and maps to one exception. Scripts and
their helpers are found and assembled without a hand-kept list."""

from __future__ import annotations

import pickle
import re
from importlib import resources

import pytest

from redtask.broker import errors, scripts
from redtask.broker.connection import client_for

FOLDER = resources.files("redtask.broker.scripts")
# the codes a caller handles before raise_for: answers, not errors
ANSWERS = {"OK", "E_PROCESS", "E_CONFLICT"}


def _code(text: str) -> str:
    """Lua text without comments (the headers name codes in prose)."""
    text = re.sub(r"--\[\[.*?\]\]", "", text, flags=re.S)
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def test_every_code_a_script_uses_is_declared_in_the_one_include() -> None:
    declared = scripts.status_codes()
    for entry in FOLDER.iterdir():
        if not entry.name.endswith(".lua") or entry.name == "_status.lua":
            continue
        code = _code(entry.read_text())
        assert not re.search(r"local\s+(OK|E_[A-Z_]+)\s*=", code), entry.name
        assert set(re.findall(r"\b(?:OK|E_[A-Z_]+)\b", code)) <= set(declared), entry.name


async def test_python_sees_the_values_the_scripts_return(redis_url: str) -> None:
    names = list(scripts.status_codes())
    source = _read("_status.lua")
    client = client_for(redis_url)
    try:
        values = await client.eval(f"{source}\nreturn {{{', '.join(names)}}}", 0)
    finally:
        await client.aclose()
    assert dict(zip(names, values, strict=True)) == errors.CODES
    assert {name: getattr(errors, name) for name in names} == errors.CODES


def _read(name: str) -> str:
    return FOLDER.joinpath(name).read_text()


def test_each_error_code_raises_its_own_exception() -> None:
    raised: dict[str, type[Exception]] = {}
    for name, code in errors.CODES.items():
        if name not in ANSWERS:
            with pytest.raises(errors.BrokerError) as caught:
                errors.raise_for([code, "7"], task_id="t")
            raised[name] = type(caught.value)
    assert errors.BrokerError not in raised.values()
    assert len(set(raised.values())) == len(raised)
    errors.raise_for([errors.OK])  # OK raises nothing


@pytest.mark.parametrize("name", ["E_PROCESS", "E_CONFLICT"])
def test_an_answer_that_reaches_raise_for_is_not_swallowed(name: str) -> None:
    with pytest.raises(errors.BrokerError, match="unexpected script status"):
        errors.raise_for([errors.CODES[name]])


def test_every_script_file_is_found_and_includes_are_not_scripts() -> None:
    files = {e.name for e in FOLDER.iterdir() if e.name.endswith(".lua")}
    assert set(scripts.NAMES) == {f[:-4] for f in files if not f.startswith("_")}
    assert "advance" in scripts.NAMES and "_lib" not in scripts.NAMES


def test_helpers_are_delimited_by_their_blocks_not_their_indentation() -> None:
    include = """-- a header
local LIMIT = 3

-- used by b
  local function a(x)
    if x then
      for i = 1, 2 do x = x .. 'end' end
    end
return x
     end
local function b(y) return a(y) end
local function c() return "function" end
"""
    blocks = scripts._split(include)
    assert [name for name, _ in blocks] == [None, "a", "b", "c"]
    assert dict(blocks)["a"].startswith("-- used by b\n  local function a(x)")
    assert dict(blocks)["a"].endswith("     end\n")
    functions = {n: text for n, text in blocks if n is not None}
    assert scripts._needed("return b(1)", functions) == {"a", "b"}


def test_a_script_gets_only_the_helpers_it_uses() -> None:
    unlock = scripts.source("unlock")
    assert "local function owned_task" not in unlock or "owned_task(" in _read("unlock.lua")
    assert "local function history_trim" not in unlock
    assert "local function history_trim" in scripts.source("trim_history")
    assert "local E_CONFLICT = -9" in unlock  # the codes are text, always kept


@pytest.mark.parametrize(
    "error",
    [
        errors.WorkerMismatch("t1", "w1", "w2", "complete"),
        errors.StaleLock("t1", 3, 4),
        errors.LockExpired("t1", 5),
        errors.TaskNotFound("t1"),
        errors.InvalidVariable("bad", kind="ProcessEngineException"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_broker_error_crosses_a_process_boundary_intact(error: errors.BrokerError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.args, again.__dict__) == (type(error), error.args, error.__dict__)
