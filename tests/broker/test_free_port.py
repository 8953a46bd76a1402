"""Ports picked for servers started a moment later (embedded Redis, test servers, local pods)
stay out of the kernel's ephemeral range, so no outgoing connection can take one in between."""

from __future__ import annotations

import socket

import pytest

from redtask.broker import embedded
from redtask.broker.embedded import cluster_free_port, ephemeral_ports, free_port


def test_ports_are_below_the_ephemeral_range_and_never_repeat() -> None:
    low, high = ephemeral_ports()
    assert 1024 <= low <= high <= 65535
    picked = [free_port() for _ in range(200)]
    assert len(set(picked)) == 200
    assert all(embedded.LOWEST_PICKED_PORT <= p < low for p in picked)
    for port in picked[:20]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_port_something_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = free_port()
        embedded._handed_out.discard(other)
        choices = iter([taken, other])
        monkeypatch.setattr(embedded.random, "randrange", lambda a, b: next(choices))
        assert free_port() == other


def test_cluster_ports_leave_their_bus_port_free_and_below_the_range() -> None:
    low, _ = ephemeral_ports()
    for _ in range(20):
        port = cluster_free_port()
        assert port + 10000 < low
        assert port <= embedded.CLUSTER_MAX_PORT
        with socket.socket() as node, socket.socket() as bus:
            node.bind(("127.0.0.1", port))
            bus.bind(("127.0.0.1", port + 10000))


def test_without_room_below_the_range_the_kernel_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "ephemeral_ports", lambda: (10500, 60999))
    port = free_port()
    assert 10500 <= port <= 60999
