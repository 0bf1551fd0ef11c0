"""Schemathesis against the real service: uvicorn on loopback, on SQLite and PostgreSQL,
every operation of ``/schema/openapi.json`` fuzzed with a key of a role it allows (or a
shopper's token), then called a few times with every other role's key and a shopper's
token and with none (served or refused as documented, never a 5xx), seeded and
derandomized so a run repeats exactly.

It asserts what a client relies on: no 5xx, and every reply's status, content type and
body are the ones the document promises. Failures are collected over the whole run (not
stopped at the first) and listed with a curl command each.

``KNOWN_ELSEWHERE`` names the server errors issue 11 reported; the run also sends issue 11's
own reproductions of them (``_probes``), so a regression of any is named whatever the
fuzzer drew. Any failure, known or new, fails the test.

Budget: ``WALLET_FUZZ_EXAMPLES`` examples per operation and generation mode (default 15).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.shop import bearer, iso, line, make_key, make_store
from wallet import clock

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "15"))
# Examples per operation with each role's key it was not fuzzed with (and with none).
OTHER_ROLE_EXAMPLES = max(1, EXAMPLES // 7)
ROLES = ("pos", "support", "marketer", "admin", "shopper")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

BIG = 2**31 - 1


def _ints(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"-?\d+", text)]


def _too_big(text: str) -> bool:
    return any(abs(n) > BIG for n in _ints(text))


# (label, test on method, path template, the URL sent, the body sent)
KNOWN_ELSEWHERE: list[tuple[str, Callable[[str, str, str, str], bool]]] = [
    (
        "integer beyond the column's range in a path or query id",
        lambda _m, _p, url, _b: (
            _too_big(url.split("?", 1)[0].rsplit("/api/", 1)[-1]) or _too_big(url.partition("?")[2])
        ),
    ),
    (
        "/unsubscribe token that is not ASCII (TypeError in compare_digest)",
        lambda _m, path, url, body: (
            path.startswith("/unsubscribe") and any(ord(c) > 127 for c in unquote(url) + body)
        ),
    ),
    (
        "passesUpdatedSince not a number or beyond range (PassKit list)",
        lambda _m, path, _u, _b: (
            path.startswith("/passkit/v1/devices/") and path.endswith("{pass_type_id}")
        ),
    ),
    (
        "huge receipt amounts / points beyond a 32-bit column",
        lambda _m, path, _u, body: path.startswith("/api/v1/pos/") and _too_big(body),
    ),
    (
        "control characters (newline) in a test-send address",
        lambda _m, path, _u, _b: path.endswith("/{campaign_id}/test"),
    ),
    (
        "segment filter with a number beyond range (balance_min and the like)",
        lambda _m, path, _u, body: path.startswith("/api/v1/admin/segments") and _too_big(body),
    ),
    (
        "JSON nested too deep (RecursionError)",
        lambda _m, _p, _u, body: body.count("[") + body.count("{") > 500,
    ),
]


@dataclass
class Found:
    operation: str
    mode: str
    title: str
    message: str
    status: int
    curl: str
    known: str | None

    def line(self) -> str:
        return (
            f"- {self.operation} [{self.mode}] {self.title} (HTTP {self.status})"
            f"{' <- ' + self.known if self.known else ''}\n"
            f"    {self.message.strip().splitlines()[0] if self.message.strip() else ''}\n"
            f"    {self.curl}"
        )


def _known(case: Any, response: Any, failure: Failure) -> str | None:
    if response.status_code < 500:
        return None
    method = case.method.upper()
    path = case.operation.path
    url = response.request.url
    body = response.request.body or b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    for label, matches in KNOWN_ELSEWHERE:
        if matches(method, path, url, text):
            return label
    return None


@dataclass
class Probe:
    """One reproduction from issue 11 of a server error fixed on another branch, sent every
    run so the report names each one still open, whatever the fuzzer happened to draw."""

    label: str
    role: str | None
    method: str
    url: str
    json: Any = None
    content: bytes | None = None


def _probes(card: str) -> list[Probe]:
    huge = 2**64 + 7
    pg_huge = 2**31 + 7
    passkit = "/passkit/v1/devices/dev1/registrations/pass.ru.example.loyalty"
    return [
        *(
            Probe("integer beyond the column's range in a path or query id", role, "GET", url)
            for role, url in [
                ("admin", f"/api/v1/admin/accounts/{huge}"),
                ("admin", f"/api/v1/admin/accounts/{pg_huge}/reconcile"),
                ("marketer", f"/api/v1/admin/campaigns/{pg_huge}/preview"),
                ("marketer", f"/api/v1/admin/offers/{pg_huge}"),
                ("marketer", f"/api/v1/admin/segments/{pg_huge}/preview"),
                ("shopper", f"/api/v1/me/offers/{pg_huge}/progress"),
                ("shopper", f"/api/v1/me/history?before={huge}"),
            ]
        ),
        Probe(
            "/unsubscribe token that is not ASCII (TypeError in compare_digest)",
            None,
            "GET",
            "/unsubscribe?token=1.1.%C3%A9",
        ),
        Probe(
            "/unsubscribe token that is not ASCII (TypeError in compare_digest)",
            None,
            "POST",
            "/unsubscribe?token=1.1.%C3%A9",
        ),
        Probe(
            "passesUpdatedSince not a number or beyond range (PassKit list)",
            None,
            "GET",
            f"{passkit}?passesUpdatedSince=%C2%B2",
        ),
        Probe(
            "passesUpdatedSince not a number or beyond range (PassKit list)",
            None,
            "GET",
            f"{passkit}?passesUpdatedSince=12345678901234567890",
        ),
        Probe(
            "JSON nested too deep (RecursionError)",
            None,
            "POST",
            "/api/v1/cards",
            content=b"[" * 1000 + b"]" * 1000,
        ),
        Probe(
            "huge receipt amounts / points beyond a 32-bit column",
            "pos",
            "POST",
            "/api/v1/pos/receipts",
            json={
                "receipt_id": "FUZZ-HUGE",
                "card_number": card,
                "occurred_at": iso(clock.now()),
                "lines": [line(10_000_000_000, sku=f"S{i}") for i in range(1000)],
                "redeem_points": 0,
            },
        ),
        Probe(
            "segment filter with a number beyond range (balance_min and the like)",
            "marketer",
            "POST",
            "/api/v1/admin/segments/preview",
            json={"name": "big", "filter": {"balance_min": 99999999999999999999}},
        ),
    ]


async def _probe(server: str, keys: dict[str, str], card: str) -> list[Found]:
    found = []
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        campaign = await http.post(
            "/api/v1/admin/campaigns",
            json={"name": "probe", "subject": "s", "body": "b"},
            headers=bearer(keys["marketer"]),
        )
        probes = _probes(card)
        if campaign.status_code == 201:
            probes.append(
                Probe(
                    "control characters (newline) in a test-send address",
                    "marketer",
                    "POST",
                    f"/api/v1/admin/campaigns/{campaign.json()['id']}/test",
                    json={"email": "x@example.ru\nBcc: y@example.ru"},
                )
            )
        for probe in probes:
            headers = bearer(keys[probe.role]) if probe.role else {}
            if probe.content is not None:
                headers["Content-Type"] = "application/json"
            reply = await http.request(
                probe.method, probe.url, json=probe.json, content=probe.content, headers=headers
            )
            if reply.status_code >= 500:
                found.append(
                    Found(
                        operation=f"{probe.method} {probe.url[:90]}",
                        mode="probe",
                        title="Server error",
                        message=reply.text[:200],
                        status=reply.status_code,
                        curl="(issue 11 reproduction)",
                        known=probe.label,
                    )
                )
    return found


async def _seed(server: str) -> dict[str, str]:
    """A store with coordinates, one key per role, a shopper with points and history."""
    await make_store("MSK-001")
    keys = {
        "pos": await make_key("pos", "MSK-001"),
        "support": await make_key("support"),
        "marketer": await make_key("marketer"),
        "admin": await make_key("admin"),
    }
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        enrolled = await http.post(
            "/api/v1/cards",
            json={
                "name": "Анна Смирнова",
                "email": "anna@example.ru",
                "consents": {"program": True, "personal_data": True, "terms_version": "v1"},
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        keys["shopper"] = enrolled.json()["shopper_token"]
        keys["card"] = enrolled.json()["card_number"]
        receipt = await http.post(
            "/api/v1/pos/receipts",
            json={
                "receipt_id": "FUZZ-1",
                "card_number": enrolled.json()["card_number"],
                "occurred_at": iso(clock.now()),
                "lines": [line(100_000)],
                "redeem_points": 0,
            },
            headers=bearer(keys["pos"]),
        )
        assert receipt.status_code == 201, receipt.text
    return keys


def _allowed_roles() -> dict[tuple[str, str], list[str]]:
    from litestar.routes import HTTPRoute

    from wallet.app import create_app
    from wallet.openapi import roles_of

    found = {}
    for route in create_app(manage_db=False).routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                roles = roles_of(handler)
                if roles:
                    found[(method.upper(), route.path_format)] = roles
    return found


def _fuzz(server: str, keys: dict[str, str]) -> list[Found]:
    schema = schemathesis.openapi.from_url(f"{server}/schema/openapi.json")
    roles = _allowed_roles()
    found: list[Found] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        allowed = roles.get((operation.method.upper(), operation.path))
        auth = bearer(keys[allowed[0]]) if allowed else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(server, operation, mode, auth, found)
        # Every other role's key (and none), a few valid-looking requests each: the other
        # roles it allows are served, the rest refused as documented, none a 5xx.
        for role in (*ROLES, None):
            if allowed and role == allowed[0]:
                continue
            other = bearer(keys[role]) if role else {}
            if other != auth:
                _fuzz_one(
                    server, operation, GenerationMode.POSITIVE, other, found, OTHER_ROLE_EXAMPLES
                )
    return found


def _fuzz_one(
    server: str,
    operation: Any,
    mode: GenerationMode,
    auth: dict[str, str],
    found: list[Found],
    examples: int = EXAMPLES,
) -> None:
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # The caller's key unless the case itself is about the Authorization header.
        if "authorization" not in {k.lower() for k in (case.headers or {})}:
            case.headers = {**(case.headers or {}), **auth}
        response = case.call(base_url=server, timeout=30)
        try:
            case.validate_response(response, checks=checks)
        except (FailureGroup, Failure) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
            for failure in failures:
                found.append(
                    Found(
                        operation=operation.label,
                        mode=mode.value,
                        title=failure.title,
                        message=failure.message,
                        status=response.status_code,
                        curl=case.as_curl_command(headers=dict(case.headers or {})),
                        known=_known(case, response, failure),
                    )
                )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid: an operation without parameters or body


def _report(found: list[Found]) -> str:
    seen: set[tuple[str, str, str | None]] = set()
    lines = []
    for item in found:
        key = (item.operation, item.title, item.known)
        if key not in seen:
            seen.add(key)
            lines.append(item.line())
    return "\n".join(lines)


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error_and_no_reply_off_the_document(
    database, server, smtp_sink
):
    keys = await _seed(server)

    started = time.monotonic()
    found = await asyncio.to_thread(_fuzz, server, keys)
    took = time.monotonic() - started
    found += await _probe(server, keys, keys["card"])
    unknown = [f for f in found if f.known is None]
    known = [f for f in found if f.known is not None]
    summary = (
        f"schemathesis on {database.kind}: {took:.0f} s, {EXAMPLES} examples per operation "
        f"and mode; {len(unknown)} new failures, {len(known)} regressions of issue 11's"
    )
    print(summary)
    assert not found, f"{summary}\n{_report(unknown)}\n\nissue 11's, back again:\n{_report(known)}"
