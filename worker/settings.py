"""Worker configuration from the environment (``REDTASK_WORKER_*``); CLI flags override it.
The Redis transport reads the broker's own settings (``REDTASK_REDIS_URL``, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from redtask.worker.transport.base import Transport


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDTASK_WORKER_", extra="ignore")

    transport: Literal["rest", "redis"] = Field(
        default="rest", description="rest: Camunda REST API at `url`; redis: straight to Redis"
    )
    url: str = Field(default="http://127.0.0.1:8080/engine-rest", description="REST API base URL")
    username: str | None = Field(default=None, description="HTTP Basic user for the REST API")
    password: str | None = Field(default=None, description="HTTP Basic password")
    worker_id: str | None = Field(default=None, description="default: hostname-pid")
    concurrency: int | None = Field(default=None, ge=1, description="tasks in flight at once")
    grace_s: float | None = Field(default=None, ge=0, description="shutdown grace period")
    lanes: int | None = Field(
        default=None, ge=1, description="most poll lanes of the redis transport (default 2)"
    )


def make_transport(settings: WorkerSettings, redis_url: str | None = None) -> Transport:
    """The transport ``settings`` name; ``redis_url`` overrides REDTASK_REDIS_URL."""
    if settings.transport == "redis":
        from redtask.broker.settings import Settings
        from redtask.worker.transport.redis import RedisTransport

        broker_settings = Settings() if redis_url is None else Settings(redis_url=redis_url)
        if settings.lanes is None:
            return RedisTransport(broker_settings)
        return RedisTransport(broker_settings, lanes=settings.lanes)
    from redtask.worker.transport.rest import RestTransport

    auth = None
    if settings.username is not None:
        auth = (settings.username, settings.password or "")
    return RestTransport(settings.url, auth=auth)
