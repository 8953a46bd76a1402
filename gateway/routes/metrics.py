"""``GET /metrics``: the gateway's Prometheus metrics and the broker's state, in the text format.

Outside the REST API's root, like the probes, so it needs no credentials when auth is on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = await request.app.state.metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
