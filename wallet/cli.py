"""The ``wallet`` command: serve, migrate, demo, keys, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from wallet import settings as settings_module
from wallet import wiring

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _prepare_piccolo() -> None:
    os.environ.setdefault("PICCOLO_CONF", "wallet.piccolo_conf")


async def migrate(_: argparse.Namespace | None = None) -> int:
    """Apply every pending migration of every domain; say one line per domain that had any.

    Piccolo prints each step of each migration (about 150 lines on a fresh database, and
    the same again on every start); that is kept for a failure, where it helps.
    """
    _prepare_piccolo()
    import contextlib
    import io

    from piccolo.apps.migrations.commands.forwards import run_forwards

    from wallet import db

    if db.is_sqlite():
        await db.engine().run_ddl("PRAGMA journal_mode=WAL")
    before = await _applied_migrations()
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        result = await run_forwards(app_name="all")
    if not result.success:
        print(chatter.getvalue(), file=sys.stderr)
        print(f"migration failed: {result.message}", file=sys.stderr)
        return 1
    applied: dict[str, int] = {}
    for app_name, _name in await _applied_migrations() - before:
        applied[app_name] = applied.get(app_name, 0) + 1
    for app_name, count in sorted(applied.items()):
        print(f"migrated {app_name}: {count} migration{'s' if count > 1 else ''} applied")
    return 0


async def _applied_migrations() -> set[tuple[str, str]]:
    from piccolo.apps.migrations.tables import Migration

    if not await Migration.table_exists():
        return set()
    rows = await Migration.select(Migration.app_name, Migration.name)
    return {(row["app_name"], row["name"]) for row in rows}


async def keys_create(args: argparse.Namespace) -> int:
    from wallet import clock, db
    from wallet.auth import service as auth

    async with db.write_transaction():
        secret, principal = await auth.create_key(
            role=args.role, store_code=args.store, name=args.name or args.role, now=clock.now()
        )
    print(f"{principal.role} key (shown once, keep it secret): {secret}")
    return 0


async def keys_list(_: argparse.Namespace) -> int:
    from wallet.auth import service as auth

    found = await auth.list_keys()
    print(
        f"{'id':>5}  {'role':8}  {'prefix':14}  {'store':>5}  {'created':16}  {'revoked':16}  name"
    )
    for key in found:
        print(
            f"{key.id:>5}  {key.role:8}  {key.prefix:14}  {key.store_id or '':>5}  "
            f"{key.created_at:%Y-%m-%d %H:%M}  "
            f"{f'{key.revoked_at:%Y-%m-%d %H:%M}' if key.revoked_at else '':16}  {key.name}"
        )
    return 0


async def keys_revoke(args: argparse.Namespace) -> int:
    from wallet import clock, db
    from wallet.auth import service as auth
    from wallet.errors import NotFound

    try:
        async with db.write_transaction():
            key = await auth.revoke_key(args.key_id, actor="cli", now=clock.now())
    except NotFound as exc:
        print(f"{exc.message}; `wallet keys list` shows the keys", file=sys.stderr)
        return 1
    print(f"key {key.id} ({key.role}, {key.prefix}...) revoked at {key.revoked_at:%Y-%m-%d %H:%M}")
    return 0


async def demo(_: argparse.Namespace) -> int:
    from wallet import demo as demo_module

    code = await migrate()
    if code:
        return code
    await demo_module.seed()
    return 0


async def reconcile(args: argparse.Namespace) -> int:
    from wallet import clock
    from wallet.ledger import reads as ledger_reads

    problems = await ledger_reads.reconcile(args.account_id, now=clock.now())
    for problem in problems:
        print(problem)
    print("ledger agrees" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


async def worker(_: argparse.Namespace) -> int:
    """Run the outbox worker until interrupted (any number of them on PostgreSQL), in the
    runtime ``main`` built for it."""
    import logging
    import signal

    from wallet.platform.worker import run_forever

    cfg = settings_module.get()
    if cfg.metrics_port:
        # The worker has no web app: its counters (deliveries, APNs/Google/SMTP latency)
        # are served by prometheus-client's own server, without a key, so on loopback
        # unless WALLET_METRICS_HOST opens it.
        from prometheus_client import start_http_server

        start_http_server(cfg.metrics_port, addr=cfg.metrics_host)
        logging.getLogger("wallet.worker").info(
            "worker metrics on http://%s:%s/metrics", cfg.metrics_host, cfg.metrics_port
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_forever(stop)
    finally:
        from wallet.sms import smpp

        await smpp.close()  # unbind from the SMSC rather than drop the session
    return 0


async def outbox(args: argparse.Namespace) -> int:
    """Show the outbox by status and the jobs that failed for good; requeue them."""
    from wallet import clock, db
    from wallet.platform import service as platform
    from wallet.platform.tables import OutboxJob

    if args.requeue:
        async with db.write_transaction():
            await OutboxJob.update(
                {
                    OutboxJob.status: "pending",
                    OutboxJob.attempts: 0,
                    OutboxJob.due_at: clock.now(),
                }
            ).where(OutboxJob.status == "dead")
    counts = await platform.outbox_counts()
    print(", ".join(f"{status}: {n}" for status, n in counts.items()) or "outbox is empty")
    dead = (
        await OutboxJob.select(
            OutboxJob.id, OutboxJob.kind, OutboxJob.payload, OutboxJob.last_error
        )
        .where(OutboxJob.status == "dead")
        .limit(50)
    )
    for job in dead:
        print(f"dead job {job['id']} {job['kind']} {job['payload']}: {job['last_error']}")
    if dead:
        print("fix the cause, then `wallet outbox --requeue`")
    return 0


async def plastic_create(args: argparse.Namespace) -> int:
    """Anonymous plastic cards with their scratch codes; the codes are printed once here
    and kept only as hashes."""
    from wallet import clock, db
    from wallet.plastic import service as plastic

    async with db.write_transaction():
        printed = await plastic.create_batch(
            count=args.count, prefix=args.prefix, batch=args.batch, now=clock.now()
        )
    print("number,code")
    for card in printed:
        print(f"{card.number},{card.code}")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from wallet import bootstrap

    code = asyncio.run(in_runtime(migrate, argparse.Namespace(pool=False)))
    if code:
        return code
    bootstrap.prepare_certificates()
    from wallet.web import server

    uvicorn.run(
        "wallet.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level=settings_module.get().log_level.lower(),
        **server.uvicorn_options(),
    )
    return 0


async def rfm(_: argparse.Namespace) -> int:
    """Rescore RFM now (the nightly job does the same) and print the groups."""
    from wallet import clock
    from wallet.segments import service as segments

    result = await segments.score_rfm(now=clock.now())
    print(f"scored {result.scored} accounts")
    for group in result.groups:
        print(f"{group.group:12} {group.accounts}")
    return 0


async def record_standings(args: argparse.Namespace) -> int:
    """Record the tier and RFM group of every account at each ended month end from
    ``--since`` on (the worker records each month as it ends; this fills the months before
    it ran, from the receipts). Months already recorded are left as they are."""
    from wallet import clock
    from wallet.segments import standing

    for month, accounts in (await standing.record_since(args.since, now=clock.now())).items():
        print(f"{month} {'already recorded' if accounts is None else f'{accounts} accounts'}")
    return 0


async def record_liability(args: argparse.Namespace) -> int:
    """Record every account's lots and debt at each ended month end from ``--since`` on (the
    worker records each month as it ends; this fills the months before it ran, from the
    journal), so the liability report at a past moment reads them instead of the whole
    journal. Months already recorded are left as they are."""
    from wallet import clock
    from wallet.ledger import month_end

    for month, rows in (await month_end.record_since(args.since, now=clock.now())).items():
        print(f"{month} {'already recorded' if rows is None else f'{rows} rows'}")
    return 0


def _month(text: str) -> str:
    from datetime import datetime

    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None
    return text


EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wallet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP service (applies migrations first)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL only)")
    p.add_argument("--access-log", action="store_true", help="log every request (costs ~30%%)")
    p.set_defaults(sync=serve)

    p = sub.add_parser("worker", help="run the outbox worker (pushes, Google updates, mail)")
    p.set_defaults(run=worker)

    p = sub.add_parser("outbox", help="outbox status and failed jobs")
    p.add_argument("--requeue", action="store_true", help="retry every dead job")
    p.set_defaults(run=outbox)

    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.set_defaults(run=migrate, pool=False)  # Piccolo migrates on its own connection

    p = sub.add_parser("demo", help="migrate, then add a demo program, store, shoppers and keys")
    p.set_defaults(run=demo)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    p = keys.add_parser("create", help="create a key and print it once")
    p.add_argument("--role", required=True, choices=["pos", "support", "marketer", "admin"])
    p.add_argument("--store", help="store code (required for pos keys)")
    p.add_argument("--name", help="who or what holds the key")
    p.set_defaults(run=keys_create)
    p = keys.add_parser("list", help="every key: id, role, prefix, store, created, revoked")
    p.set_defaults(run=keys_list)
    p = keys.add_parser("revoke", help="revoke a key (it stops working within a second)")
    p.add_argument("key_id", type=int)
    p.set_defaults(run=keys_revoke)

    p = sub.add_parser("reconcile", help="check one account's balance against its lots and journal")
    p.add_argument("account_id", type=int)
    p.set_defaults(run=reconcile)

    plastic = sub.add_parser("plastic", help="plastic cards").add_subparsers(
        dest="plastic_command", required=True
    )
    p = plastic.add_parser(
        "create", help="print a batch of anonymous plastic cards as number,code CSV"
    )
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", default="78", help="leading digits of the numbers (default 78)")
    p.add_argument("--batch", default="", help="a label kept with the batch")
    p.set_defaults(run=plastic_create)

    p = sub.add_parser("rfm", help="score every account on recency, frequency and money now")
    p.set_defaults(run=rfm)
    p = sub.add_parser(
        "record-standings",
        help="record every account's tier and RFM group at each month end since a month",
    )
    p.add_argument("--since", type=_month, required=True, help="the first month, YYYY-MM")
    p.set_defaults(run=record_standings)
    p = sub.add_parser(
        "record-liability",
        help="record every account's lots and debt at each month end since a month "
        "(the liability report at a past date starts from them)",
    )
    p.add_argument("--since", type=_month, required=True, help="the first month, YYYY-MM")
    p.set_defaults(run=record_liability)

    from wallet.offers.commands import add_commands as add_offer_commands

    add_offer_commands(sub)
    from wallet.privacy.commands import add_commands as add_privacy_commands

    add_privacy_commands(sub)
    from wallet.imports.commands import add_commands as add_import_commands

    add_import_commands(sub)
    for add in EXTRA_COMMANDS:
        add(sub)
    return parser


async def in_runtime(command: Command, args: argparse.Namespace) -> int:
    """Run one command inside an app runtime built as the app builds its own (events
    connected, pool started), closed when the command ends."""
    async with wiring.running(settings_module.get(), pool=getattr(args, "pool", True)):
        return await command(args)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if getattr(args, "sync", None):  # serve: uvicorn and the app set up logging
        raise SystemExit(args.sync(args))
    import logging

    # The worker and the operator's commands log through the same loggers as the app.
    from wallet import observe

    cfg = settings_module.get()
    handler = logging.StreamHandler()
    handler.setFormatter(observe.make_formatter(cfg.log_format))
    logging.basicConfig(level=cfg.log_level, handlers=[handler])
    logging.getLogger("piccolo").setLevel(logging.WARNING)  # "Running Sqlite version ..."
    logging.getLogger("httpx").setLevel(logging.WARNING)  # URLs with push tokens, pass ids
    raise SystemExit(asyncio.run(in_runtime(args.run, args)))


if __name__ == "__main__":
    main()
