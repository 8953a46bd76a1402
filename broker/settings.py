"""Configuration from the environment (prefix ``REDTASK_``), e.g. ``REDTASK_REDIS_URL``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from redtask.broker.redis_url import redis_address


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDTASK_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        description="redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, "
        "redis+sentinel:// or rediss+sentinel:// URL (broker/redis_url.py); "
        "unset = `redtask up` embeds a server",
    )
    redis_max_connections: int = Field(
        default=200, ge=1, description="Redis connections per process; more requests wait"
    )
    redis_pool_timeout_s: float = Field(
        default=20.0, gt=0, description="how long a request waits for a free connection"
    )
    redis_socket_timeout_s: float = Field(
        default=5.0, gt=0, description="longest wait for a Redis reply (then 503)"
    )
    redis_connect_timeout_s: float = Field(
        default=2.0, gt=0, description="longest wait to connect to Redis"
    )
    wait_replicas: int = Field(
        default=0,
        ge=0,
        le=16,
        description="replicas every state change must reach (WAIT) before it is acknowledged",
    )
    wait_replicas_timeout_ms: int = Field(
        default=1_000, ge=1, description="how long a state change waits for its replicas (503)"
    )
    redis_startup_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="how long a starting process retries an unreachable Redis before it exits",
    )
    namespace: str = Field(default="redtask", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    partitions: int = Field(default=1, ge=1, le=1024)
    data_dir: Path = Path("redtask-data")

    max_variables_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_error_details_bytes: int = Field(
        default=64 * 1024, ge=1024, description="longer errorDetails are truncated with a marker"
    )
    max_topic_length: int = Field(default=255, ge=1)
    finished_log_length: int = Field(
        default=10_000, ge=0, description="entries kept per partition in the finished-task log"
    )
    history_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="how long ended process instances are kept"
    )
    fetch_scan_budget: int = Field(default=2_000, ge=1)
    reclaim_batch: int = Field(default=100, ge=1)

    scheduler_interval_ms: int = Field(default=50, ge=1)
    scheduler_batch: int = Field(default=500, ge=1)
    scheduler_id: str | None = None
    timer_retry_delay_ms: int = Field(
        default=5_000,
        ge=0,
        le=86_400_000,
        description="delay before a timer whose step failed is tried again",
    )

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    gateway_root_path: str = "/engine-rest"
    gateway_max_tasks: int = Field(default=1_000, ge=1, description="largest maxTasks accepted")
    gateway_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    gateway_max_parked_polls: int = Field(default=10_000, ge=1)
    timezone: str = Field(default="UTC", description="zone of dates in REST responses")

    auth_enabled: bool = False
    auth_users: str = Field(default="", description="user:password pairs, comma-separated")
    auth_users_file: Path | None = Field(
        default=None, description="file with one user:password per line (e.g. a mounted secret)"
    )
    run_token: str = Field(
        default="", description="set by redtask up: /health/ready echoes it in X-Redtask-Run"
    )
    auth_open_docs: bool = Field(
        default=False, description="with auth on, serve /openapi.json, /docs, /redoc anonymously"
    )

    def redis_address(self) -> str:
        """Where ``redis_url`` points, without credentials: ``host:port``, a socket path, or
        the seed nodes / sentinels (and service) of a cluster or Sentinel URL."""
        return redis_address(self.redis_url or "")
