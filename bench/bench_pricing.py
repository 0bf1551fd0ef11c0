"""The pricing function (``receipts.pricing.price`` with the promotions engine) on a 50-line
receipt with 200 active promotions, in-process: p50/p99 per call. Target: p99 < 2 ms.

The promotions are a grocery chain's week: category multipliers and rates, SKU discounts,
1+1 and 2+1, sets, thresholds, store- and tier-bound ones, exclusive and best-for-shopper
groups; about a tenth of them touch the receipt.

    .venv/bin/python bench/bench_pricing.py [--calls 5000] [--promotions 200] [--lines 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wallet.promotions import engine
from wallet.promotions import schemas as s
from wallet.receipts.pricing import price
from wallet.receipts.schemas import LineIn
from wallet.rules.schemas import Rules
from wallet.rules.service import DEFAULT_RULES

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
CATEGORIES = [f"cat{i}" for i in range(40)] + ["alcohol"]


def promotions(count: int, rng: random.Random) -> list[engine.Compiled]:
    made = []
    for n in range(1, count + 1):
        cat = rng.choice(CATEGORIES)
        conditions: list[object] = [
            s.Window(
                starts_at=NOW - timedelta(days=3), ends_at=NOW + timedelta(days=rng.choice([-1, 4]))
            )
        ]
        kind = n % 10
        if kind < 7:
            conditions.append(s.Lines(categories=[cat], skus=[f"SKU{rng.randrange(500)}"]))
        if kind == 7:
            conditions.append(s.Stores(codes=[rng.choice(["S1", "S2", "S3"])]))
        if kind == 8:
            conditions.append(s.MinTotal(kopecks=rng.choice([100_000, 500_000])))
        effect = rng.choice(
            [
                s.Multiplier(times=2),
                s.Rate(rate_bp=1000),
                s.PercentOff(percent_bp=1500),
                s.AmountOff(kopecks=2000),
                s.NForM(take=2, pay=1),
                s.NForM(take=3, pay=2),
                s.SetDeal(
                    skus=[f"SKU{rng.randrange(500)}", f"SKU{rng.randrange(500)}"], percent_bp=2000
                ),
                s.CheapestFree(min_units=3),
                s.ThresholdGift(threshold_kopecks=300_000, points=300),
                s.PerAmount(points=10, per_kopecks=10_000),
            ]
        )
        definition = s.Definition(
            conditions=conditions,  # type: ignore[arg-type]
            effects=[effect],
            priority=rng.randrange(100),
            stacking=rng.choice(["stackable", "stackable", "exclusive", "best"]),
            group=rng.choice(["", "week", "fresh"]),
            budget=s.Budget(points=1_000_000) if n % 7 == 0 else s.Budget(),
        )
        made.append(engine.Compiled(n, f"promotion {n}", definition))
    return made


def bench_rules(effective_from: datetime) -> Rules:
    """The default program (5%, 7% after 15,000 ₽; no points on alcohol and tobacco) as
    the pricing benches price with it."""
    return Rules(
        id=1,
        effective_from=effective_from,
        program_name="bench",
        earn_rate_bp=500,
        tiers=list(DEFAULT_RULES.tiers or []),
        no_earn_categories=["alcohol", "tobacco"],
        no_redeem_categories=["alcohol", "tobacco"],
        max_redeem_share_bp=9_900,
        validity_months=6,
        pending_days=0,
        point_value_kopecks=100,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument("--lines", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    catalogue = engine.Catalogue(promotions(args.promotions, rng))
    rules = bench_rules(NOW)
    lines = [
        LineIn(
            sku=f"SKU{rng.randrange(500)}",
            category=rng.choice(CATEGORIES),
            quantity=rng.choice([1, 1, 2, 3, 0.75]),
            amount=rng.randrange(3_000, 150_000),
        )
        for _ in range(args.lines)
    ]
    shopper = engine.Shopper(store_code="S1", at=NOW, local=NOW, tier="Базовый", tier_rate_bp=500)
    left = {pid: engine.Left(points=1_000_000) for pid in catalogue.budgeted}
    timings = []
    cpu = []
    result = None
    for _ in range(args.calls):
        start, start_cpu = time.perf_counter(), time.thread_time()
        result = price(
            lines,
            rules=rules,
            lifetime_spend_kopecks=0,
            balance=10_000,
            redeem_points=100,
            promotions=catalogue,
            shopper=shopper,
            left=left,
        )
        timings.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    assert result is not None
    timings.sort()
    cpu.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99)] * 1000
    print(
        f"pricing: {args.lines} lines, {args.promotions} promotions "
        f"({len(result.promotions)} applied, {len(result.not_applied)} not applied): "
        f"wall p50 {p50:.3f} ms, p99 {p99:.3f} ms; on-CPU p50 "
        f"{statistics.median(cpu) * 1000:.3f} ms, p99 {cpu[int(len(cpu) * 0.99)] * 1000:.3f} ms "
        f"over {args.calls} calls (target p99 < 2 ms; wall includes waiting for a core)"
    )


if __name__ == "__main__":
    main()
