"""Spending points on a shopper the till found by phone needs a code texted to them: the
lookup answers with an opaque card reference (not the number), quotes and receipts take it
as ``card_number``, and spending with it needs ``spend_code``; a missing one is 422
``spend_code_required``, a wrong, expired or reused one 422 ``spend_code_wrong``, and
nothing is spent. Five tries, 10 minutes, one use; a code for another shopper fails. The
code goes over SMPP to the SMSC stand-in (a service message) and shows on the card page.
On both databases."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.pages.conftest import post_form
from tests.support.shop import Shop, Shopper, bearer, iso, line
from wallet import clock
from wallet import settings as settings_module
from wallet.platform import worker


async def lookup(shop: Shop, phone: str) -> dict[str, Any]:
    reply = await shop.client.get(
        "/api/v1/pos/lookup", params={"phone": phone}, headers=bearer(shop.pos_key)
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def ask_code(shop: Shop, card_number: str, smsc: Any, number: str) -> str:
    reply = await shop.client.post(
        "/api/v1/pos/spend-codes", json={"card_number": card_number}, headers=bearer(shop.pos_key)
    )
    assert reply.status_code == 202, reply.text
    await worker.run_until_idle()
    texts = smsc.texts_to(number)
    assert texts, "no SMS"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


async def receipt(
    shop: Shop,
    card_number: str,
    receipt_id: str,
    redeem: int,
    code: str | None = None,
    at: datetime | None = None,
) -> Any:
    body: dict[str, Any] = {
        "receipt_id": receipt_id,
        "card_number": card_number,
        "occurred_at": iso(at or clock.now() - timedelta(seconds=1)),
        "lines": [line(100_000)],
        "redeem_points": redeem,
    }
    if code is not None:
        body["spend_code"] = code
    return await shop.client.post("/api/v1/pos/receipts", json=body, headers=bearer(shop.pos_key))


async def balance(shop: Shop, shopper: Shopper) -> int:
    return int((await shop.me(shopper))["balance"])


@pytest.fixture
async def anna(client, smsc) -> tuple[Shop, Shopper]:
    shop = await Shop.open(client)
    shopper = await shop.enrol("Анна", "anna@example.ru", phone="+79123456789")
    await shop.give_points(shopper.account_id, 300)
    return shop, shopper


async def test_a_till_that_found_the_shopper_by_phone_spends_only_with_the_texted_code(anna, smsc):
    shop, shopper = anna
    found = await lookup(shop, "8 (912) 345-67-89")
    ref = found["card_number"]
    # The till never learns the card number: it gets an opaque reference.
    assert ref.startswith("ref.") and shopper.card not in ref and found["balance"] == 300

    # Earning without spending needs no code; a quote of what could be spent neither.
    earned = await receipt(shop, ref, "R-1", 0)
    assert earned.status_code == 201, earned.text
    assert earned.json()["card_number"] == ref
    quoted = await shop.client.post(
        "/api/v1/pos/quotes",
        json={"card_number": ref, "lines": [line(100_000)]},
        headers=bearer(shop.pos_key),
    )
    assert quoted.status_code == 200 and quoted.json()["max_redeem_points"] > 0
    before = await balance(shop, shopper)

    missing = await receipt(shop, ref, "R-2", 100)
    assert missing.status_code == 422 and missing.json()["code"] == "spend_code_required"
    assert await balance(shop, shopper) == before

    code = await ask_code(shop, ref, smsc, "79123456789")
    assert "списания" in smsc.texts_to("79123456789")[-1]
    wrong = "000000" if code != "000000" else "111111"
    bad = await receipt(shop, ref, "R-2", 100, wrong)
    assert bad.status_code == 422 and bad.json()["code"] == "spend_code_wrong"
    assert await balance(shop, shopper) == before

    # The quote checks the code without using it; the receipt uses it.
    quoted = await shop.client.post(
        "/api/v1/pos/quotes",
        json={
            "card_number": ref,
            "lines": [line(100_000)],
            "redeem_points": 100,
            "spend_code": code,
        },
        headers=bearer(shop.pos_key),
    )
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["redeemed_points"] == 100 and quoted.json()["card_number"] == ref
    at = clock.now() - timedelta(seconds=5)
    spent = await receipt(shop, ref, "R-2", 100, code, at)
    assert spent.status_code == 201, spent.text
    assert spent.json()["redeemed_points"] == 100 and spent.json()["card_number"] == ref
    # A retry of the same receipt gets its first reply; the code spends nothing else.
    retry = await receipt(shop, ref, "R-2", 100, code, at)
    assert retry.status_code == 201 and retry.json() == spent.json()
    reused = await receipt(shop, ref, "R-3", 50, code)
    assert reused.status_code == 422 and reused.json()["code"] == "spend_code_wrong"
    after = await balance(shop, shopper)
    assert after == spent.json()["balance_after"]

    # The card itself, scanned, needs no code.
    scanned = await receipt(shop, shopper.card, "R-4", 10)
    assert scanned.status_code == 201, scanned.text


async def test_the_card_number_in_place_of_the_reference_is_only_a_scan_and_a_forged_one_fails(
    anna, smsc
):
    shop, _shopper = anna
    ref = (await lookup(shop, "+79123456789"))["card_number"]
    forged = ref[:-6] + ("AAAAAA" if not ref.endswith("AAAAAA") else "BBBBBB")
    reply = await receipt(shop, forged, "R-1", 10)
    assert reply.status_code == 422 and reply.json()["code"] == "card_reference_invalid"
    # A reference is short-lived: half an hour after the lookup it is refused.
    later = clock.now() + timedelta(minutes=31)
    from wallet.receipts import spend_codes

    with pytest.raises(spend_codes.CardReferenceInvalid):
        spend_codes.card_of_reference(ref, now=later)


async def test_five_wrong_tries_ten_minutes_and_another_shoppers_code_all_fail(
    anna, smsc, monkeypatch
):
    shop, shopper = anna
    boris = await shop.enrol("Борис", "boris@example.ru", phone="+79035550000")
    await shop.give_points(boris.account_id, 300)
    ref = (await lookup(shop, "+79123456789"))["card_number"]
    boris_ref = (await lookup(shop, "+79035550000"))["card_number"]
    code = await ask_code(shop, ref, smsc, "79123456789")
    boris_code = await ask_code(shop, boris_ref, smsc, "79035550000")
    if boris_code != code:
        other = await receipt(shop, ref, "R-0", 10, boris_code)
        assert other.status_code == 422 and other.json()["code"] == "spend_code_wrong"

    # Five wrong tries (one already, if the codes differed) and even the right one fails.
    wrong = "000000" if code != "000000" else "111111"
    for n in range(5):
        await receipt(shop, ref, f"R-{n + 1}", 10, wrong)
    dead = await receipt(shop, ref, "R-9", 10, code)
    assert dead.status_code == 422 and dead.json()["code"] == "spend_code_wrong"

    # Boris's code is good for ten minutes, not eleven.
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=11))
    late = await receipt(shop, boris_ref, "B-1", 10, boris_code)
    assert late.status_code == 422 and late.json()["code"] == "spend_code_wrong"
    assert int((await shop.me(shopper))["balance"]) == 300
    assert int((await shop.me(boris))["balance"]) == 300


async def test_the_code_needs_no_marketing_consent_and_the_threshold_is_a_setting(anna, smsc):
    settings_module.override(dataclasses.replace(settings_module.get(), spend_code_above=50))
    shop, _shopper = anna
    ref = (await lookup(shop, "+79123456789"))["card_number"]
    small = await receipt(shop, ref, "R-1", 50)
    assert small.status_code == 201, small.text
    big = await receipt(shop, ref, "R-2", 51)
    assert big.status_code == 422 and big.json()["code"] == "spend_code_required"
    settings_module.override(dataclasses.replace(settings_module.get(), spend_code_above=None))
    never = await receipt(shop, ref, "R-2", 51)
    assert never.status_code == 201, never.text


async def test_the_card_page_shows_the_live_spend_code(client, anna, smsc):
    shop, _shopper = anna
    sent = await post_form(client, "/signin", "/signin", {"email": "+79123456789"})
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()
    signin_code = re.search(r"\b(\d{6})\b", smsc.texts_to("79123456789")[-1])
    assert signin_code
    signed = await post_form(
        client, "/signin", "/signin/code", {"email": "+79123456789", "code": signin_code[1]}
    )
    assert signed.status_code in (302, 303)
    page = await client.get("/card")
    assert page.status_code == 200 and 'id="spend-code"' not in page.text

    ref = (await lookup(shop, "+79123456789"))["card_number"]
    code = await ask_code(shop, ref, smsc, "79123456789")
    page = await client.get("/card")
    assert 'id="spend-code"' in page.text and code in page.text
    assert "Код для списания баллов" in page.text
    spent = await receipt(shop, ref, "R-1", 100, code)
    assert spent.status_code == 201, spent.text
    # Used: it is gone from the page.
    assert 'id="spend-code"' not in (await client.get("/card")).text


async def test_two_tills_racing_with_one_code_spend_it_once(anna, smsc):
    shop, shopper = anna
    ref = (await lookup(shop, "+79123456789"))["card_number"]
    code = await ask_code(shop, ref, smsc, "79123456789")
    first, second = await asyncio.gather(
        receipt(shop, ref, "R-A", 100, code), receipt(shop, ref, "R-B", 100, code)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 422]
    refused = first if first.status_code == 422 else second
    assert refused.json()["code"] == "spend_code_wrong"
    assert await balance(shop, shopper) == 300 - 100 + sum(
        r.json()["earned_points"] for r in (first, second) if r.status_code == 201
    )
