"""Passes on phones: what each card's pass shows, who may fetch it, and when it changed.

How a change reaches a phone without ever being lost:
1. every ledger write calls ``platform.enqueue_pass_update(account_id)`` in its own
   transaction (coalesced per account);
2. the worker runs ``refresh_account``: it rebuilds each card's state, and where what the
   pass shows differs from the stored fingerprint it gives the pass a new tag and
   Last-Modified and queues an APNs push job and a Google sync job, all in one
   transaction; a crash before that commit re-runs the job, a crash after it finds
   nothing changed and the queued jobs carry on;
3. ``push_due`` sends to every registered device behind its pass's tag and records each
   success, so a retried job skips the devices already told.

Tags come from one counter row: bumping it holds the row's lock until commit, so tags are
committed in increasing order, and a device that saw tag N never misses a pass whose change
commits later with a smaller tag.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import msgspec

from passes.apple import PassSigner, build_pkpass
from passes.card import (
    AppleSettings,
    BurnNotice,
    CardState,
    GoalProgress,
    Program,
    StoreLocation,
)
from passes.google import (
    GoogleSettings,
    ServiceAccount,
    add_message_body,
    loyalty_class,
    loyalty_object,
    loyalty_object_patch,
    object_id,
)
from wallet import clock, codes, db, settings
from wallet.errors import AccountNotFound, CardNotFound, NotFound, Unauthorized
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.passsync import apns, google_api
from wallet.passsync.tables import (
    GoogleMessage,
    GoogleObject,
    PassCard,
    PassRegistration,
    PassTagCounter,
)
from wallet.platform import service as platform
from wallet.platform.worker import GiveUp, RetryLater
from wallet.rules import service as rules_service
from wallet.stores import service as stores

log = logging.getLogger("wallet.passsync")

# A download link is for the shopper who just asked for it; /me hands out fresh ones.
LINK_LIFETIME = timedelta(hours=1)
# Google rings the phone for at most 3 messages per pass per 24 h (403 quotaExceeded).
GOOGLE_NOTIFY_LIMIT = 3
GOOGLE_NOTIFY_WINDOW = timedelta(hours=24)
# Streams kept in flight on the one APNs connection.
PUSH_CONCURRENCY = 100
PASSKIT_PREFIX = "/passkit"


class PassNotFound(NotFound):
    code = "pass_not_found"


# ---------------------------------------------------------------- secrets, tokens, links


# The server secret and purpose-bound HMACs live in wallet.codes (shared with campaigns'
# unsubscribe links and plastic activation codes); re-exported for existing callers.
ensure_secret_key = codes.ensure_secret_key
secret_key = codes.secret_key
_mac = codes.mac


def pass_token(serial: str) -> str:
    """The pass's authenticationToken: HMAC(secret key, serial). Nothing secret is stored,
    and a pass rebuilt later carries the same token Wallet already holds."""
    return _mac("passkit-token", serial)


def token_matches(serial: str, authorization: str | None) -> bool:
    scheme, _sep, token = (authorization or "").partition(" ")
    if scheme != "ApplePass" or not token:
        return False
    return codes.same_secret(token.strip(), pass_token(serial))


def _signed(path: str, card_number: str, now: datetime) -> str:
    expires = int((now + LINK_LIFETIME).timestamp())
    sig = _mac("link", f"{path}:{card_number}:{expires}")
    return f"{settings.get().base_url}{path}?expires={expires}&sig={sig}"


def apple_pass_link(card_number: str, *, now: datetime | None = None) -> str:
    """A short-lived signed link to the card's .pkpass (Safari cannot send a bearer)."""
    return _signed(f"/passes/{quote(card_number)}.pkpass", card_number, now or clock.now())


def google_save_link(card_number: str, *, now: datetime | None = None) -> str:
    """A short-lived signed link that records the save and redirects to Google."""
    return _signed(f"/passes/{quote(card_number)}/google", card_number, now or clock.now())


def check_link(path: str, card_number: str, *, expires: int, sig: str, now: datetime) -> None:
    if expires < int(now.timestamp()):
        raise Unauthorized("this pass link has expired; open your card again for a fresh one")
    if not codes.same_secret(sig, _mac("link", f"{path}:{card_number}:{expires}")):
        raise Unauthorized("this pass link is not valid")


# ---------------------------------------------------------------- program and card state


def apple_settings() -> AppleSettings:
    cfg = settings.get()
    return AppleSettings(
        pass_type_id=cfg.pass_type_id,
        team_id=cfg.team_id,
        web_service_url=cfg.base_url + PASSKIT_PREFIX,
    )


def google_settings() -> GoogleSettings:
    cfg = settings.get()
    return GoogleSettings(
        issuer_id=cfg.google_issuer_id, class_suffix="loyalty", origins=[cfg.base_url]
    )


_signers: dict[str, PassSigner] = {}
_accounts: dict[str, ServiceAccount] = {}
_programs: dict[Any, Program] = {}


