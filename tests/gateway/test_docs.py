"""/docs and /redoc load every script, style and icon from the gateway itself (no CDN), so they
work offline."""

from __future__ import annotations

import re

import httpx
import pytest

LOCAL_ASSETS = {
    "/docs": ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"],
    "/redoc": ["/docs-assets/redoc.standalone.js"],
}


@pytest.mark.parametrize("page", sorted(LOCAL_ASSETS))
async def test_the_api_docs_pages_reference_only_assets_the_gateway_serves(
    client: httpx.AsyncClient, page: str
) -> None:
    html = (await client.get(page)).text

    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    references += re.findall(r"""url: ?["']([^"']+)["']""", html)
    assert [r for r in references if "//" in r] == []  # nothing from another host
    for asset in [*LOCAL_ASSETS[page], "/docs-assets/favicon.png"]:
        assert asset in html
        answer = await client.get(asset)
        assert answer.status_code == 200
        assert len(answer.content) > 4_000
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "redtask"


async def test_the_swagger_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    answer = await client.get("/docs/oauth2-redirect")
    assert answer.status_code == 200
    assert "oauth2" in answer.text
