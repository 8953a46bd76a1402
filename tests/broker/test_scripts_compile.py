"""Every script (with its included helpers) compiles on the server."""

from __future__ import annotations

import pytest

from redtask.broker import scripts
from redtask.broker.connection import client_for


@pytest.mark.parametrize("name", scripts.NAMES)
async def test_the_script_loads(redis_url: str, name: str) -> None:
    client = client_for(redis_url)
    try:
        sha = await client.script_load(scripts.source(name))
        assert await client.script_exists(sha) == [True]
    finally:
        await client.aclose()