def signer() -> PassSigner:
    folder = settings.get().certs_dir
    found = _signers.get(str(folder))
    if found is None:
        found = PassSigner.from_files(
            folder / "pass-cert.pem", folder / "pass-key.pem", folder / "wwdr.pem"
        )
        _signers[str(folder)] = found
    return found


def service_account() -> ServiceAccount:
    folder = settings.get().certs_dir
    found = _accounts.get(str(folder))
    if found is None:
        found = ServiceAccount.from_file(folder / "google-service-account.json")
        _accounts[str(folder)] = found
    return found


async def program(now: datetime) -> Program:
    """The program as passes show it; one object per distinct content (passes/ caches by
    identity)."""
    rules = await rules_service.rules_at(now)
    shops = [s for s in await stores.list_stores() if s.latitude is not None]
    key = (
        rules.program_name,
        tuple((s.name, s.latitude, s.longitude) for s in shops[:10]),
    )
    found = _programs.get(key)
    if found is None:
        found = Program(
            program_name=rules.program_name,
            organization_name=rules.program_name,
            issuer_name=rules.program_name,
            homepage_url=settings.get().base_url,
            locations=[
                StoreLocation(latitude=lat, longitude=lon, name=name)
                for name, lat, lon in key[1]
                if lat is not None and lon is not None
            ],
        )
        if len(_programs) > 32:
            _programs.clear()
        _programs[key] = found
    return found


# What the domains above pass sync add to a pass, for many accounts at once: offers
# provide this month's goal and the reminded burn (``wallet.wiring`` hands them in at
# start-up; pass sync sits below offers and cannot import them). None: nothing to show.
FactsReader = Callable[..., Awaitable[dict[int, Any]]]
_goals_reader: FactsReader | None = None
_burns_reader: FactsReader | None = None


def read_offer_facts(*, goals: FactsReader, burns: FactsReader) -> None:
    """Where passes read goals and burn notices from (``goals(account_ids, now=...)``)."""
    global _goals_reader, _burns_reader
    _goals_reader, _burns_reader = goals, burns


async def _facts(read: FactsReader | None, account_ids: list[int], now: datetime) -> Any:
    return {} if read is None else await read(account_ids, now=now)


class AccountView(msgspec.Struct, frozen=True):
    balance: int
    pending: int
    tier_name: str
    next_expiry_points: int
    next_expiry_at: datetime | None
    goal: GoalProgress | None
    burn_notice: BurnNotice | None = None
    language: str = "ru"
    tier_progress: str | None = None


async def account_view(account_id: int, now: datetime) -> AccountView:
    found = await account_views([account_id], now)
    if account_id not in found:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return found[account_id]


async def account_views(account_ids: list[int], now: datetime) -> dict[int, AccountView]:
    """What the passes of these accounts show, read for all of them at once (a few IN
    queries, not a few queries per account: pass refreshes and campaigns run in batches)."""
    summaries = await ledger.summaries(account_ids, now=now)
    goals: dict[int, GoalProgress] = await _facts(_goals_reader, list(summaries), now)
    notices: dict[int, BurnNotice] = await _facts(_burns_reader, list(summaries), now)
    # The reminder is the one text the pass composes in the shopper's own language.
    rules = await rules_service.rules_at(now)
    standings = {
        account_id: await ledger.tier_standing(
            account_id, now=now, lifetime_spend_kopecks=summary.lifetime_spend_kopecks, rules=rules
        )
        for account_id, summary in summaries.items()
    }
    progress_shown = [a for a, s in standings.items() if s.next_tier is not None]
    languages = (
        await members.languages_of_accounts(sorted(set(notices) | set(progress_shown)))
        if notices or progress_shown
        else {}
    )
    return {
        account_id: AccountView(
            balance=summary.balance,
            pending=summary.pending,
            tier_name=standings[account_id].tier.name,
            tier_progress=standings[account_id].progress_text(languages.get(account_id, "ru")),
            next_expiry_points=summary.next_expiry.points if summary.next_expiry else 0,
            next_expiry_at=summary.next_expiry.expires_at if summary.next_expiry else None,
            goal=goals.get(account_id),
            burn_notice=notices.get(account_id),
            language=languages.get(account_id, "ru"),
        )
        for account_id, summary in summaries.items()
    }


def _message(row: dict[str, Any] | None) -> str | None:
    if not row or not row["message_text"]:
        return None
    header = row["message_header"]
    return f"{header}. {row['message_text']}" if header else row["message_text"]


def card_state(
    card: CardInfo, view: AccountView, row: dict[str, Any] | None, modified_at: datetime
) -> CardState:
    return CardState(
        serial_number=card.pass_serial,
        card_number=card.number,
        holder_name=card.holder_name,
        balance=view.balance,
        pending=view.pending,
        tier_name=view.tier_name,
        next_expiry_points=view.next_expiry_points,
        next_expiry_at=view.next_expiry_at,
        goal=view.goal,
        status=card.status,  # type: ignore[arg-type]
        message=_message(row),
        updated_at=modified_at,
        burn_notice=view.burn_notice,
        tier_progress=view.tier_progress,
        language=view.language,
    )


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def fingerprint(state: CardState) -> str:
    """What the pass shows, without its own timestamp."""
    return codes.sha256_hex(msgspec.json.encode(msgspec.structs.replace(state, updated_at=_EPOCH)))


