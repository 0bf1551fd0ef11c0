"""Sign-in limits hold under 200 simultaneous requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.pages.conftest import csrf_of
from wallet import clock, db
from wallet.signin import service as pages
from wallet.signin.service import CODE_MAX_TRIES, SENDS_PER_ADDRESS


async def _member(client, email: str) -> None:
    reply = await client.post(
        "/api/v1/cards",
        json={
            "name": "Анна",
            "email": email,
            "consents": {"program": True, "personal_data": True, "terms_version": "v1"},
        },
    )
    assert reply.status_code == 201, reply.text


async def test_200_simultaneous_wrong_codes_use_up_five_tries_and_no_more(client):
    email = "anna@example.ru"
    await _member(client, email)
    async with db.write_transaction():
        right = await pages.request_code(email=email, ip="10.0.0.1", now=clock.now())
    assert right is not None
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    token = csrf_of((await client.get("/signin")).text)

    async def guess(code: str) -> int:
        reply = await client.post(
            "/signin/code", data={"csrf": token, "email": email, "code": code}
        )
        return reply.status_code

    statuses = await asyncio.gather(*(guess(wrong) for _ in range(200)))
    assert set(statuses) == {422}
    [row] = await db.raw("SELECT attempts FROM signin_code WHERE email = {}", email)
    assert row["attempts"] == CODE_MAX_TRIES
    # The right code after the tries are used up signs nobody in.
    assert await guess(right) == 422
    assert (await client.get("/card")).status_code == 303


async def test_30_simultaneous_code_requests_send_three_codes(client, smtp_sink):
    email = "anna@example.ru"
    await _member(client, email)
    token = csrf_of((await client.get("/signin")).text)
    replies = await asyncio.gather(
        *(client.post("/signin", data={"csrf": token, "email": email}) for _ in range(30))
    )
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [200] * SENDS_PER_ADDRESS + [429] * (30 - SENDS_PER_ADDRESS)
    assert len(smtp_sink.to(email)) == SENDS_PER_ADDRESS
    refused = next(reply for reply in replies if reply.status_code == 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    made = await db.raw("SELECT count(*) AS n FROM signin_code WHERE email = {}", email)
    assert made[0]["n"] == SENDS_PER_ADDRESS
