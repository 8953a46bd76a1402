"""Running the gateway under uvicorn with a shutdown that answers parked long polls at once.

uvicorn waits for in-flight requests before it runs the app's shutdown; a parked fetchAndLock
could hold it for up to 30 minutes. On SIGTERM/SIGINT we first tell the wake hub to close, so
every parked poll answers ``[]`` immediately, then let uvicorn drain as usual.
"""

from __future__ import annotations

import gc
from types import FrameType

import uvicorn
from fastapi import FastAPI

from redtask.broker.settings import Settings
from redtask.gateway.app import create_app


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        hub = getattr(self.app.state, "hub", None)
        if hub is not None and hub.loop is not None:
            hub.loop.call_soon_threadsafe(hub.close)
        super().handle_exit(sig, frame)
        # the shutdown is complete and graceful: exit 0 instead of re-raising the signal
        self._captured_signals.clear()


def serve(
    settings: Settings, host: str, port: int, log_level: str = "info", access_log: bool = False
) -> None:
    app = create_app(settings, access_log=access_log)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # uvicorn's records go through the process's one set-up (--log-format)
        access_log=False,  # redtask's own (--access-log) carries route and request id
        timeout_graceful_shutdown=10,
    )
    # what startup built (modules, routes, models) lives as long as the process: keep it out
    # of the collector's scans, which otherwise add milliseconds to some requests
    gc.collect()
    gc.freeze()
    GatewayServer(config, app).run()  # uvicorn picks the loop (uvloop when installed)