async def _next_tag_row() -> None:
    await PassTagCounter.insert(PassTagCounter(id=1, value=0)).on_conflict(
        target=PassTagCounter.id, action="DO NOTHING"
    )


async def _next_tag() -> int:
    await _next_tag_row()
    rows = await db.raw(
        "UPDATE pass_tag_counter SET value = value + 1 WHERE id = 1 RETURNING value"
    )
    return int(rows[0]["value"])


def _next_modified(previous: datetime | None, now: datetime) -> datetime:
    """Last-Modified travels in whole seconds: keep it strictly increasing per pass, so a
    second change within one second is not hidden by a 304."""
    moment = now.replace(microsecond=0)
    if previous is not None and moment <= previous:
        moment = previous.replace(microsecond=0) + timedelta(seconds=1)
    return moment


_PASS_COLUMNS = (
    PassCard.id,
    PassCard.card_id,
    PassCard.account_id,
    PassCard.serial,
    PassCard.tag,
    PassCard.modified_at,
    PassCard.fingerprint,
    PassCard.message_id,
    PassCard.message_header,
    PassCard.message_text,
)


async def _pass_row(serial: str) -> dict[str, Any] | None:
    return await PassCard.select(*_PASS_COLUMNS).where(PassCard.serial == serial).first()


async def ensure_pass(card: CardInfo, *, now: datetime) -> dict[str, Any]:
    """The card's pass row, made when its pass is first served or saved."""
    row = await PassCard.select(*_PASS_COLUMNS).where(PassCard.card_id == card.id).first()
    if row is not None:
        return row
    view = await account_view(card.account_id, now)
    modified = _next_modified(None, now)
    async with db.write_transaction():
        inserted = await (
            PassCard.insert(
                PassCard(
                    card_id=card.id,
                    account_id=card.account_id,
                    serial=card.pass_serial,
                    tag=0,
                    modified_at=modified,
                    fingerprint=fingerprint(card_state(card, view, None, modified)),
                    created_at=now,
                )
            )
            .on_conflict(target=PassCard.card_id, action="DO NOTHING")
            .returning(PassCard.id)
        )
        if inserted:
            tag = await _next_tag()
            await PassCard.update({PassCard.tag: tag}).where(PassCard.id == inserted[0]["id"])
    found = await PassCard.select(*_PASS_COLUMNS).where(PassCard.card_id == card.id).first()
    assert found is not None
    return found


# ---------------------------------------------------------------- serving passes


class BuiltPass(msgspec.Struct, frozen=True):
    data: bytes
    modified_at: datetime


async def _build(card: CardInfo, row: dict[str, Any], now: datetime) -> BuiltPass:
    view = await account_view(card.account_id, now)
    state = card_state(card, view, row, row["modified_at"])
    prog = await program(now)
    data = await asyncio.to_thread(
        build_pkpass, state, prog, apple_settings(), pass_token(card.pass_serial), signer()
    )
    return BuiltPass(data=data, modified_at=row["modified_at"])


async def download_pass(card_number: str, *, now: datetime) -> BuiltPass:
    """The .pkpass behind a signed link (the link was checked by the caller)."""
    card = await members.find_card(card_number)
    row = await ensure_pass(card, now=now)
    return await _build(card, row, now)


def _authorize(pass_type_id: str, serial: str, authorization: str | None) -> None:
    # Checked before anything is looked up, so a caller without the token learns nothing
    # about which serials exist.
    if pass_type_id != settings.get().pass_type_id or not token_matches(serial, authorization):
        raise Unauthorized("missing or wrong ApplePass token")


async def latest_pass(
    pass_type_id: str,
    serial: str,
    *,
    authorization: str | None,
    if_modified_since: datetime | None,
    now: datetime,
) -> BuiltPass | None:
    """The pass as it is now, or None when the device's copy is current (304)."""
    _authorize(pass_type_id, serial, authorization)
    row = await _pass_row(serial)
    if row is None:
        raise PassNotFound(f"no pass {serial}")
    if if_modified_since is not None and if_modified_since >= row["modified_at"]:
        return None
    try:
        card = await members.find_card_by_id(row["card_id"])
    except CardNotFound as exc:
        raise PassNotFound(f"no pass {serial}") from exc
    return await _build(card, row, now)


# ---------------------------------------------------------------- registrations


