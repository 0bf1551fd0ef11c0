"""Cashback offers for groups: a saved segment decides who may opt in (alone or with card
levels), unknown segments are refused, and a segment an offer uses cannot be deleted."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from tests.offers.support import OFFER, in_this_month, local, make_offer, opt_in
from tests.support.shop import Shop, Shopper, bearer, line, make_key
from wallet import clock, db
from wallet.offers import service as offers
from wallet.offers.schemas import OfferIn
from wallet.segments import service as segments


async def make_segment(shop: Shop, key: str, name: str, flt: dict[str, Any]) -> int:
    reply = await shop.client.post(
        "/api/v1/admin/segments", json={"name": name, "filter": flt}, headers=bearer(key)
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]  # type: ignore[no-any-return]


async def my_offer(shop: Shop, shopper: Shopper, offer_id: int) -> dict[str, Any]:
    reply = await shop.client.get("/api/v1/me/offers", headers=shopper.headers)
    assert reply.status_code == 200, reply.text
    [found] = [o for o in reply.json()["offers"] if o["offer"]["id"] == offer_id]
    return found  # type: ignore[no-any-return]


async def opted_in_accounts(shop: Shop, key: str) -> set[int]:
    reply = await shop.client.post(
        "/api/v1/admin/segments/preview?sample=100",
        json={"cashback_opted_in": True},
        headers=bearer(key),
    )
    assert reply.status_code == 200, reply.text
    return {row["account_id"] for row in reply.json()["sample"]}


async def test_only_shoppers_in_the_group_opt_in_and_both_levels_and_groups_must_hold(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    # 10,000 ₽ or more in the last 90 days; the gold level starts at 15,000 ₽ for life.
    spenders = await make_segment(
        shop, marketer, "gold spenders", {"spend_min_kopecks": 1_000_000, "window_days": 90}
    )
    anna = await shop.enrol("Анна Тратит")
    boris = await shop.enrol("Борис Экономит")
    vera = await shop.enrol("Вера Золотая")
    await shop.receipt(anna.card, "A1", [line(1_200_000)], at=in_this_month())
    await shop.receipt(boris.card, "B1", [line(100_000)], at=in_this_month())
    await shop.receipt(vera.card, "V1", [line(1_600_000)], at=in_this_month())

    for_group = await make_offer(shop, name="Для тех, кто тратит", eligible_segment_ids=[spenders])
    assert for_group["eligible_segment_ids"] == [spenders] and for_group["eligible_tiers"] == []
    both = await make_offer(
        shop, name="Золотым из группы", eligible_tiers=["Золотой"], eligible_segment_ids=[spenders]
    )
    # A group cannot be proven apart from another offer's shoppers: the offers overlap.
    assert both["overlaps_with"] == [for_group["id"]]

    shown = await opt_in(shop, anna, for_group["id"])
    assert shown["offer_id"] == for_group["id"]
    refused = await opt_in(shop, boris, for_group["id"], expect=422)
    assert refused["code"] == "offer_not_available"
    assert "«gold spenders»" in refused["message"]
    # Nothing was stored for the refused shopper, and /me/offers says why.
    mine = await my_offer(shop, boris, for_group["id"])
    assert mine["eligible"] is False and "«gold spenders»" in mine["why_not"]
    assert mine["opted_in"] is False and mine["goal_kopecks"] is None
    assert await opted_in_accounts(shop, marketer) == {anna.account_id}

    # Levels and groups together: Anna is in the group but not gold, Vera is both.
    anna_both = await my_offer(shop, anna, both["id"])
    assert anna_both["eligible"] is False and "Золотой" in anna_both["why_not"]
    boris_both = await my_offer(shop, boris, both["id"])
    assert boris_both["eligible"] is False
    assert (await my_offer(shop, vera, both["id"]))["eligible"] is True
    await opt_in(shop, vera, both["id"])
    assert await opted_in_accounts(shop, marketer) == {anna.account_id, vera.account_id}

    # The marketer lifts the restriction: Boris may opt in now.
    changed = await client.patch(
        f"/api/v1/admin/offers/{for_group['id']}",
        json={"eligible_segment_ids": []},
        headers=bearer(marketer),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["eligible_segment_ids"] == []
    await opt_in(shop, boris, for_group["id"])


async def test_unknown_segments_are_refused_and_a_segment_in_use_cannot_be_deleted(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    spenders = await make_segment(shop, marketer, "gold spenders", {"spend_min_kopecks": 1})
    body = {"name": "Группе", "starts_at": "2026-01-01T00:00:00+03:00"}

    unknown = await client.post(
        "/api/v1/admin/offers",
        json={**body, "eligible_segment_ids": [spenders, 999_999]},
        headers=bearer(marketer),
    )
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "segment_not_found"
    assert unknown.json()["details"] == {"segment_ids": [999_999]}
    listed = await client.get("/api/v1/admin/offers", headers=bearer(marketer))
    assert listed.json() == []

    offer = await make_offer(shop, eligible_segment_ids=[spenders, spenders])
    assert offer["eligible_segment_ids"] == [spenders]
    changed = await client.patch(
        f"/api/v1/admin/offers/{offer['id']}",
        json={"eligible_segment_ids": [999_999], "cap_points": 5},
        headers=bearer(marketer),
    )
    assert changed.status_code == 404 and changed.json()["code"] == "segment_not_found"
    kept = (
        await client.get(f"/api/v1/admin/offers/{offer['id']}", headers=bearer(marketer))
    ).json()
    assert kept["eligible_segment_ids"] == [spenders] and kept["cap_points"] == offer["cap_points"]

    in_use = await client.delete(f"/api/v1/admin/segments/{spenders}", headers=bearer(marketer))
    assert in_use.status_code == 409, in_use.text
    assert in_use.json()["code"] == "segment_in_use"
    assert in_use.json()["details"] == {
        "segment_id": spenders,
        "offer_ids": [offer["id"]],
        "offer_names": [offer["name"]],
    }
    assert (
        str(offer["id"]) in in_use.json()["message"] and offer["name"] in in_use.json()["message"]
    )
    still = await client.get(f"/api/v1/admin/segments/{spenders}", headers=bearer(marketer))
    assert still.status_code == 200

    # An ended offer no longer holds its groups.
    ended = await client.post(f"/api/v1/admin/offers/{offer['id']}/end", headers=bearer(marketer))
    assert ended.status_code == 200, ended.text
    gone = await client.delete(f"/api/v1/admin/segments/{spenders}", headers=bearer(marketer))
    assert gone.status_code == 204, gone.text


async def test_a_segment_deleted_while_an_offer_is_saved_with_it_waits_and_is_refused(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    spenders = await make_segment(shop, marketer, "gold spenders", {"spend_min_kopecks": 1})
    checked = asyncio.Event()

    async def save_offer() -> int:
        async with db.write_transaction():
            await segments.segments_by_id([spenders], lock=True)  # what create_offer checks
            checked.set()
            await asyncio.sleep(0.3)
            made = await offers.create_offer(
                msgspec.convert(
                    {**OFFER, "starts_at": local(2000, 1, 1), "eligible_segment_ids": [spenders]},
                    OfferIn,
                    strict=False,
                ),
                actor="test",
                now=clock.now(),
            )
        return made.id

    async def delete() -> None:
        await checked.wait()
        async with db.write_transaction():
            await segments.delete_segment(spenders)

    saving = asyncio.create_task(save_offer())
    with pytest.raises(segments.SegmentInUse):
        await delete()
    offer_id = await saving
    assert (await offers.get_offer(offer_id)).eligible_segment_ids == [spenders]
