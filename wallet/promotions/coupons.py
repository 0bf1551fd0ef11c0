"""Coupons and promo codes: codes a marketer makes for a promotion whose conditions
include ``coupon``, and the till's use of them.

A code is stored as its SHA-256 only (a unique index), so a copy of the database does not
hand out working codes; the plain codes of a new batch wait in the batch's ``export`` until
the marketer downloads them once. A personal coupon (assigned to an account) keeps its
code for its owner to see, and works for nobody else.

A receipt claims each code with one conditional UPDATE (``uses < max_uses``, then the
batch's ``used < total_limit``), in the receipt's transaction: two tills sending the same
code at once both read it unused, but only one UPDATE finds the row still matching, so the
code is accepted once. A return that takes back the coupon's promotion gives the code back
while it is still valid.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wallet import clock, db
from wallet.errors import Conflict, DomainError, NotFound
from wallet.platform import events
from wallet.platform import service as platform
from wallet.promotions import queries
from wallet.promotions.events import CouponIssued, CouponUsed
from wallet.promotions.schemas import (
    CouponBatchIn,
    CouponBatchOut,
    CouponCheckOut,
    NotApplied,
    PersonalCoupon,
)

# No 0/O, 1/I/L, U: read aloud or off a receipt without doubt (Crockford's alphabet).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits: guessing one of a million codes takes ~10^12 tries
_INSERT_CHUNK = 1000
# From this many unique codes a batch is made by the worker, in chunks: the request
# answers 202 with the batch "making" (a million codes took 46-64 s inside the request on
# this busy 2-core box, bench/bench_coupons.py). Below it, about a second or less.
BACKGROUND_FROM = 20_000
# The outbox kind of that job (handled in ``wallet.promotions.jobs``).
MAKE_BATCH = "coupon_batch"
# Unique codes a statement (a JSON array of hashes: one parameter, whatever its length).
_UNIQUE_CHUNK = 50_000


class CouponRefused(DomainError):
    """A batch that cannot be made as sent; ``code`` says which rule it broke."""

    status_code = 422

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.code = code  # type: ignore[misc]


class CouponBatchNotFound(NotFound):
    code = "coupon_batch_not_found"


class CodesAlreadyDownloaded(DomainError):
    status_code = 410
    code = "codes_already_downloaded"


class CodesNotReady(Conflict):
    code = "codes_not_ready"


class CouponCodeTaken(Conflict):
    code = "coupon_code_taken"


def normalize(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


# Each random byte to a letter by its low 5 bits (256 is a multiple of 32: uniform).
_LETTER_OF_BYTE = bytes(ALPHABET.encode()[byte & 31] for byte in range(256))


def new_codes(count: int) -> list[str]:
    """``count`` random codes of 60 bits (5 to a letter), drawn at once: one buffer of
    random bytes turned into letters in C (``bytes.translate``), then cut into codes. A
    code at a time in Python took 25 s for a million on this 2-core box, busy; this
    takes about a second (bench/bench_coupons.py)."""
    raw = secrets.token_bytes(CODE_LENGTH * count).translate(_LETTER_OF_BYTE).decode()
    return [
        f"{raw[i : i + 4]}-{raw[i + 4 : i + 8]}-{raw[i + 8 : i + 12]}"
        for i in range(0, CODE_LENGTH * count, CODE_LENGTH)
    ]


def _pretty(normalized: str) -> str:
    return "-".join(normalized[i : i + 4] for i in range(0, len(normalized), 4))


# ---- the marketer's side ---------------------------------------------------------------


def _batch_out(row: dict[str, Any], promotion_id: int) -> CouponBatchOut:
    kind = "shared" if row["shared"] else ("personal" if row.get("personal") else "unique")
    status = row.get("status") or "ready"
    waiting = bool(row["waiting"]) and row["downloaded_at"] is None and status == "ready"
    return CouponBatchOut(
        id=row["id"],
        promotion_id=promotion_id,
        kind=kind,  # type: ignore[arg-type]
        count=row["size"],
        used=row["used"],
        valid_from=clock.to_utc(row["valid_from"]) if row["valid_from"] else None,
        valid_until=clock.to_utc(row["valid_until"]) if row["valid_until"] else None,
        per_shopper_limit=row["per_shopper_limit"],
        total_limit=row["total_limit"],
        created_at=row["created_at"],
        csv_url=f"/api/v1/admin/promotions/coupons/{row['id']}/codes.csv" if waiting else None,
        status="making" if status == "making" else "ready",
    )


async def create_batch(
    promotion_id: int,
    promotion: dict[str, Any],
    uses_coupons: bool,
    data: CouponBatchIn,
    *,
    actor: str,
    now: datetime,
) -> CouponBatchOut:
    """Make the codes (the caller found the promotion, ``promotion``, locked)."""
    asked = [data.count is not None, data.code is not None, bool(data.account_ids)]
    if sum(asked) != 1:
        raise CouponRefused(
            "coupon_batch_kind",
            "send exactly one of: count (unique codes), code (one shared code), account_ids "
            "(a personal code each)",
        )
    if not uses_coupons:
        raise CouponRefused(
            "promotion_without_coupon",
            f"promotion {promotion_id} has no coupon condition, so its codes would change "
            'nothing; add {"kind": "coupon"} to its conditions first',
            {"promotion_id": promotion_id},
        )
    if promotion["status"] == "ended":
        raise CouponRefused(
            "promotion_ended", f"promotion {promotion_id} has ended", {"promotion_id": promotion_id}
        )
    for name in ("valid_from", "valid_until"):
        moment = getattr(data, name)
        if moment is not None and moment.tzinfo is None:
            raise CouponRefused("validity_needs_offset", f"{name} needs a UTC offset")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        raise CouponRefused("validity_ends_before_start", "valid_until must come after valid_from")
    if data.account_ids:
        known: set[int] = set()
        for chunk in db.chunks(sorted(set(data.account_ids))):
            rows = await db.fetch(queries.with_in(queries.KNOWN_ACCOUNTS, len(chunk)), *chunk)
            known.update(row["id"] for row in rows)
        missing = sorted(set(data.account_ids) - known)
        if missing:
            raise CouponRefused(
                "unknown_account", f"no account {missing[:20]}", {"account_ids": missing[:100]}
            )
    shared = data.code is not None
    count = 1 if shared else (data.count or len(set(data.account_ids)))
    later = data.count is not None and count >= BACKGROUND_FROM
    inserted = await db.fetch(
        queries.INSERT_BATCH,
        promotion_id,
        shared,
        count,
        clock.to_utc(data.valid_from) if data.valid_from else None,
        clock.to_utc(data.valid_until) if data.valid_until else None,
        data.per_shopper_limit,
        data.total_limit,
        actor,
        now,
        "making" if later else "ready",
    )
    batch_id = int(inserted[0]["id"])
    if data.code is not None:
        normalized = normalize(data.code)
        if len(normalized) < 4:
            raise CouponRefused("code_too_short", "a shared code has at least 4 letters or digits")
        got = await db.fetch(
            queries.INSERT_COUPONS_ONE, batch_id, promotion_id, code_hash(normalized), None, None
        )
        if not got:
            raise CouponCodeTaken(
                f"code {normalized} is already in use by another batch; choose another",
                {"code": normalized},
            )
    elif data.account_ids:
        for chunk in db.chunks(sorted(set(data.account_ids)), 200):
            await _insert_fresh(batch_id, promotion_id, owners=chunk)
        # A personal code shows on its owner's passes (Apple's back, Google's text module):
        # they are rebuilt now, not at the owner's next receipt.
        for account_id in sorted(set(data.account_ids)):
            await platform.enqueue_pass_update(account_id)
            await events.publish(
                CouponIssued(
                    account_id=account_id, promotion_id=promotion_id, batch_id=batch_id, now=now
                )
            )
    elif later:
        # The worker makes it in chunks (``make_chunk``); the reply says "making".
        await db.fetch(queries.SET_EXPORT, batch_id, _csv([]))
        await platform.enqueue(
            kind=MAKE_BATCH, payload={"batch_id": batch_id}, dedupe_key=f"coupons:{batch_id}"
        )
    else:
        codes = await _insert_unique(batch_id, promotion_id, count)
        await db.fetch(queries.SET_EXPORT, batch_id, _csv(codes))
    await platform.audit(
        actor=actor,
        action="promotion.coupons",
        subject=f"promotion:{promotion_id}",
        details={"batch_id": batch_id, "count": count, "shared": shared},
    )
    row = (await db.fetch(queries.BATCH, batch_id))[0]
    out = _batch_out(row | {"personal": bool(data.account_ids)}, promotion_id)
    if shared:
        return CouponBatchOut(**(_fields(out) | {"code": normalize(data.code or "")}))
    return out


def _fields(out: CouponBatchOut) -> dict[str, Any]:
    return {name: getattr(out, name) for name in out.__struct_fields__}


def _csv(codes: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code"])
    writer.writerows([code] for code in codes)
    return buffer.getvalue()


async def _insert_fresh(
    batch_id: int, promotion_id: int, *, count: int = 0, owners: Sequence[int] = ()
) -> list[str]:
    """Insert new random codes (one per owner, or ``count``), drawing again for the rare
    code that collides with one already stored; the plain codes, in insertion order."""
    made: list[str] = []
    wanted: list[int | None] = list(owners) if owners else [None] * count
    for start in range(0, len(wanted), _INSERT_CHUNK):
        todo = wanted[start : start + _INSERT_CHUNK]
        while todo:
            drawn: dict[str, tuple[str, int | None]] = {}
            for owner, code in zip(todo, new_codes(len(todo)), strict=True):
                hashed = code_hash(code)
                while hashed in drawn:
                    code = new_codes(1)[0]
                    hashed = code_hash(code)
                drawn[hashed] = (code, owner)
            rows = [
                (batch_id, promotion_id, hashed, owner, code if owner else None)
                for hashed, (code, owner) in drawn.items()
            ]
            got = await db.fetch(
                queries.insert_coupons(len(rows)), *[value for row in rows for value in row]
            )
            stored = {row["code_hash"] for row in got}
            made.extend(code for hashed, (code, _) in drawn.items() if hashed in stored)
            todo = [owner for hashed, (_, owner) in drawn.items() if hashed not in stored]
    return made


async def _insert_unique(batch_id: int, promotion_id: int, count: int) -> list[str]:
    """``count`` new single-use codes, in chunks of ``_UNIQUE_CHUNK`` sent as one JSON
    array each, drawing again for the rare code that collides with one already stored."""
    made: list[str] = []
    for start in range(0, count, _UNIQUE_CHUNK):
        wanted = min(_UNIQUE_CHUNK, count - start)
        while wanted:
            # Fresh codes are already normalized but for their dashes: hashed as typed
            # without them (``code_hash``), skipping its clean-up a million times.
            drawn = {
                hashlib.sha256(code.replace("-", "").encode()).hexdigest(): code
                for code in new_codes(wanted)
            }
            got = await db.fetch(queries.INSERT_UNIQUE_COUPONS, batch_id, promotion_id, list(drawn))
            made.extend(drawn[row["code_hash"]] for row in got)
            wanted -= len(got)
    return made


async def make_chunk(batch_id: int) -> bool:
    """One chunk of a ``making`` batch: its codes and their CSV lines in the caller's
    transaction, counted from what is stored (a rerun after a crash goes on where the last
    committed chunk stopped, never making a code twice). True once the batch is ready."""
    rows = await db.fetch(queries.MAKING, batch_id)
    if not rows or rows[0]["status"] != "making":
        return True
    have = int((await db.fetch(queries.CODES_IN_BATCH, batch_id))[0]["n"])
    wanted = min(_UNIQUE_CHUNK, int(rows[0]["size"]) - have)
    if wanted <= 0:
        await db.fetch(queries.BATCH_READY, batch_id)
        return True
    codes = await _insert_unique(batch_id, int(rows[0]["promotion_id"]), wanted)
    await db.fetch(queries.APPEND_EXPORT, batch_id, "".join(f"{code}\n" for code in codes))
    return False


async def batches(promotion_id: int) -> list[CouponBatchOut]:
    rows = await db.fetch(queries.BATCHES, promotion_id)
    return [_batch_out(row, promotion_id) for row in rows]


async def download(batch_id: int, *, actor: str, now: datetime) -> tuple[str, int]:
    """The batch's codes as CSV, once: the plain codes are dropped as they leave."""
    rows = await db.fetch(queries.EXPORT, batch_id)
    if not rows:
        raise CouponBatchNotFound(f"no coupon batch {batch_id}", {"batch_id": batch_id})
    row = rows[0]
    if row["status"] == "making":
        raise CodesNotReady(
            f"the codes of batch {batch_id} are still being made; its status turns ready "
            "when they are all stored (GET the promotion's coupons)",
            {"batch_id": batch_id},
        )
    if row["export"] is None:
        raise CodesAlreadyDownloaded(
            f"the codes of batch {batch_id} were downloaded already "
            f"({row['downloaded_at'] or 'or it has none to download'}); only their hashes are "
            "kept, so make a new batch if the file is lost",
            {"batch_id": batch_id},
        )
    await db.fetch(queries.TAKE_EXPORT, batch_id, now)
    await platform.audit(
        actor=actor,
        action="promotion.coupons.download",
        subject=f"promotion:{row['promotion_id']}",
        details={"batch_id": batch_id},
    )
    return str(row["export"]), int(row["promotion_id"])


