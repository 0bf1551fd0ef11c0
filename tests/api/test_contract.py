"""The API manual and the headers every reply carries: what a client generator, a browser
and a security scanner read. No database needed: the app is only asked for documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from wallet.app import create_app

ERROR_REF = {"$ref": "#/components/schemas/ErrorReply"}


@pytest.fixture
async def app_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http


@pytest.fixture
async def document(app_client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await app_client.get("/schema/openapi.json")
    assert reply.status_code == 200
    return reply.json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


async def test_every_documented_error_has_our_shape_never_litestars(document):
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            body = response.get("content", {}).get("application/json")
            if body is None:
                assert "text/html" in response["content"], (method, path, status)
                continue
            assert body["schema"] == ERROR_REF, (method, path, status, body)
    assert document["components"]["schemas"]["ErrorReply"]["required"] == ["code", "message"]


PUBLIC_API = {"/api/v1/cards", "/api/v1/signin/code", "/api/v1/signin/token"}


async def test_guarded_routes_document_401_and_403_and_routes_with_ids_404(document):
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        # Joining and signing in by code are what a stranger does: no key.
        if path.startswith("/api/v1/") and path not in PUBLIC_API:
            assert {"401", "403"} <= set(responses), (method, path)
            assert "security" not in operation, (method, path)
        if "{" in path:
            assert {"400", "404"} <= set(responses), (method, path)


async def test_public_routes_need_no_key(document):
    public = {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/api/v1/cards"),
        ("POST", "/api/v1/signin/code"),
        ("POST", "/api/v1/signin/token"),
        ("GET", "/unsubscribe"),
        ("POST", "/unsubscribe"),
    }
    found = {(m, p): op for m, p, op in _operations(document)}
    for key in public:
        assert found[key]["security"] == [], key
    assert document["security"] == [{"bearer": []}]


async def test_unsubscribe_is_documented_as_the_html_page_it_answers(document):
    for method in ("get", "post"):
        operation = document["paths"]["/unsubscribe"][method]
        assert list(operation["responses"]["200"]["content"]) == ["text/html"]
        assert "text/html" in operation["responses"]["400"]["content"]


async def test_what_routes_really_answer_is_documented(document):
    paths = document["paths"]
    assert "503" in paths["/ready"]["get"]["responses"]
    passkit = "/passkit/v1/devices/{device_id}/registrations/{pass_type_id}"
    assert "204" in paths[passkit]["get"]["responses"]
    assert "404" in paths["/api/v1/cards"]["post"]["responses"]  # an unknown join_store


async def test_bodies_that_refuse_unknown_fields_say_so(document):
    schemas = document["components"]["schemas"]
    for name in ("EnrolIn", "ReceiptIn", "AdjustmentIn", "SegmentFilter", "CampaignIn"):
        assert schemas[name]["additionalProperties"] is False, name


async def test_pages_and_api_replies_carry_the_browser_safety_headers(app_client):
    for url in ("/health", "/unsubscribe?token=x", "/no/such/route", "/schema"):
        reply = await app_client.get(url)
        headers = reply.headers
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["x-frame-options"] == "DENY", url
        assert "camera=()" in headers["permissions-policy"], url
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, url
        assert "default-src 'none'" in policy, url
        assert "unsafe-eval" not in policy and "script-src 'unsafe-inline'" not in policy, url
    page = await app_client.get("/unsubscribe?token=x")
    assert page.headers["content-type"] == "text/html; charset=utf-8"


async def test_the_manual_loads_its_viewer_from_us_not_a_cdn(app_client):
    page = await app_client.get("/schema")
    assert page.status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        reply = await app_client.get(f"/schema/assets/{asset}")
        assert reply.status_code == 200 and len(reply.content) > 100, asset
    assert (await app_client.get("/schema/assets/..%2Fcore.py")).status_code == 404
    assert "script-src 'self'" in page.headers["content-security-policy"]