async def register_device(
    *,
    device_id: str,
    pass_type_id: str,
    serial: str,
    push_token: str,
    authorization: str | None,
    now: datetime,
) -> bool:
    """Register a device for a pass's updates; True when new (201), False when known (200)."""
    _authorize(pass_type_id, serial, authorization)
    row = await _pass_row(serial)
    if row is None:
        raise PassNotFound(f"no pass {serial}")
    async with db.write_transaction():
        # Read under the pass row's lock: a refresh giving it a new tag either committed
        # before (we store that tag) or flags this registration after we commit.
        locked = await db.fetch("SELECT tag FROM pass_card WHERE id = $1 FOR UPDATE", row["id"])
        inserted = await (
            PassRegistration.insert(
                PassRegistration(
                    key=f"{device_id}:{serial}",
                    device_id=device_id,
                    serial=serial,
                    push_token=push_token,
                    # The device has just downloaded the current version.
                    pushed_tag=locked[0]["tag"],
                    created_at=now,
                )
            )
            .on_conflict(target=PassRegistration.key, action="DO NOTHING")
            .returning(PassRegistration.id)
        )
        if not inserted:
            # A restored phone may come back with a new push token.
            await PassRegistration.update({PassRegistration.push_token: push_token}).where(
                PassRegistration.key == f"{device_id}:{serial}"
            )
    return bool(inserted)


async def unregister_device(
    *, device_id: str, pass_type_id: str, serial: str, authorization: str | None
) -> None:
    _authorize(pass_type_id, serial, authorization)
    async with db.write_transaction():
        await PassRegistration.delete().where(PassRegistration.key == f"{device_id}:{serial}")


class UpdatedSerials(msgspec.Struct, frozen=True):
    serial_numbers: list[str] = msgspec.field(name="serialNumbers")
    last_updated: str = msgspec.field(name="lastUpdated")


# Tags we hand out are decimal counter values that fit the bigint column with room to spare.
_TAG = re.compile(r"[0-9]{1,18}")


def _our_tag(since: str | None) -> int | None:
    """The tag a device sent back, or None for one we never gave (``²``, 20 digits, text).

    A device only echoes our own ``lastUpdated``, so anything else is a corrupted or forged
    value; answering with every pass of the device (as for a first sync) is what Wallet
    copes with: it fetches each with If-Modified-Since and gets cheap 304s, where a 4xx
    would leave it retrying the same bad tag and never learn of changes.
    """
    if since is None or not _TAG.fullmatch(since.strip()):
        return None
    return int(since.strip())


async def serials_updated_since(
    device_id: str, pass_type_id: str, since: str | None
) -> UpdatedSerials | None:
    """All of this device's passes changed after tag ``since`` (all of them without a tag);
    None (204) when there are none or the device is unknown."""
    if pass_type_id != settings.get().pass_type_id:
        return None
    sql = (
        "SELECT r.serial AS serial, p.tag AS tag FROM pass_registration r "
        "JOIN pass_card p ON p.serial = r.serial WHERE r.device_id = {}"
    )
    args: list[Any] = [device_id]
    tag = _our_tag(since)
    if tag is not None:
        sql += " AND p.tag > {}"
        args.append(tag)
    rows = await db.raw(sql + " ORDER BY p.tag", *args)
    if not rows:
        return None
    return UpdatedSerials(
        serial_numbers=[row["serial"] for row in rows],
        last_updated=str(max(int(row["tag"]) for row in rows)),
    )


# ---------------------------------------------------------------- the worker's side


async def refresh_account(account_id: int, *, now: datetime) -> int:
    """Give every card of the account whose pass content changed a new tag, and queue its
    pushes; returns how many passes changed."""
    return (await refresh_accounts([account_id], now=now))[account_id]


