"""A card's tier is computed once: the tier on its pass and /me (``Rules.tier_for``) and the
audience of a segment filtered by tier (SQL written from ``Rules.tier_bands``) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.campaigns.test_campaigns import preview_ids
from tests.support.shop import Shop, bearer, line, make_key
from wallet import db
from wallet.errors import InvalidInput
from wallet.ledger.tables import Account
from wallet.rules import service as rules_service
from wallet.rules.schemas import RulesIn, Tier
from wallet.segments import service as segments
from wallet.segments.schemas import SegmentFilter


async def test_with_no_tiers_configured_a_base_segment_holds_every_card(client):
    shop = await Shop.open(client)
    reply = await client.put(
        "/api/v1/admin/rules", json={"tiers": []}, headers=bearer(shop.admin_key)
    )
    assert reply.status_code == 200, reply.text
    spender = await shop.enrol("Анна Смирнова")
    newcomer = await shop.enrol("Борис Новиков")
    await shop.receipt(spender.card, "R1", [line(2_000_000)])
    assert (await shop.me(spender))["tier"] == "base"
    assert (await shop.me(newcomer))["tier"] == "base"

    marketer = await make_key("marketer")
    assert await preview_ids(client, marketer, {"tiers": ["base"]}) == {
        spender.account_id,
        newcomer.account_id,
    }


# Few names and thresholds, so duplicates, shared thresholds, a configured tier called
# "base" and a ladder starting above or at zero all come up.
NAMES = ["base", "Серебро", "Золото", "Платина"]
tiers = st.lists(
    st.builds(
        Tier,
        name=st.sampled_from(NAMES),
        min_spend_kopecks=st.integers(0, 1_000),
        earn_rate_bp=st.integers(0, 10_000),
    ),
    max_size=5,
)
spends = st.lists(st.integers(0, 1_200), max_size=8)
STEP = count()


@settings(
    max_examples=40,
    deadline=None,
    # The database is cleaned by the example itself (its accounts are deleted at the end).
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ladder=tiers, spends=spends, pick=st.sets(st.sampled_from(NAMES), min_size=1))
async def test_segment_tier_sql_selects_the_cards_python_puts_in_the_tier(
    database, ladder, spends, pick
):
    # Each example is a new rules version, later than the one before, as an admin saves it.
    now = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(minutes=next(STEP))
    rules = await rules_service.put_rules(RulesIn(tiers=ladder), actor="test", now=now)
    # Every threshold, one below and one above: the boundaries are where two forms part.
    edges = {s for t in ladder for d in (-1, 0, 1) if (s := t.min_spend_kopecks + d) >= 0}
    ids: dict[int, int] = {}
    for spend in sorted(set(spends) | edges | {0}):
        rows = await Account.insert(Account(lifetime_spend_kopecks=spend)).returning(Account.id)
        ids[rows[0]["id"]] = spend
    try:
        in_python = {account: rules.tier_for(spend).name for account, spend in ids.items()}
        for names in [[name] for name in NAMES] + [sorted(pick)]:
            try:
                compiled = await segments.compile_filter(SegmentFilter(tiers=names), now=now)
            except InvalidInput:
                # Refused only for a name no spend at all puts a card in (thresholds <= 1,000).
                reachable = {rules.tier_for(spend).name for spend in range(-1, 1_002)}
                assert set(names) - reachable, (names, ladder)
                continue
            rows = await db.fetch(
                f"SELECT a.id FROM account a WHERE {compiled.where} AND a.id IN "
                f"({', '.join(str(i) for i in ids)})",
                *compiled.args,
            )
            selected = {int(row["id"]) for row in rows}
            expected = {account for account, tier in in_python.items() if tier in names}
            assert selected == expected, (names, ladder, ids)
    finally:
        await Account.delete().where(Account.id.is_in(list(ids)))
