"""The cashback reward is spelled twice: ``offers.service.reward_for`` (the progress a shopper
sees, "you would get N points") and the settlement's SQL (the points credited). For generated
spends, goals, rates in basis points, caps and point values, settlement on the real database
credits exactly what ``reward_for`` promises: at the goal and a kopeck short of it, at the
cap and one point either side of it, and where the rate leaves a fraction of a point."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wallet import db
from wallet.ledger import reads as ledger_reads
from wallet.ledger import service as ledger
from wallet.offers import service as offers
from wallet.offers import settlement
from wallet.offers.schemas import OfferIn
from wallet.offers.tables import GoalMonth
from wallet.rules import service as rules_service
from wallet.rules.schemas import RulesIn

# Each example settles a month of its own, later than the one before, so a settlement run
# sees only that example's rows and the rules version saved for it.
MONTHS = count()

goals = st.integers(0, 5_000_000)
# (goal, spent): anywhere, exactly at the goal, a kopeck short of it, or with nothing spent.
progress = st.one_of(
    st.tuples(goals, st.integers(-100_000, 10**12)),
    goals.map(lambda goal: (goal, goal)),
    goals.map(lambda goal: (goal, goal - 1)),
    goals.map(lambda goal: (goal, 0)),
)


def spend_for(points: int, rate_bp: int, point_value_kopecks: int) -> int:
    """The least spend whose reward before the cap is ``points``."""
    return -(-points * 10_000 * point_value_kopecks // rate_bp)


@settings(
    max_examples=30,
    deadline=None,
    # Examples share the test's database; each one writes a month and accounts of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(progress, min_size=1, max_size=6),
    rate_bp=st.one_of(st.integers(1, 10_000), st.sampled_from([0, 1, 33, 200, 9_999, 10_000])),
    cap=st.one_of(st.integers(1, 10_000_000), st.sampled_from([1, 1_000, 10_000_000])),
    point_value_kopecks=st.one_of(st.integers(1, 100_000), st.sampled_from([1, 100])),
)
async def test_settlement_credits_what_the_progress_promised(
    database, rows, rate_bp, cap, point_value_kopecks
):
    step = next(MONTHS)
    month = f"{2001 + step // 12:04d}-{step % 12 + 1:02d}"
    start, end = offers.month_bounds(month)
    await rules_service.put_rules(
        RulesIn(point_value_kopecks=point_value_kopecks), actor="test", now=start
    )
    offer = await offers.create_offer(
        OfferIn(name="Кешбэк", starts_at=start, rate_bp=rate_bp, cap_points=cap),
        actor="test",
        now=start,
    )
    if rate_bp:
        # Spends whose reward lands on the cap, one point below it and one above it.
        for points in (cap - 1, cap, cap + 1):
            spent = spend_for(points, rate_bp, point_value_kopecks)
            rows = [*rows, (spent, spent), (0, spent - 1)]
    accounts: dict[int, tuple[int, int]] = {}
    for index, (goal, spent) in enumerate(rows):
        account_id = await ledger.open_account(now=start)
        accounts[account_id] = (goal, spent)
        await GoalMonth.insert(
            GoalMonth(
                enrolment_id=account_id,
                offer_id=offer.id,
                account_id=account_id,
                month=month,
                enrolment_month=f"{account_id}:{month}:{index}",
                counts_from=start,
                month_ends_at=end,
                goal_kopecks=goal,
                spent_kopecks=spent,
            )
        )

    report = await settlement.settle_month(month, now=end + timedelta(days=3))

    promised = {
        account_id: offers.reward_for(
            spent, goal, rate_bp=rate_bp, cap=cap, point_value_kopecks=point_value_kopecks
        )[0]
        for account_id, (goal, spent) in accounts.items()
    }
    settled = await db.raw(
        "SELECT account_id, outcome, reward_points FROM offer_goal_month WHERE month = {}", month
    )
    assert {int(r["account_id"]): int(r["reward_points"]) for r in settled} == promised
    for row in settled:
        goal, spent = accounts[int(row["account_id"])]
        assert row["outcome"] == ("reached" if spent >= goal and spent > 0 else "missed"), row
    assert report.points == sum(promised.values())
    balances = await ledger_reads.summaries(list(accounts), now=end + timedelta(days=3))
    assert {a: s.balance for a, s in balances.items()} == promised