# ---- the till's side -------------------------------------------------------------------


@dataclass
class Claimed:
    coupon_id: int
    batch_id: int
    promotion_id: int


@dataclass
class CouponResult:
    """The codes a receipt carries, sorted out: the promotions they open (as the engine
    wants them, ids as text), what was claimed, and each refusal with its reason."""

    promotion_ids: frozenset[str] = frozenset()
    claimed: list[Claimed] = field(default_factory=list)
    refused: list[NotApplied] = field(default_factory=list)


_REASONS = {
    "coupon_unknown": ("купон {code} не найден", "coupon {code} is unknown"),
    "coupon_used": ("купон {code} уже использован", "coupon {code} was already used"),
    "coupon_expired": ("срок купона {code} истёк", "coupon {code} has expired"),
    "coupon_not_started": ("купон {code} ещё не действует", "coupon {code} is not valid yet"),
    "coupon_inactive": (
        "акция купона {code} сейчас не действует",
        "the promotion of coupon {code} is not active",
    ),
    "coupon_limit": ("лимит купона {code} исчерпан", "coupon {code} has reached its limit"),
}


def _refusal(code: str, reason: str, row: dict[str, Any] | None) -> NotApplied:
    ru, en = _REASONS[reason]
    known = row is not None and reason != "coupon_unknown"
    return NotApplied(
        promotion_id=int(row["promotion_id"]) if known and row else 0,
        name=str(row["promotion_name"]) if known and row else "",
        code=reason,
        reason_ru=ru.format(code=code),
        reason_en=en.format(code=code),
    )