async def refresh_accounts(
    account_ids: list[int],
    *,
    now: datetime,
    cards: dict[int, list[CardInfo]] | None = None,
    messages: dict[int, PassText] | None = None,
) -> dict[int, int]:
    """``refresh_account`` for many accounts in one write transaction (the caller's, if
    there is one): the cards and what their passes show are read for all the accounts in a
    few IN queries, the pass rows read and locked in one query, the tags taken from the
    counter in one bump, the changed passes written in one statement, one push job queued.
    The worker's pass updates that run at once and a campaign's batch of messages come
    here; ``messages`` (by card id) puts a new message on those passes in the same write.
    ``cards`` saves reading them again when the caller has. Returns passes changed per
    account."""
    changed = dict.fromkeys(account_ids, 0)
    if cards is None:
        cards = await members.cards_of_accounts(list(changed))
    ids = [card.id for account_id in changed for card in cards.get(account_id, [])]
    if not ids:
        return changed
    known = {
        row["card_id"]
        for chunk in db.chunks(ids)
        for row in await db.fetch(
            f"SELECT card_id FROM pass_card WHERE card_id IN ({_marks(len(chunk))})", *chunk
        )
    }
    if not known:
        return changed
    shown = [a for a in changed if any(card.id in known for card in cards.get(a, []))]
    views = await account_views(shown, now)
    columns = ", ".join(column._meta.db_column_name for column in _PASS_COLUMNS)
    lock = "" if db.is_sqlite() else " ORDER BY id FOR UPDATE"
    messages = messages or {}
    async with db.write_transaction():
        mine = sorted(known)
        rows: dict[int, dict[str, Any]] = {}
        google: set[int] = set()
        for chunk in db.chunks(mine):
            marks = _marks(len(chunk))
            for row in await db.fetch(
                f"SELECT {columns} FROM pass_card WHERE card_id IN ({marks}){lock}", *chunk
            ):
                rows[row["card_id"]] = row
            for obj in await db.fetch(
                f"SELECT card_id FROM google_object WHERE card_id IN ({marks})", *chunk
            ):
                google.add(obj["card_id"])
        updates: list[tuple[int, int, dict[str, Any], str]] = []
        for account_id, view in views.items():
            for card in cards[account_id]:
                pass_row = rows.get(card.id)
                if pass_row is None:
                    continue
                text = messages.get(card.id)
                if text is not None:
                    pass_row = {**pass_row, **text.columns()}
                seen = fingerprint(card_state(card, view, pass_row, pass_row["modified_at"]))
                if (
                    seen == pass_row["fingerprint"]
                    and pass_row["account_id"] == account_id
                    and (text is None or text.message_id == rows[card.id]["message_id"])
                ):
                    continue
                updates.append((account_id, card.id, pass_row, seen))
        if updates:
            last = await _next_tags(len(updates))
            first = last - len(updates) + 1
            for low in range(0, len(updates), 200):
                batch = [
                    (
                        row["id"],
                        first + low + number,
                        _next_modified(row["modified_at"], now),
                        seen,
                        account_id,
                        row["message_id"],
                        row["message_header"],
                        row["message_text"],
                    )
                    for number, (account_id, _card, row, seen) in enumerate(
                        updates[low : low + 200]
                    )
                ]
                table, args = db.values_table(batch, _PASS_UPDATE_TYPES)
                await db.fetch(
                    "UPDATE pass_card SET tag = v.column2, modified_at = v.column3, "
                    "fingerprint = v.column4, account_id = v.column5, message_id = v.column6, "
                    f"message_header = v.column7, message_text = v.column8 FROM {table} "
                    "WHERE pass_card.id = v.column1",
                    *args,
                )
            serials = sorted({row["serial"] for _a, _c, row, _s in updates})
            for chunk_serials in db.chunks(serials):
                await db.fetch(
                    "UPDATE pass_registration SET push_due = true "
                    f"WHERE serial IN ({_marks(len(chunk_serials))}) AND NOT push_due",
                    *chunk_serials,
                )
            for account_id, card_id, _row, _seen in updates:
                if card_id in google:
                    await platform.enqueue(
                        kind="google_sync",
                        payload={"card_id": card_id},
                        dedupe_key=f"google:card:{card_id}",
                    )
                changed[account_id] += 1
            await queue_push()
    return changed


_PASS_UPDATE_TYPES = ("bigint", "bigint", "timestamptz", "text", "bigint", "text", "text", "text")


class PassText(msgspec.Struct, frozen=True):
    """A marketer's message as a pass shows it (``push_message``)."""

    message_id: str
    header: str
    text: str

    def columns(self) -> dict[str, str]:
        return {
            "message_id": self.message_id[:100],
            "message_header": self.header[:200],
            "message_text": self.text,
        }


def _marks(count: int) -> str:
    return ", ".join(f"${n}" for n in range(1, count + 1))


async def _next_tags(count: int) -> int:
    """Take ``count`` tags from the counter in one bump; returns the last of them."""
    await _next_tag_row()
    rows = await db.raw(
        "UPDATE pass_tag_counter SET value = value + {} WHERE id = 1 RETURNING value", count
    )
    return int(rows[0]["value"])


async def queue_push() -> None:
    """One waiting push job serves every changed pass (see push_due)."""
    async with db.write_transaction():
        await platform.enqueue(kind="apns_push", payload={}, dedupe_key="apns:due")


PUSH_BATCH = 500
# How long a worker holds the devices it is pushing to; shorter than the outbox lease, so
# a job taken over after a crash finds them free again.
PUSH_LEASE = timedelta(seconds=30)


async def _claim_devices(now: datetime) -> list[dict[str, Any]]:
    """Lease a batch of the devices flagged ``push_due`` (a partial index holds just them)."""
    skip = "" if db.is_sqlite() else " FOR UPDATE OF r SKIP LOCKED"
    async with db.write_transaction():
        return await db.raw(
            "UPDATE pass_registration SET pushing_until = {} WHERE id IN ("
            "SELECT r.id FROM pass_registration r "
            "WHERE r.push_due AND (r.pushing_until IS NULL OR r.pushing_until < {}) "
            f"ORDER BY r.id LIMIT {PUSH_BATCH}{skip}) "
            "RETURNING id, push_token, serial, pushed_tag",
            now + PUSH_LEASE,
            now,
        )


