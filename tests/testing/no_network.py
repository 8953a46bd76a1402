"""A pytest plugin (``-p tests.testing.no_network``) under which no socket may connect or
listen: a test that passes with it needs neither a Redis server nor any other service."""

from __future__ import annotations

import socket
from typing import Any, NoReturn


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise OSError("the network is off for this test run")


socket.socket.connect = _refuse  # type: ignore[method-assign]
socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
socket.socket.bind = _refuse  # type: ignore[method-assign]
socket.create_connection = _refuse
