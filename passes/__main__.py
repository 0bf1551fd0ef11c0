"""Command line of the passes library.

python -m passes dev-certs DIR [--pass-type-id ID] [--team-id TEAM] [--google-issuer-email E]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from passes.devcerts import (
    DEFAULT_GOOGLE_ISSUER_EMAIL,
    DEFAULT_PASS_TYPE_ID,
    DEFAULT_TEAM_ID,
    DEV_FILES,
    make_dev_certs,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m passes")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "dev-certs", help="make a development signing PKI and Google key (idempotent)"
    )
    dev.add_argument("dir", type=Path)
    dev.add_argument("--pass-type-id", default=DEFAULT_PASS_TYPE_ID)
    dev.add_argument("--team-id", default=DEFAULT_TEAM_ID)
    dev.add_argument("--google-issuer-email", default=DEFAULT_GOOGLE_ISSUER_EMAIL)
    args = parser.parse_args(argv)

    if args.command == "dev-certs":
        written = make_dev_certs(
            args.dir,
            pass_type_id=args.pass_type_id,
            team_id=args.team_id,
            google_issuer_email=args.google_issuer_email,
        )
        verb = "wrote" if written else "kept existing"
        for name in DEV_FILES:
            print(f"{verb} {args.dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