async def push_due(*, now: datetime | None = None, seconds: float | None = None) -> dict[str, int]:
    """Push every device whose pass changed since it was last told, a batch at a time over
    the one HTTP/2 connection. Each batch is leased (``pushing_until``, SKIP LOCKED on
    PostgreSQL), so workers on several machines share devices without pushing one twice,
    and successes are recorded, so a retry only reaches the devices not yet told.

    With ``seconds``, no batch is started after that long (a campaign leaves 100,000
    devices due; a job must end within its outbox lease): ``more`` is 1 then, and the
    caller queues the next sweep."""
    totals = {"sent": 0, "gone": 0, "more": 0}
    retry: list[apns.Result] = []
    failed: list[apns.Result] = []
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        if deadline is not None and time.monotonic() > deadline:
            totals["more"] = 1
            break
        devices = await _claim_devices(now or clock.now())
        if not devices:
            break
        serials = sorted({d["serial"] for d in devices})
        tags = {
            row["serial"]: row["tag"]
            for row in await PassCard.select(PassCard.serial, PassCard.tag).where(
                PassCard.serial.is_in(serials)
            )
        }
        batch = await _push_batch(devices, tags)
        totals["sent"] += batch.sent
        totals["gone"] += batch.gone
        retry += batch.retry
        failed += batch.failed
        if len(devices) < PUSH_BATCH or batch.retry:
            break
    if totals["gone"]:
        log.info("APNs: removed %s registrations the devices no longer hold", totals["gone"])
    if retry:
        raise RetryLater(
            f"APNs asked to retry {len(retry)} pushes: {retry[0].status} {retry[0].reason}"
        )
    if failed:
        raise GiveUp(
            f"APNs refused {len(failed)} pushes: {failed[0].status} {failed[0].reason}; "
            "check the Pass Type ID certificate and WALLET_PASS_TYPE_ID"
        )
    return totals


class _Batch(msgspec.Struct):
    sent: int
    gone: int
    retry: list[apns.Result]
    failed: list[apns.Result]


async def _push_batch(devices: list[dict[str, Any]], tags: dict[str, int]) -> _Batch:
    client = apns.client()
    gate = asyncio.Semaphore(PUSH_CONCURRENCY)

    async def one(device: dict[str, Any]) -> tuple[dict[str, Any], apns.Result]:
        async with gate:
            return device, await client.push(device["push_token"])

    # Flagged but already told of the newest tag (a push raced the flag): nothing to send.
    told = [d["id"] for d in devices if d["pushed_tag"] >= tags.get(d["serial"], 0)]
    devices = [d for d in devices if d["pushed_tag"] < tags.get(d["serial"], 0)]
    results = await asyncio.gather(*(one(d) for d in devices))
    sent: dict[int, list[int]] = {}
    for device, result in results:
        if result.outcome is apns.Outcome.SENT:
            sent.setdefault(tags.get(device["serial"], 0), []).append(device["id"])
    gone = [d["id"] for d, r in results if r.outcome is apns.Outcome.GONE]
    others = [d["id"] for d, r in results if r.outcome in (apns.Outcome.RETRY, apns.Outcome.FAILED)]
    async with db.write_transaction():
        for tag, ids in sent.items():
            for chunk in db.chunks(ids):
                # Still due if the pass changed again while the push was on its way.
                await db.fetch(
                    "UPDATE pass_registration SET pushed_tag = $1, pushing_until = NULL, "
                    "push_due = EXISTS (SELECT 1 FROM pass_card p "
                    "WHERE p.serial = pass_registration.serial AND p.tag > $1) "
                    f"WHERE id IN ({', '.join(f'${n + 2}' for n in range(len(chunk)))})",
                    tag,
                    *chunk,
                )
        for chunk in db.chunks(told):
            await db.fetch(
                "UPDATE pass_registration SET pushing_until = NULL, push_due = EXISTS "
                "(SELECT 1 FROM pass_card p WHERE p.serial = pass_registration.serial "
                "AND p.tag > pass_registration.pushed_tag) "
                f"WHERE id IN ({_marks(len(chunk))})",
                *chunk,
            )
        for chunk in db.chunks(gone):
            await PassRegistration.delete().where(PassRegistration.id.is_in(chunk))
        for chunk in db.chunks(others):
            await PassRegistration.update({PassRegistration.pushing_until: None}).where(
                PassRegistration.id.is_in(chunk)
            )
    return _Batch(
        sent=sum(len(ids) for ids in sent.values()),
        gone=len(gone),
        retry=[r for _d, r in results if r.outcome is apns.Outcome.RETRY],
        failed=[r for _d, r in results if r.outcome is apns.Outcome.FAILED],
    )


# ---------------------------------------------------------------- Google Wallet

_classes_made: set[tuple[str, str]] = set()


async def ensure_google_class(prog: Program, google: GoogleSettings) -> None:
    cfg = settings.get()
    key = (cfg.google_api_url, f"{google.issuer_id}.{google.class_suffix}")
    if key in _classes_made:
        return
    reply = await google_api.client().insert_class(loyalty_class(prog, google))
    if reply.retry:
        raise RetryLater(f"Google loyaltyClass insert: {reply}")
    if reply.status not in (200, 409):
        raise GiveUp(f"Google refused the loyaltyClass: {reply}")
    _classes_made.add(key)


