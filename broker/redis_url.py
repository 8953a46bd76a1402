"""The one Redis URL (``REDTASK_REDIS_URL``) and the topology it names.

=====================================================================  ==========================
form                                                                   mode
=====================================================================  ==========================
``redis://[user:pass@]host[:port][/db]``, ``rediss://…`` (TLS)          one server
``unix://[user:pass@]/path/to/socket[?db=N]``                           one server, Unix socket
``redis+cluster://[user:pass@]host:port[,host:port…]``                  Redis Cluster (seed nodes)
``rediss+cluster://…``                                                  Redis Cluster over TLS
``redis+sentinel://[user:pass@]host:port[,host:port…]/service[/db]``    Sentinel: the master of
``rediss+sentinel://…``                                                 ``service`` (TLS to all)
=====================================================================  ==========================

A cluster has no databases, so a cluster URL with a path is refused. The credentials of a
Sentinel URL are the master's (sentinels are reached without them). Parsing is linear in the
URL's length, which is bounded, as is the number of hosts; every refusal is a
``ConfigurationError`` that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from redtask.broker.errors import ConfigurationError

Mode = Literal["standalone", "cluster", "sentinel"]
MAX_URL_LENGTH = 4096
MAX_HOSTS = 64
_SCHEMES: dict[str, tuple[Mode, bool]] = {
    "redis": ("standalone", False),
    "rediss": ("standalone", True),
    "unix": ("standalone", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
_DEFAULT_PORT = {"standalone": 6379, "cluster": 6379, "sentinel": 26379}


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL names. ``url`` is the URL itself (a standalone client is built from it
    as redis-py reads it); ``hosts`` are the seed nodes or sentinels of the other modes."""

    mode: Mode
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    username: str | None = None
    password: str | None = None
    tls: bool = False
    db: int = 0
    service: str | None = None

    def address(self) -> str:
        """Where the URL points, without credentials (for messages and logs)."""
        if self.mode == "standalone":
            return _standalone_address(self.url)
        where = ",".join(f"{_host_text(h)}:{p}" for h, p in self.hosts)
        return f"{where}/{self.service}" if self.mode == "sentinel" else where


def parse_redis_url(url: str) -> RedisTarget:
    """The topology ``url`` names; raises ConfigurationError for a malformed URL."""
    if len(url) > MAX_URL_LENGTH:
        raise ConfigurationError(f"Redis URL longer than {MAX_URL_LENGTH} characters")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ConfigurationError(
            f"Redis URL must start with one of {known} (got {_redacted(url)!r})"
        )
    mode, tls = _SCHEMES[scheme.lower()]
    if mode == "standalone":
        return RedisTarget("standalone", url, tls=tls)
    location, _, query = rest.partition("?")
    if query:
        raise ConfigurationError(f"a {scheme}:// URL takes no query parameters ({query!r})")
    netloc, _, path = location.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = _hosts(hostlist, _DEFAULT_PORT[mode], scheme)
    segments = [s for s in path.split("/") if s] if path else []
    if mode == "cluster":
        if segments:
            raise ConfigurationError(
                f"a Redis Cluster has no databases: remove '/{path}' from the {scheme}:// URL"
            )
        return RedisTarget("cluster", url, hosts, username, password, tls)
    if not segments or len(segments) > 2:
        raise ConfigurationError(
            f"a {scheme}:// URL names the master: {scheme}://host:26379[,host…]/service[/db]"
        )
    db = _db(segments[1]) if len(segments) == 2 else 0
    service = unquote(segments[0])
    return RedisTarget("sentinel", url, hosts, username, password, tls, db, service)


def redis_address(url: str) -> str:
    """Where a Redis URL points, without credentials; a malformed URL is described as such."""
    if "://" not in url:  # unset or bare: what redis-py would assume
        return _standalone_address(url)
    try:
        return parse_redis_url(url).address()
    except ConfigurationError:
        return "an invalid Redis URL"


def _hosts(hostlist: str, default_port: int, scheme: str) -> tuple[tuple[str, int], ...]:
    if not hostlist:
        raise ConfigurationError(f"a {scheme}:// URL needs at least one host:port")
    items = hostlist.split(",")
    if len(items) > MAX_HOSTS:
        raise ConfigurationError(f"a Redis URL lists at most {MAX_HOSTS} hosts")
    hosts = []
    for item in items:
        if item.startswith("["):  # [IPv6]:port
            host, bracket, tail = item[1:].partition("]")
            if not bracket or (tail and not tail.startswith(":")):
                raise ConfigurationError(f"bad host in Redis URL: {item!r}")
            port_text = tail[1:]
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise ConfigurationError(f"empty host in Redis URL: {hostlist!r}")
        port = default_port
        if port_text:
            if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
                raise ConfigurationError(f"bad port in Redis URL: {item!r}")
            port = int(port_text)
        hosts.append((host, port))
    return tuple(hosts)


def _db(text: str) -> int:
    if not text.isdigit() or len(text) > 5:
        raise ConfigurationError(f"the database in a Redis URL must be a number, not {text!r}")
    return int(text)


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _standalone_address(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        port = parts.port or 6379
    except ValueError:  # not a number: the client will say so
        port = 6379
    return f"{parts.hostname or 'localhost'}:{port}"


def _redacted(url: str) -> str:
    """``url`` with anything between ``://`` and ``@`` hidden, cut to 100 characters."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return (scheme + sep + netloc + slash + tail)[:100]
