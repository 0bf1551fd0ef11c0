"""The campaign channel ``sms``: marketing SMS over real SMPP to the SMSC stand-in, only to
shoppers who opted in to marketing SMS (with the consent row on each delivery), held in
the program's quiet hours until morning, with figures from the operator's delivery
receipts, a cost estimate by parts, and refusals at save (too many parts, a sender name
the settings do not allow). Sign-in codes are service messages: never held, no consent.
On both databases."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.sms.conftest import use_smsc
from tests.support.shop import bearer, make_key
from tests.support.smsc_standin import SmscStandin
from wallet import clock, db
from wallet import settings as settings_module
from wallet.platform import worker
from wallet.sms import quiet, smpp

CONSENTS = {"program": True, "personal_data": True, "terms_version": "2026-01"}
MSK = settings_module.get().tz
# 15:00 in Moscow: daytime.
DAY = datetime(2026, 12, 2, 15, 0, tzinfo=MSK).astimezone(UTC)


async def join(client: Any, name: str, phone: str | None, **consents: bool) -> int:
    body: dict[str, Any] = {"name": name, "consents": {**CONSENTS, **consents}}
    if phone:
        body["phone"] = phone
    else:
        body["email"] = f"{abs(hash(name))}@example.ru"
    reply = await client.post("/api/v1/cards", json=body)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["account_id"])


async def sms_campaign(client: Any, key: str, **fields: Any) -> Any:
    body = {
        "name": "Распродажа",
        "channels": ["sms"],
        "sms_text": "{{ name }}, скидка 20% в субботу!",
        **fields,
    }
    return await client.post("/api/v1/admin/campaigns", json=body, headers=bearer(key))


async def campaign(client: Any, key: str, campaign_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(key))
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


async def receipts_in(key: str, client: Any, campaign_id: int) -> dict[str, Any]:
    for _ in range(100):
        [figures] = (await campaign(client, key, campaign_id))["figures"]
        if figures["sms"]["sent"] == 0 and figures["sms"]["queued"] == 0:
            break
        await asyncio.sleep(0.05)
    return figures  # type: ignore[no-any-return]


async def test_an_sms_campaign_texts_only_opted_in_shoppers_and_counts_receipts(
    client, smsc, monkeypatch
):
    at(monkeypatch, DAY)
    settings_module.override(dataclasses.replace(settings_module.get(), sms_price_kopecks=250))
    key = await make_key("marketer")
    await join(client, "Анна", "+79161110001", marketing_sms=True)
    await join(client, "Борис", "+79161110002", marketing_sms=True)
    await join(client, "Вера", "+79161110003", marketing_sms=True)
    await join(client, "Глеб", "+79161110004", marketing_email=True, marketing_push=True)
    await join(client, "Дина", None, marketing_sms=True)
    smsc.fail_to.add("79161110003")

    created = await sms_campaign(client, key)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    shown = await client.get(f"/api/v1/admin/campaigns/{campaign_id}/preview", headers=bearer(key))
    assert shown.status_code == 200, shown.text
    preview = shown.json()
    # Five joined; three opted in and have a number. "Анна, скидка 20% в субботу!" is one
    # UCS-2 part.
    assert preview["audience"] == 5 and preview["sms_audience"] == 3
    assert preview["sms_parts"] == 1 and preview["sms_cost_kopecks"] == 3 * 250
    assert "скидка 20%" in preview["sms_text"]

    sent = await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle(now=DAY)

    assert sorted(s.destination for s in smsc.submits) == [
        "79161110001",
        "79161110002",
        "79161110003",
    ]
    assert smsc.texts_to("79161110002") == ["Борис, скидка 20% в субботу!"]
    assert all(s.data_coding == 8 and s.source == "Loyalty" for s in smsc.submits)

    figures = await receipts_in(key, client, campaign_id)
    assert figures["targeted"] == 5 and figures["sent"] == 3 and figures["skipped"] == 2
    assert figures["reasons"] == {"skipped: no_consent": 1, "skipped: no_phone": 1}
    assert figures["sms"] == {
        "queued": 0,
        "sent": 0,
        "delivered": 2,
        "failed": 1,
        "expired": 0,
        "refused": 0,
        "parts": 3,
        "cost_kopecks": 750,
    }
    assert (await campaign(client, key, campaign_id))["status"] == "sent"

    # Every SMS delivery names the consent row that allowed it: marketing_sms, from joining.
    rows = await db.raw(
        "SELECT c.channel, c.granted, c.source FROM delivery d "
        "JOIN member_consent c ON c.id = d.consent_id "
        f"WHERE d.campaign_id = {int(campaign_id)} AND d.status = 'sent'"
    )
    assert len(rows) == 3
    assert all(
        (r["channel"], bool(r["granted"]), r["source"]) == ("marketing_sms", True, "join")
        for r in rows
    )
    # Email and push consent are not SMS consent, and a rerun sends nobody anything twice.
    await worker.run_until_idle(now=DAY + timedelta(minutes=5))
    assert len(smsc.submits) == 3


async def test_marketing_sms_waits_for_the_morning_but_a_signin_code_goes_at_night(
    client, smsc, monkeypatch
):
    night = datetime(2026, 12, 2, 22, 30, tzinfo=MSK).astimezone(UTC)
    morning = datetime(2026, 12, 3, 9, 0, tzinfo=MSK).astimezone(UTC)
    at(monkeypatch, night)
    key = await make_key("marketer")
    await join(client, "Анна", "+79161110001", marketing_sms=True)
    campaign_id = (await sms_campaign(client, key)).json()["id"]
    await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    asked = await client.post("/api/v1/signin/code", json={"phone": "+79161110001"})
    assert asked.status_code == 202
    await worker.run_until_idle(now=night)

    # The sign-in code went; the campaign's text did not, and is still pending.
    [code] = smsc.texts_to("79161110001")
    assert "Код" in code
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    assert figures["pending"] == 1 and figures["sent"] == 0

    # Still night an hour later; then 09:00 comes and it goes, once.
    at(monkeypatch, night + timedelta(hours=1))
    await worker.run_until_idle(now=night + timedelta(hours=1))
    assert len(smsc.texts_to("79161110001")) == 1
    at(monkeypatch, morning + timedelta(seconds=1))
    await worker.run_until_idle(now=morning + timedelta(seconds=1))
    assert smsc.texts_to("79161110001") == [code, "Анна, скидка 20% в субботу!"]
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    assert figures["sent"] == 1 and figures["pending"] == 0


def test_quiet_hours_are_the_programs_local_night():
    def local(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 2, hour, minute, tzinfo=MSK)

    assert quiet.quiet_until(local(20, 59)) is None
    assert quiet.quiet_until(local(9, 0)) is None
    assert quiet.quiet_until(local(21, 0)) == datetime(2026, 12, 3, 9, 0, tzinfo=MSK)
    assert quiet.quiet_until(local(3, 15)) == datetime(2026, 12, 2, 9, 0, tzinfo=MSK)
    settings_module.override(
        dataclasses.replace(settings_module.get(), sms_quiet_hours=(13 * 60, 15 * 60))
    )
    assert quiet.quiet_until(local(14, 0)) == local(15, 0)
    assert quiet.quiet_until(local(21, 0)) is None


async def test_a_text_over_the_part_limit_or_an_unknown_sender_is_refused_at_save(client):
    key = await make_key("marketer")
    settings_module.override(
        dataclasses.replace(settings_module.get(), sms_max_parts=2, sms_senders=("Shop",))
    )
    # 140 Cyrillic characters: 3 UCS-2 parts of 67.
    long = await sms_campaign(client, key, sms_text="Ж" * 140)
    assert long.status_code == 422
    assert long.json()["code"] == "sms_too_long"
    assert long.json()["details"] | {"allowed": None} == {
        "field": "sms_text",
        "parts": 3,
        "max_parts": 2,
        "allowed": None,
    }
    # 153 Latin characters are one GSM part... 161 are two: allowed.
    assert (await sms_campaign(client, key, sms_text="a" * 161)).status_code == 201
    sender = await sms_campaign(client, key, sms_sender="Bank")
    assert sender.status_code == 422 and sender.json()["code"] == "sms_sender_not_allowed"
    assert (await sms_campaign(client, key, sms_sender="Shop")).status_code == 201
    empty = await sms_campaign(client, key, sms_text="")
    assert empty.status_code == 422 and empty.json()["details"]["field"] == "sms_text"
    listed = await client.get("/api/v1/admin/campaigns", headers=bearer(key))
    assert len(listed.json()) == 2


async def test_an_sms_campaign_waits_while_the_smsc_is_down_and_sends_each_once(
    client, smsc, monkeypatch
):
    at(monkeypatch, DAY)
    key = await make_key("marketer")
    for n in range(4):
        await join(client, f"Покупатель {n}", f"+7916222000{n}", marketing_sms=True)
    port = smsc.port
    await smsc.stop()
    campaign_id = (await sms_campaign(client, key, sms_sender="")).json()["id"]
    await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    await worker.run_until_idle(now=DAY)
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    # Handed to the SMS outbox (the delivery is done), waiting there for the SMSC.
    assert figures["sent"] == 4 and figures["sms"]["queued"] == 4

    back = await SmscStandin(port=port).start()
    use_smsc(back)
    try:
        later = DAY + timedelta(hours=2)
        at(monkeypatch, later)
        await worker.run_until_idle(now=later)
        assert sorted(s.destination for s in back.submits) == [f"7916222000{n}" for n in range(4)]
        figures = await receipts_in(key, client, campaign_id)
        assert figures["sms"]["delivered"] == 4
        # A second outage and return resends nothing.
        await smpp.close()
        await worker.run_until_idle(now=later + timedelta(hours=1))
        assert len(back.submits) == 4
    finally:
        await smpp.close()
        await back.stop()


async def test_withdrawn_sms_consent_is_honoured_at_send_and_recorded_in_the_trail(
    client, smsc, monkeypatch
):
    at(monkeypatch, DAY)
    key = await make_key("marketer")
    account_id = await join(client, "Анна", "+79161110001", marketing_sms=True)
    campaign_id = (await sms_campaign(client, key)).json()["id"]
    await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    # The audience is copied when the campaign starts; the shopper withdraws right after.
    await worker.run_once(now=DAY)
    from wallet.members import service as members

    async with db.write_transaction():
        member = await members.member_of_account(account_id)
        assert member is not None
        await members.set_marketing_consent(int(member["id"]), "sms", False, now=DAY)
    await worker.run_until_idle(now=DAY)
    assert smsc.submits == []
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    assert figures["reasons"] == {"skipped: consent_withdrawn": 1}
    trail = await db.raw(
        "SELECT granted FROM member_consent WHERE channel = 'marketing_sms' ORDER BY id"
    )
    assert [bool(r["granted"]) for r in trail] == [True, False]


async def test_an_sms_campaign_stopped_mid_way_resumes_and_texts_everyone_once(
    client, smsc, monkeypatch
):
    """A slice claims the next batch while it writes this one, and writes two chunks side
    by side (small batches here, as 500 and 250 are in a big campaign): stopped in the
    middle, it hands back what it had not written, and the next worker texts everyone
    else, nobody twice."""
    from wallet.campaigns import sms as sms_channel

    at(monkeypatch, DAY)
    monkeypatch.setattr(sms_channel, "BATCH", 4)
    monkeypatch.setattr(sms_channel, "CHUNK", 2)
    key = await make_key("marketer")
    phones = [f"7916333{n:04d}" for n in range(12)]
    for n, phone in enumerate(phones):
        await join(client, f"Покупатель {n}", f"+{phone}", marketing_sms=True)
    campaign_id = (await sms_campaign(client, key, sms_rate=25)).json()["id"]
    await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    await worker.run_once(now=DAY)  # the start job: the deliveries

    task = asyncio.create_task(worker.run_once(now=DAY))
    for _ in range(1000):
        if len(smsc.submits) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    stopped_at = len(smsc.submits)
    assert 3 <= stopped_at < len(phones), "the campaign ended before the stop: nothing tested"

    await worker.run_until_idle(now=DAY + timedelta(minutes=5))
    assert sorted(s.destination for s in smsc.submits) == phones
    figures = await receipts_in(key, client, campaign_id)
    assert figures["sent"] == len(phones) and figures["pending"] == 0
    assert figures["sms"]["delivered"] == len(phones)
    assert (await campaign(client, key, campaign_id))["status"] == "sent"


async def test_an_sms_text_naming_burning_points_reads_them_and_one_without_does_not_need_them(
    client, smsc, monkeypatch
):
    # 500 points given about five and a half months before the send burn 6 months after
    # being given: within the 30 days the merge fields look ahead.
    at(monkeypatch, DAY - timedelta(days=170))
    support = await make_key("support")
    account_id = await join(client, "Анна", "+79161110021", marketing_sms=True)
    given = await client.post(
        f"/api/v1/admin/accounts/{account_id}/adjustments",
        json={"points": 500, "reason": "test credit"},
        headers=bearer(support),
    )
    assert given.status_code == 201, given.text
    at(monkeypatch, DAY)
    key = await make_key("marketer")

    burning = await sms_campaign(
        client, key, sms_text="{{ name }}, {{ burning_points }} б. Итак: {{ burning }}."
    )
    plain = await sms_campaign(client, key, sms_text="{{ name }}, скидка 20% в субботу!")
    for created in (burning, plain):
        assert created.status_code == 201, created.text
        sent = await client.post(
            f"/api/v1/admin/campaigns/{created.json()['id']}/send", headers=bearer(key)
        )
        assert sent.status_code == 200, sent.text
        await worker.run_until_idle(now=DAY)

    texts = smsc.texts_to("79161110021")
    assert len(texts) == 2
    assert texts[0] == "Анна, 500 б. Итак: 500\xa0баллов сгорят 15 декабря 2026."
    assert texts[1] == "Анна, скидка 20% в субботу!"
