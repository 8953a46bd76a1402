"""SQL ``LIKE`` (``%`` any run, ``_`` one character, no escape character) without backtracking.

Patterns come from clients, so neither a regular expression nor a Lua pattern with quantifiers may
evaluate them: ``%%%%%%%%b`` as ``.*.*.*.*.*.*.*.*b`` takes time exponential in the number of
``%``. Instead the pattern is split on ``%``: the first segment is anchored at the start, the last
at the end, and the middle segments are found left to right, each at its leftmost place (greedy
leftmost is correct for LIKE: an earlier match leaves the later segments more room). Each search
resumes where the previous match ended, so the work is linear in the value for segments without
``_`` and at most ``len(value) * len(pattern) / 64`` word operations with them.
"""

from __future__ import annotations

# Lua's magic characters; everything else in a quantifier-free Lua pattern is itself.
_LUA_MAGIC = frozenset("^$()%.[]*+-?")


def like(value: str, pattern: str) -> bool:
    """Whether ``value`` matches the SQL LIKE ``pattern`` (case-sensitive)."""
    segments = pattern.split("%")
    if len(segments) == 1:
        return len(value) == len(pattern) and _at(value, pattern, 0)
    first, last = segments[0], segments[-1]
    end = len(value) - len(last)
    if end < len(first) or not _at(value, first, 0) or not _at(value, last, end):
        return False
    pos = len(first)
    for segment in segments[1:-1]:
        found = _find(value, segment, pos, end)
        if found < 0:
            return False
        pos = found + len(segment)
    return True


def _at(value: str, segment: str, index: int) -> bool:
    """Whether ``segment`` (with ``_`` for any one character) matches ``value`` at ``index``."""
    if index + len(segment) > len(value):
        return False
    offset = index
    for piece in segment.split("_"):
        if not value.startswith(piece, offset):
            return False
        offset += len(piece) + 1
    return True


def _find(value: str, segment: str, start: int, end: int) -> int:
    """Leftmost index ``i >= start`` where ``segment`` matches and ends by ``end``, or -1."""
    if "_" not in segment:
        return value.find(segment, start, end)
    # Shift-And: bit k of ``state`` says the first k+1 characters of the segment end here.
    masks: dict[str, int] = {}
    wild = 0
    for k, ch in enumerate(segment):
        if ch == "_":
            wild |= 1 << k
        else:
            masks[ch] = masks.get(ch, 0) | 1 << k
    done = 1 << (len(segment) - 1)
    state = 0
    for i in range(start, end):
        state = ((state << 1) | 1) & (masks.get(value[i], 0) | wild)
        if state & done:
            return i - len(segment) + 1
    return -1


def lua_spec(pattern: str) -> dict[str, object]:
    """The pattern for ``fetch_and_lock.lua``: ``s`` the Lua patterns it finds one after another,
    each from where the previous one ended (the first anchored with ``^``, the last with ``$``),
    and ``n`` the fewest bytes a matching value has. Each pattern is free of quantifiers (``_``
    becomes ``.``, one byte as before), so Lua matches it without backtracking; empty middle
    segments (``%%``) are dropped and values shorter than ``n`` are refused at once, so a value is
    searched at most once per byte it has, however long the pattern."""
    parts = pattern.split("%")
    least = sum(len(p.encode("utf-8", "surrogatepass")) for p in parts)
    if len(parts) == 1:
        return {"s": ["^" + _lua_literal(pattern) + "$"], "n": least}
    middle = [_lua_literal(p) for p in parts[1:-1] if p]
    segments = ["^" + _lua_literal(parts[0]), *middle, _lua_literal(parts[-1]) + "$"]
    return {"s": segments, "n": least}


def _lua_literal(segment: str) -> str:
    out = []
    for ch in segment:
        if ch == "_":
            out.append(".")
        elif ch == "\0":
            out.append("%z")  # Lua 5.1 patterns end at a NUL byte
        elif ch in _LUA_MAGIC:
            out.append("%" + ch)
        else:
            out.append(ch)
    return "".join(out)
