"""``wallet privacy retention [--dry-run]``: the retention rule run by hand, or a report of
whom it would erase."""

from __future__ import annotations

import argparse
from typing import Any

from wallet import clock
from wallet.privacy import service


async def retention(args: argparse.Namespace) -> int:
    # The command line runs this inside an app runtime (wallet.cli.in_runtime).
    report = await service.retention(now=clock.now(), dry_run=args.dry_run)
    if not report.years:
        print("retention is off (WALLET_RETENTION_YEARS is 0 or empty): nobody is erased")
        return 0
    assert report.cutoff is not None
    verb = "would erase" if report.dry_run else "erased"
    print(
        f"{verb} {len(report.member_ids)} member(s) with no activity since "
        f"{report.cutoff.date().isoformat()} ({report.years} years)"
    )
    for member_id in report.member_ids:
        print(f"member {member_id}")
    return 0


def add_commands(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="shopper data rights (152-FZ)").add_subparsers(
        dest="privacy_command", required=True
    )
    p = privacy.add_parser(
        "retention",
        help="erase members with no activity for WALLET_RETENTION_YEARS years (the nightly "
        "job does the same)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list whom it would erase; change nothing"
    )
    p.set_defaults(run=retention)