async def sync_google(card_id: int, *, now: datetime) -> str:
    """Insert or patch the card's Google object with what its pass shows now."""
    obj = (
        await GoogleObject.select(GoogleObject.object_id, GoogleObject.inserted)
        .where(GoogleObject.card_id == card_id)
        .first()
    )
    if obj is None:
        return "none"
    card = await members.find_card_by_id(card_id)
    row = await PassCard.select(*_PASS_COLUMNS).where(PassCard.card_id == card_id).first()
    view = await account_view(card.account_id, now)
    state = card_state(card, view, row, row["modified_at"] if row else now)
    prog = await program(now)
    google = google_settings()
    await ensure_google_class(prog, google)
    client = google_api.client()
    oid = object_id(state, google)
    if obj["inserted"]:
        reply = await client.patch_object(oid, loyalty_object_patch(state, prog, google))
        done = "patched"
        if reply.status == 404:
            reply = await client.insert_object(loyalty_object(state, prog, google))
            done = "inserted"
    else:
        reply = await client.insert_object(loyalty_object(state, prog, google))
        done = "inserted"
        if reply.status == 409:
            # Made by Google from a save link, which may have left out stores and links.
            patch = loyalty_object_patch(state, prog, google, whole=True)
            reply = await client.patch_object(oid, patch)
            done = "patched"
    if reply.retry:
        raise RetryLater(f"Google {done[:-2]}: {reply}")
    if reply.status != 200:
        raise GiveUp(f"Google refused the object {oid}: {reply}")
    if not obj["inserted"]:
        async with db.write_transaction():
            await GoogleObject.update({GoogleObject.inserted: True}).where(
                GoogleObject.card_id == card_id
            )
    return done


async def send_google_message(payload: dict[str, Any], *, now: datetime) -> str:
    client = google_api.client()
    body = add_message_body(
        payload["header"], payload["text"], payload["message_type"], payload["message_id"]
    )
    reply = await client.add_message(payload["object_id"], body)
    if reply.status == 404:
        # Not inserted yet (the sync job is queued behind us): insert it now, then add.
        await sync_google(payload["card_id"], now=now)
        reply = await client.add_message(payload["object_id"], body)
    if reply.status == 403 and payload["message_type"] == "TEXT_AND_NOTIFY":
        # Google's own quota said no: the message still goes on the pass, without a ring.
        body["message"]["messageType"] = "TEXT"
        reply = await client.add_message(payload["object_id"], body)
    if reply.retry:
        raise RetryLater(f"Google addMessage: {reply}")
    if reply.status != 200:
        raise GiveUp(f"Google refused addMessage on {payload['object_id']}: {reply}")
    return "added"


# ---------------------------------------------------------------- for campaigns and segments


async def push_message(
    account_id: int, *, header: str, text: str, message_id: str, now: datetime
) -> dict[str, Any]:
    """Put a marketer's message on the account's passes, in the caller's transaction.

    Apple: stored as the pass's message field, whose changeMessage "%@" shows it on the
    lock screen when the pass updates. Google: an addMessage per saved object, ringing the
    phone (TEXT_AND_NOTIFY) only while the object had fewer than 3 ringing messages in 24 h.
    Returns ``{"apple_devices": n, "google": "notify" | "text" | "none"}``.
    """
    cards = [c for c in await members.cards_of_account(account_id) if c.status == "active"]
    ids = [c.id for c in cards]
    apple_devices = 0
    google_result = "none"
    if not ids:
        return {"apple_devices": 0, "google": google_result}
    rows = await PassCard.select(PassCard.serial).where(PassCard.card_id.is_in(ids))
    if rows:
        await PassCard.update(
            {
                PassCard.message_id: message_id[:100],
                PassCard.message_header: header[:200],
                PassCard.message_text: text,
            }
        ).where(PassCard.card_id.is_in(ids))
        await platform.enqueue_pass_update(account_id)
        apple_devices = await PassRegistration.count().where(
            PassRegistration.serial.is_in([r["serial"] for r in rows])
        )
    objects = await GoogleObject.select(GoogleObject.card_id, GoogleObject.object_id).where(
        GoogleObject.card_id.is_in(ids)
    )
    google_result = await _google_messages(
        objects, header=header, text=text, message_id=message_id, now=now
    )
    return {"apple_devices": apple_devices, "google": google_result}


async def _google_messages(
    objects: list[dict[str, Any]], *, header: str, text: str, message_id: str, now: datetime
) -> str:
    """Queue an addMessage per saved Google object; "notify", "text" or "none"."""
    google_result = "none"
    for obj in objects:
        key = f"{obj['object_id']}:{message_id}"[:240]
        earlier = (
            await GoogleMessage.select(GoogleMessage.notify).where(GoogleMessage.key == key).first()
        )
        if earlier is not None:  # a retried campaign step
            notify = bool(earlier["notify"])
        else:
            rung = await GoogleMessage.count().where(
                (GoogleMessage.object_id == obj["object_id"])
                & (GoogleMessage.notify == True)  # noqa: E712 - Piccolo builds SQL from ==
                & (GoogleMessage.created_at > now - GOOGLE_NOTIFY_WINDOW)
            )
            notify = rung < GOOGLE_NOTIFY_LIMIT
            await GoogleMessage.insert(
                GoogleMessage(key=key, object_id=obj["object_id"], notify=notify, created_at=now)
            )
            await platform.enqueue(
                kind="google_message",
                payload={
                    "card_id": obj["card_id"],
                    "object_id": obj["object_id"],
                    "header": header,
                    "text": text,
                    "message_id": message_id,
                    "message_type": "TEXT_AND_NOTIFY" if notify else "TEXT",
                },
                dedupe_key=f"gmsg:{key}"[:120],
            )
        if notify:
            google_result = "notify"
        elif google_result == "none":
            google_result = "text"
    return google_result


