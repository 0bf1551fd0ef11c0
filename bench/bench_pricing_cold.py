"""The pricing function as the server runs it: the receipts bench's receipt (milk and bread)
with its 200 promotions, every call after the CPU caches were filled with other work, as
a web process's are by the rest of the request. Hot in a loop, pricing that receipt takes
a quarter of the time it takes in the server; cold, it takes what it takes there.

Prints microseconds a call with no promotions and with the 200, and with ``--against REV``
with the 200 priced by the engine (``wallet/promotions/engine.py``) of another git
revision, the rest of the tree being this one's. The variants are called in turn in one
process, so a machine whose speed drifts slows them alike; they must price alike.

    .venv/bin/python bench/bench_pricing_cold.py [--calls 4000] [--against REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
from bench_pricing import bench_rules

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wallet.promotions import engine
from wallet.promotions import schemas as s
from wallet.promotions.schemas import Stacking
from wallet.receipts import pricing
from wallet.receipts.schemas import LineIn

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
STACKING: list[Stacking] = ["stackable", "stackable", "best", "exclusive"]
RECEIPT = (
    b'[{"sku":"MILK","category":"dairy","quantity":2,"amount":17980},'
    b'{"sku":"BREAD","category":"bakery","quantity":1,"amount":6490}]'
)


def definitions(count: int) -> list[s.Definition]:
    """``bench_receipts.py --promotions``: 200 promotions over 40 categories, five of each
    (differing in effect, stacking mode and group); ten touch milk and bread."""
    window = s.Window(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=30))
    effects: list[Any] = [
        s.Multiplier(times=2),
        s.PercentOff(percent_bp=1000),
        s.NForM(take=3, pay=2),
        s.PerAmount(points=10, per_kopecks=10_000),
        s.ThresholdGift(threshold_kopecks=300_000, points=300),
    ]
    made = []
    for n in range(count):
        category = {0: "dairy", 1: "bakery"}.get(n % 40, f"cat{n % 40}")
        mix = n + n // 40
        d = s.Definition(
            conditions=[window, s.Lines(categories=[category])],
            effects=[effects[mix % len(effects)]],
            priority=n % 50,
            stacking=STACKING[mix % 4],
            group=["", "week", "fresh"][mix % 3],
        )
        # As the service holds them: decoded from the stored JSON.
        made.append(msgspec.convert(msgspec.to_builtins(d), s.Definition))
    return made


def engine_at(revision: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{revision}:wallet/promotions/engine.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "engine_at_revision.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("engine_at_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="calls of each variant")
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument("--against", metavar="REV", help="also price with this revision's engine")
    args = parser.parse_args()

    rules = bench_rules(NOW)
    defs = definitions(args.promotions)
    variants: dict[str, tuple[ModuleType, Any]] = {
        "none": (engine, engine.Catalogue([])),
        f"{args.promotions} promotions": (
            engine,
            engine.Catalogue(engine.Compiled(n + 1, f"bench {n}", d) for n, d in enumerate(defs)),
        ),
    }
    if args.against:
        other = engine_at(args.against)
        variants[f"{args.promotions} at {args.against}"] = (
            other,
            other.Catalogue(other.Compiled(n + 1, f"bench {n}", d) for n, d in enumerate(defs)),
        )

    def call(module: ModuleType, catalogue: Any) -> pricing.Pricing:
        lines = msgspec.json.decode(RECEIPT, type=list[LineIn])
        shopper = module.Shopper(
            store_code="B-1", at=NOW, local=NOW, tier="Базовый", tier_rate_bp=500
        )
        pricing.engine = module  # type: ignore[attr-defined]
        try:
            return pricing.price(
                lines,
                rules=rules,
                lifetime_spend_kopecks=0,
                balance=0,
                redeem_points=0,
                promotions=catalogue,
                shopper=shopper,
                left={},
            )
        finally:
            pricing.engine = engine  # type: ignore[attr-defined]

    priced = {name: msgspec.to_builtins(call(*variant)) for name, variant in variants.items()}
    if args.against:
        names = list(priced)
        if priced[names[1]] != priced[names[2]]:
            raise SystemExit(f"the engine at {args.against} prices the receipt differently")

    rng = random.Random(7)
    filler = [[rng.random() for _ in range(20)] for _ in range(3000)]

    def fill_caches() -> None:
        # What the rest of a request does to the caches, roughly: walk 3,000 small lists
        # and encode some JSON.
        for row in filler:
            len(row)
        json.dumps(filler[:300])

    took: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    for n in range(args.calls):
        for name, variant in order if n % 2 == 0 else reversed(order):
            fill_caches()
            started = time.perf_counter()
            call(*variant)
            took[name].append(time.perf_counter() - started)
    print(
        f"pricing the receipts bench's receipt, cold (caches filled between calls), "
        f"{args.calls} calls each, in turn"
    )
    for name, times in took.items():
        print(
            f"  {name:>24}: mean {statistics.fmean(times) * 1e6:6.1f} us, "
            f"median {statistics.median(times) * 1e6:6.1f} us"
        )


if __name__ == "__main__":
    main()
