"""Support sees a shopper's timeline (joining, receipts, returns, adjustments, messages,
passes, consent changes), newest first and in pages, and every look is in the access
trail with who, whose, when and why."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.passsync.conftest import Phone, download_pass, wallets  # noqa: F401
from tests.privacy.test_data_rights import join, member_id_of, send_campaign
from tests.support.shop import Shop, bearer, iso, line, make_key
from wallet import clock
from wallet.campaigns import rendering
from wallet.platform import worker


@pytest.mark.usefixtures("wallets")  # the pass's pushes go to the stand-ins
async def test_support_sees_the_whole_timeline_newest_first_and_the_look_is_on_record(
    client, smtp_sink
):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru")
    member_id = await member_id_of(client, anna)
    card = await download_pass(shop, anna)
    phone = Phone(client, device_id="c" * 32, push_token="cd" * 32)
    assert (await phone.register(card)).status_code == 201
    await shop.receipt(anna.card, "SALE", [line(100_000), line(50_000)])
    returned = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-1", "occurred_at": iso(clock.now()), "lines": [{"line": 2}]},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    await shop.give_points(anna.account_id, 300)
    campaign_id = await send_campaign(client, await make_key("marketer"))
    await worker.run_until_idle()
    token = rendering.unsubscribe_token(member_id, campaign_id)
    assert (await client.post("/unsubscribe", params={"token": token})).status_code in (200, 201)

    path = f"/api/v1/admin/members/{member_id}/timeline"
    support = bearer(shop.support_key)
    reply = await client.get(path, params={"reason": "звонок 12-345"}, headers=support)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["member_id"] == member_id and data["more"] is False
    events = data["events"]
    kinds = [event["kind"] for event in events]
    assert {"joined", "consent", "receipt", "return", "adjustment", "message", "pass"} <= set(
        kinds
    ), kinds
    moments = [datetime.fromisoformat(event["at"]) for event in events]
    assert moments == sorted(moments, reverse=True)
    assert kinds[-1] == "joined" or moments[-1] == min(moments)
    [withdrawn] = [e for e in events if e["kind"] == "consent" and e["details"]["granted"] is False]
    assert withdrawn["details"]["channel"] == "marketing_email"
    assert withdrawn["details"]["source"] == "unsubscribe"
    [message] = [e for e in events if e["kind"] == "message"]
    assert message["details"]["status"] == "sent" and message["details"]["channel"] == "email"
    [adjustment] = [e for e in events if e["kind"] == "adjustment"]
    assert adjustment["details"]["points"] == 300
    [receipt] = [e for e in events if e["kind"] == "receipt"]
    assert receipt["details"]["receipt_id"] == "SALE" and receipt["details"]["earned_points"] > 0

    # In pages: the second page starts where the first stopped, nothing shown twice.
    first = (await client.get(path, params={"reason": "x", "limit": 3}, headers=support)).json()
    assert first["more"] is True and len(first["events"]) == 3
    rest = (
        await client.get(
            path,
            params={"reason": "x", "limit": 500, "before": first["events"][-1]["at"]},
            headers=support,
        )
    ).json()
    assert len(first["events"]) + len(rest["events"]) <= len(events)
    assert not {e["at"] for e in first["events"]} & {e["at"] for e in rest["events"]}

    trail = await client.get(
        "/api/v1/admin/privacy/access-log",
        params={"member_id": member_id},
        headers=bearer(shop.admin_key),
    )
    looks = [e for e in trail.json() if e["action"] == "support.timeline"]
    assert len(looks) == 3
    assert looks[-1]["details"] == {"reason": "звонок 12-345"}
    assert looks[-1]["subject"] == f"member:{member_id}"


async def test_the_timeline_asks_who_and_why(client):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna2@example.ru")
    member_id = await member_id_of(client, anna)
    path = f"/api/v1/admin/members/{member_id}/timeline"
    assert (await client.get(path, params={"reason": "r"})).status_code == 401
    till = await client.get(path, params={"reason": "r"}, headers=bearer(shop.pos_key))
    assert till.status_code == 403
    no_reason = await client.get(path, headers=bearer(shop.support_key))
    assert no_reason.status_code == 400
    naive = await client.get(
        path,
        params={"reason": "r", "before": "2026-01-10T09:00:00"},
        headers=bearer(shop.support_key),
    )
    assert naive.status_code == 422 and naive.json()["code"] == "invalid_input"
    gone = await client.get(
        "/api/v1/admin/members/999999/timeline",
        params={"reason": "r"},
        headers=bearer(shop.support_key),
    )
    assert gone.status_code == 404 and gone.json()["code"]
    trail = await client.get(
        "/api/v1/admin/privacy/access-log",
        params={"member_id": member_id},
        headers=bearer(shop.admin_key),
    )
    assert [e for e in trail.json() if e["action"] == "support.timeline"] == []
