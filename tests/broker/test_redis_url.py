"""REDTASK_REDIS_URL: the topology each URL form names, and clear refusals of bad ones."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from redtask.broker.connection import client_for
from redtask.broker.errors import ConfigurationError
from redtask.broker.redis_url import RedisTarget, parse_redis_url, redis_address
from redtask.broker.settings import Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h:6380/2", RedisTarget("standalone", "redis://h:6380/2")),
        ("rediss://:pw@h/0", RedisTarget("standalone", "rediss://:pw@h/0", tls=True)),
        ("unix:///run/redis.sock?db=3", RedisTarget("standalone", "unix:///run/redis.sock?db=3")),
        (
            "redis+cluster://a:7000,b:7001,[::1]:7002",
            RedisTarget(
                "cluster",
                "redis+cluster://a:7000,b:7001,[::1]:7002",
                (("a", 7000), ("b", 7001), ("::1", 7002)),
            ),
        ),
        (
            "rediss+cluster://app:s%40cret@node",
            RedisTarget(
                "cluster",
                "rediss+cluster://app:s%40cret@node",
                (("node", 6379),),
                "app",
                "s@cret",
                tls=True,
            ),
        ),
        (
            "redis+cluster://:pw@a:1/",
            RedisTarget("cluster", "redis+cluster://:pw@a:1/", (("a", 1),), None, "pw"),
        ),
        (
            "redis+sentinel://s1,s2:26380/mymaster",
            RedisTarget(
                "sentinel",
                "redis+sentinel://s1,s2:26380/mymaster",
                (("s1", 26379), ("s2", 26380)),
                service="mymaster",
            ),
        ),
        (
            "rediss+sentinel://u:p@s1:5000/svc/4",
            RedisTarget(
                "sentinel",
                "rediss+sentinel://u:p@s1:5000/svc/4",
                (("s1", 5000),),
                "u",
                "p",
                tls=True,
                db=4,
                service="svc",
            ),
        ),
        (
            "REDIS+SENTINEL://user@s1/svc",
            RedisTarget(
                "sentinel",
                "REDIS+SENTINEL://user@s1/svc",
                (("s1", 26379),),
                "user",
                None,
                service="svc",
            ),
        ),
    ],
)
def test_each_url_form_names_its_topology(url: str, expected: RedisTarget) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h:6379", "Redis URL must start with one of redis://, rediss://, unix://"),
        ("localhost:6379", "Redis URL must start with one of"),
        ("redis+cluster://a:1/0", "a Redis Cluster has no databases: remove '/0'"),
        ("redis+cluster://a:1/db/2", "a Redis Cluster has no databases: remove '/db/2'"),
        ("redis+cluster://", "a redis+cluster:// URL needs at least one host:port"),
        ("redis+cluster://pw@", "a redis+cluster:// URL needs at least one host:port"),
        ("redis+cluster://a:1,,b:2", "empty host in Redis URL"),
        ("redis+cluster://a:x", "bad port in Redis URL: 'a:x'"),
        ("redis+cluster://a:0", "bad port in Redis URL: 'a:0'"),
        ("redis+cluster://a:65536", "bad port in Redis URL: 'a:65536'"),
        ("redis+cluster://a:-1", "bad port in Redis URL: 'a:-1'"),
        ("redis+cluster://[::1", "bad host in Redis URL: '[::1'"),
        ("redis+cluster://[::1]x", "bad host in Redis URL: '[::1]x'"),
        ("redis+cluster://a:1?ssl=true", "takes no query parameters ('ssl=true')"),
        ("redis+sentinel://s1:26379", "a redis+sentinel:// URL names the master"),
        ("redis+sentinel://s1:26379/", "a redis+sentinel:// URL names the master"),
        ("redis+sentinel://s1/svc/0/1", "a redis+sentinel:// URL names the master"),
        ("redis+sentinel://s1/svc/one", "the database in a Redis URL must be a number, not 'one'"),
        ("redis+cluster://" + ",".join(["h:1"] * 65), "a Redis URL lists at most 64 hosts"),
        ("redis+cluster://" + "h" * 5000, "Redis URL longer than 4096 characters"),
    ],
)
def test_a_bad_url_is_refused_with_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_redis_url(url)
    assert message in str(info.value)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_redis_url("http://user:hunter2@h:1/0")
    assert "hunter2" not in str(info.value)
    assert "'http://***@h:1/0'" in str(info.value)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://u:pw@h:6380/1", "h:6380"),
        ("unix:///tmp/r.sock", "/tmp/r.sock"),
        ("", "localhost:6379"),
        ("redis+cluster://u:pw@a:1,[::1]:2", "a:1,[::1]:2"),
        ("redis+sentinel://:pw@s1,s2:5/svc/2", "s1:26379,s2:5/svc"),
        ("redis+cluster://a:1/0", "an invalid Redis URL"),
    ],
)
def test_the_address_in_messages_has_no_credentials(url: str, address: str) -> None:
    assert redis_address(url) == address
    assert Settings(redis_url=url).redis_address() == address


def test_client_for_refuses_a_bad_url_before_connecting() -> None:
    with pytest.raises(ConfigurationError, match="has no databases"):
        client_for("redis+cluster://127.0.0.1:1/3")


@pytest.mark.parametrize("command", ["gateway", "scheduler"])
def test_a_process_given_a_bad_url_exits_1_with_one_line(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDTASK_")}
    env["REDTASK_REDIS_URL"] = "redis+cluster://u:hunter2@127.0.0.1:7000/0"
    result = subprocess.run(
        [sys.executable, "-m", "redtask", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"redtask {command}: a Redis Cluster has no databases: "
        "remove '/0' from the redis+cluster:// URL\n"
    )