class PushMessage(msgspec.Struct, frozen=True):
    account_id: int
    header: str
    text: str
    message_id: str


class PushOutcome(msgspec.Struct, frozen=True):
    wallets: frozenset[str]
    apple_devices: int
    google: str


async def push_messages(messages: list[PushMessage], *, now: datetime) -> dict[int, PushOutcome]:
    """``push_message`` for many accounts at once, in the caller's transaction, each only
    where the account holds a pass in a wallet (``wallets_of_account``); an account without
    one is left untouched (its outcome has no wallets).

    The cards, pass rows, registrations and Google objects of all the accounts are read in
    a few IN queries, and the changed passes are rebuilt right here (``refresh_accounts``,
    in the same transaction) instead of one pass-update job per account: a campaign slice
    sends its claimed deliveries this way and marks them in the same transaction, so the
    new tags, the push job and the marks commit together or not at all.
    """
    cards = await members.cards_of_accounts(sorted({m.account_id for m in messages}))
    all_ids = [c.id for found in cards.values() for c in found]
    serial_of: dict[int, str] = {}
    devices: dict[str, int] = {}
    objects: dict[int, list[dict[str, Any]]] = {}
    for chunk in db.chunks(all_ids):
        marks = _marks(len(chunk))
        for row in await db.fetch(
            f"SELECT card_id, serial FROM pass_card WHERE card_id IN ({marks})", *chunk
        ):
            serial_of[row["card_id"]] = row["serial"]
        for obj in await db.fetch(
            f"SELECT card_id, object_id FROM google_object WHERE card_id IN ({marks})", *chunk
        ):
            objects.setdefault(obj["card_id"], []).append(obj)
    every_serial = sorted({c.pass_serial for found in cards.values() for c in found})
    for low in range(0, len(every_serial), 500):
        chunk_serials = every_serial[low : low + 500]
        for row in await db.fetch(
            f"SELECT serial FROM pass_registration WHERE serial IN ({_marks(len(chunk_serials))})",
            *chunk_serials,
        ):
            devices[row["serial"]] = devices.get(row["serial"], 0) + 1
    outcomes: dict[int, PushOutcome] = {}
    changed: list[int] = []
    texts: dict[int, PassText] = {}
    for message in messages:
        account_cards = cards[message.account_id]
        wallets = set()
        if any(devices.get(c.pass_serial) for c in account_cards):
            wallets.add("apple")
        if any(c.id in objects for c in account_cards):
            wallets.add("google")
        active = [c for c in account_cards if c.status == "active"]
        apple_devices = 0
        google_result = "none"
        if wallets and active:
            with_pass = [c for c in active if c.id in serial_of]
            text = PassText(message_id=message.message_id, header=message.header, text=message.text)
            for card in with_pass:
                texts[card.id] = text
            if with_pass:
                changed.append(message.account_id)
                apple_devices = sum(devices.get(serial_of[c.id], 0) for c in with_pass)
            google_result = await _google_messages(
                [obj for c in active for obj in objects.get(c.id, [])],
                header=message.header,
                text=message.text,
                message_id=message.message_id,
                now=now,
            )
        outcomes[message.account_id] = PushOutcome(
            wallets=frozenset(wallets), apple_devices=apple_devices, google=google_result
        )
    if changed:
        await refresh_accounts(changed, now=now, cards=cards, messages=texts)
    return outcomes


async def wallets_of_account(account_id: int) -> set[str]:
    """Which wallets hold a pass of this account: "apple" (a registered device), "google"
    (a saved object)."""
    cards = await members.cards_of_account(account_id)
    if not cards:
        return set()
    found: set[str] = set()
    serials = [c.pass_serial for c in cards]
    if await PassRegistration.exists().where(PassRegistration.serial.is_in(serials)):
        found.add("apple")
    if await GoogleObject.exists().where(GoogleObject.card_id.is_in([c.id for c in cards])):
        found.add("google")
    return found


def has_pass_sql(account_column: str) -> str:
    """An SQL condition (both engines) that holds where the account in ``account_column``
    has a pass served or saved for one of its cards: the accounts ``refresh_account`` can
    change anything for. Set-based callers (cashback settlement) queue pass updates only
    for those instead of one no-op job per account.

    ``pass_card.account_id`` is the account the pass last showed; a card moved to another
    account since (merge) already has a pass update waiting for its new account.
    """
    return f"EXISTS (SELECT 1 FROM pass_card pc WHERE pc.account_id = {account_column})"