async def _rows(codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    hashes = sorted({code_hash(code) for code in codes})
    if not hashes:
        return {}
    found = await db.fetch(queries.with_in(queries.COUPONS_BY_HASH, len(hashes)), *hashes)
    return {row["code_hash"]: row for row in found}


async def _shopper_uses(batch_ids: set[int], account_id: int) -> dict[int, int]:
    if not batch_ids:
        return {}
    ids = sorted(batch_ids)
    rows = await db.fetch(
        queries.with_in(queries.SHOPPER_COUPON_USES, len(ids), first=2), account_id, *ids
    )
    return {int(row["batch_id"]): int(row["uses"]) for row in rows}


def _why_not(row: dict[str, Any] | None, account_id: int, at: datetime, mine: int) -> str | None:
    if row is None or (row["account_id"] is not None and row["account_id"] != account_id):
        return "coupon_unknown"  # someone else's personal coupon is no coupon at all
    if row["status"] == "ended":
        return "coupon_expired"
    if row["status"] != "active":
        return "coupon_inactive"
    if row["valid_until"] is not None and at >= clock.to_utc(row["valid_until"]):
        return "coupon_expired"
    if row["valid_from"] is not None and at < clock.to_utc(row["valid_from"]):
        return "coupon_not_started"
    if row["max_uses"] is not None and row["uses"] >= row["max_uses"]:
        return "coupon_used"
    if row["total_limit"] is not None and row["used"] >= row["total_limit"]:
        return "coupon_limit"
    if row["per_shopper_limit"] is not None and mine >= row["per_shopper_limit"]:
        return "coupon_limit"
    return None


async def sort_out(
    codes: Sequence[str], *, account_id: int, at: datetime, claim: bool
) -> CouponResult:
    """Which of a receipt's codes open their promotion for this shopper at ``at``;
    ``claim``: and take them (in the caller's transaction), each accepted once however
    many tills send it at the same moment."""
    if not codes:
        return CouponResult()
    rows = await _rows(codes)
    mine = await _shopper_uses({int(row["batch_id"]) for row in rows.values()}, account_id)
    result = CouponResult()
    opened: set[str] = set()
    seen: set[str] = set()
    for typed in codes:
        normalized = normalize(typed)
        if normalized in seen:
            continue
        seen.add(normalized)
        shown = _pretty(normalized) if len(normalized) == CODE_LENGTH else normalized
        row = rows.get(code_hash(normalized))
        reason = _why_not(row, account_id, at, mine.get(int(row["batch_id"]), 0) if row else 0)
        if reason is None and row is not None and str(row["promotion_id"]) in opened:
            reason = "coupon_limit"  # one coupon of a promotion per receipt
        if reason is None and row is not None and claim:
            reason = await _claim(row)
        if reason is not None or row is None:
            result.refused.append(_refusal(shown, reason or "coupon_unknown", row))
            continue
        opened.add(str(row["promotion_id"]))
        mine[int(row["batch_id"])] = mine.get(int(row["batch_id"]), 0) + 1
        if claim:
            result.claimed.append(
                Claimed(int(row["id"]), int(row["batch_id"]), int(row["promotion_id"]))
            )
    result.promotion_ids = frozenset(opened)
    return result


async def _claim(row: dict[str, Any]) -> str | None:
    if not await db.fetch(queries.CLAIM_COUPON, row["id"]):
        return "coupon_used"
    if not await db.fetch(queries.CLAIM_BATCH, row["batch_id"]):
        await db.fetch(queries.UNCLAIM_COUPON, row["id"])
        return "coupon_limit"
    return None


async def release(claimed: Iterable[Claimed]) -> None:
    """Give back claims the receipt did not use (the promotion did not apply after all)."""
    for one in claimed:
        await db.fetch(queries.UNCLAIM_COUPON, one.coupon_id)
        await db.fetch(queries.UNCLAIM_BATCH, one.batch_id)


async def record(
    claimed: Iterable[Claimed], *, receipt_pk: int, account_id: int, now: datetime
) -> None:
    for one in claimed:
        await db.fetch(
            queries.INSERT_USE,
            one.coupon_id,
            one.batch_id,
            one.promotion_id,
            account_id,
            receipt_pk,
            now,
        )
        await events.publish(
            CouponUsed(
                account_id=account_id,
                promotion_id=one.promotion_id,
                batch_id=one.batch_id,
                coupon_id=one.coupon_id,
                receipt_pk=receipt_pk,
                now=now,
            )
        )


async def give_back(receipt_pk: int, promotion_ids: set[int], *, now: datetime) -> list[int]:
    """The coupons a return takes the promotion of, back to their owner if still valid
    (an expired coupon stays used: it could not be used again anyway); their ids."""
    if not promotion_ids:
        return []
    back: list[int] = []
    for use in await db.fetch(queries.USES_OF_RECEIPT, receipt_pk):
        if int(use["promotion_id"]) not in promotion_ids:
            continue
        until = use["valid_until"]
        if until is not None and now >= clock.to_utc(until):
            continue
        await db.fetch(queries.RETURN_USE, use["id"], now)
        await db.fetch(queries.UNCLAIM_COUPON, use["coupon_id"])
        await db.fetch(queries.UNCLAIM_BATCH, use["batch_id"])
        back.append(int(use["coupon_id"]))
    return back


# ---- the shopper's side (card page, pass, Кошелёк) -------------------------------------


async def check_code(code: str, *, account_id: int, now: datetime) -> CouponCheckOut:
    """What ``code`` would do for this shopper now, without using it."""
    normalized = normalize(code)
    rows = await _rows([normalized])
    row = rows.get(code_hash(normalized))
    mine = await _shopper_uses({int(row["batch_id"])} if row else set(), account_id)
    reason = _why_not(row, account_id, now, mine.get(int(row["batch_id"]), 0) if row else 0)
    known = row is not None and reason != "coupon_unknown"
    return CouponCheckOut(
        code=normalized,
        ok=reason is None,
        reason=reason,
        promotion_id=int(row["promotion_id"]) if known and row else None,
        promotion_name=str(row["promotion_name"]) if known and row else None,
        valid_until=clock.to_utc(row["valid_until"])
        if known and row and row["valid_until"]
        else None,
    )


async def redeem_code(code: str, *, account_id: int, now: datetime) -> CouponCheckOut:
    """A shopper enters a code in an app: a valid unique code becomes their personal coupon
    (shown on their card and pass, usable by no one else); a shared code is only checked.
    Runs in the caller's write transaction."""
    checked = await check_code(code, account_id=account_id, now=now)
    if checked.ok:
        await db.fetch(queries.ASSIGN, code_hash(checked.code), account_id, _pretty(checked.code))
    return checked


async def personal(account_id: int, *, now: datetime) -> list[PersonalCoupon]:
    """The shopper's own unused coupons of active promotions, still valid."""
    found = []
    for row in await db.fetch(queries.PERSONAL, account_id):
        until = clock.to_utc(row["valid_until"]) if row["valid_until"] else None
        if until is not None and now >= until:
            continue
        found.append(
            PersonalCoupon(
                code=row["shown"],
                promotion_id=int(row["promotion_id"]),
                promotion_name=row["name"],
                valid_until=until,
            )
        )
    return found
