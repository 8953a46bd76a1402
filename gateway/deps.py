"""Dependencies shared by the routes (short Annotated aliases)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated

from fastapi import Depends, Request

from redtask.broker.definitions import Definitions
from redtask.broker.settings import Settings
from redtask.broker.store import Store
from redtask.gateway.longpoll import WakeHub


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_definitions(request: Request) -> Definitions:
    """Deployments and process definitions: the store's component."""
    store: Store = request.app.state.store
    return store.definitions


async def get_hub(request: Request) -> WakeHub:
    hub: WakeHub = request.app.state.hub
    return hub


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_timezone(request: Request) -> tzinfo:
    tz: tzinfo = request.app.state.timezone
    return tz


StoreDep = Annotated[Store, Depends(get_store)]
DefinitionsDep = Annotated[Definitions, Depends(get_definitions)]
HubDep = Annotated[WakeHub, Depends(get_hub)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TimezoneDep = Annotated[tzinfo, Depends(get_timezone)]
