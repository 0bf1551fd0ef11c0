"""From card state to a signed .pkpass: build pass.json -> manifest -> sign -> zip.

Only pass.json, the manifest and the signature change from one pass to the next. The
artwork and the pass.strings files are read, hashed and kept once per program, and the
PNGs go into the zip STORED: they are already deflate-compressed, and compressing them
again costs more than the RSA signature while saving nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from passes.apple import zipper
from passes.apple.model import (
    Barcode,
    Field,
    Location,
    PassJSON,
    PassValidationError,
    Semantics,
    StoreCard,
    rgb,
    w3c_date,
)
from passes.apple.sign import PassSigner
from passes.barcode import APPLE_FORMATS
from passes.card import AppleSettings, CardState, Program, format_roubles, hex_to_rgb

DEFAULT_IMAGES_DIR = Path(__file__).resolve().parents[2] / "templates" / "pass"

# Files Wallet looks for; icon.png is the only one it requires.
IMAGE_NAMES = (
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "strip.png",
    "strip@2x.png",
)

# Russian is the program's main language, English the second. Labels in pass.json are
# keys into these tables, so the phone shows its own language.
LABELS: dict[str, tuple[str, str]] = {
    "label.tier": ("Уровень", "Tier"),
    "label.balance": ("Баллы", "Points"),
    "label.pending": ("Ожидают", "Pending"),
    "label.expiry_points": ("Сгорят", "Expiring"),
    "label.expiry_date": ("Когда", "On"),
    "label.goal": ("Цель месяца", "Monthly goal"),
    "label.message": ("Сообщение", "Message"),
    "label.burn_notice": ("Напоминание", "Reminder"),
    "label.tier_progress": ("До следующего уровня", "To the next tier"),
    "label.personal_offers": ("Ваши акции", "Your promotions"),
    "label.card_number": ("Номер карты", "Card number"),
    "label.holder": ("Владелец", "Card holder"),
    "label.goal_progress": ("Покупки за месяц", "Spent this month"),
    "label.goal_reward": ("Кешбэк за месяц, баллов", "Month's cashback, points"),
    "label.goal_ends": ("Итоги месяца", "Month closes on"),
    "label.terms": ("Условия программы", "Program terms"),
    "label.support_phone": ("Поддержка", "Support"),
    "label.support_url": ("Сайт поддержки", "Support site"),
    "label.updated": ("Обновлено", "Updated"),
    "value.goal_reached": ("Цель достигнута", "Goal reached"),
    "value.no_message": (" ", " "),
    # changeMessage texts: Wallet replaces %@ with the new value on the lock screen.
    # Worded without a number-agreeing noun, which Russian would need three forms for.
    "change.balance": ("Баллы на карте: %@", "Points on the card: %@"),
    "change.pending": ("Ожидают начисления: %@", "Points pending: %@"),
    "change.expiry_points": ("Скоро сгорят баллы: %@", "Points expiring soon: %@"),
    "change.expiry_date": ("Баллы сгорят %@", "Points expire on %@"),
    "change.goal": ("Цель месяца: %@", "Monthly goal: %@"),
    "change.tier": ("Ваш уровень: %@", "Your tier: %@"),
}


class _Static(msgspec.Struct, frozen=True):
    """A file that is the same in every pass of a program: bytes, SHA-1, zip method."""

    name: str
    data: bytes
    sha1: str
    compress_type: int


def _static(name: str, data: bytes) -> _Static:
    compress = zipper.STORED if name.endswith(".png") else zipper.DEFLATED
    return _Static(name, data, hashlib.sha1(data).hexdigest(), compress)


class StaticFiles:
    """Artwork and pass.strings of one program, hashed and zip-framed once."""

    def __init__(self, files: tuple[_Static, ...]) -> None:
        self.files = files
        self.names = frozenset(f.name for f in files)
        # The manifest is '{"pass.json":"<sha1>", ...static entries}'; keep the tail ready.
        tail = msgspec.json.encode({f.name: f.sha1 for f in files})
        self.manifest_tail = b"," + tail[1:] if files else b"}"
        self.zip = zipper.StaticPart(
            ((f.name, f.data, f.compress_type) for f in files), zipper.dos_time(_ARTWORK_TIME)
        )

    def manifest(self, pass_json: bytes) -> bytes:
        return (
            b'{"pass.json":"'
            + hashlib.sha1(pass_json).hexdigest().encode()
            + b'"'
            + (self.manifest_tail)
        )


# Zip timestamps of the static files; Wallet ignores them, a constant keeps them cacheable.
_ARTWORK_TIME = datetime(2024, 1, 1, tzinfo=UTC)

_cache_lock = threading.Lock()
_image_cache: dict[Path | None, tuple[_Static, ...]] = {}
_static_cache: dict[
    tuple[Path | None, str, str], tuple[StaticFiles, dict[str, dict[str, str]]]
] = {}


def _images(images_dir: Path | None) -> tuple[_Static, ...]:
    cached = _image_cache.get(images_dir)
    if cached is not None:
        return cached
    files = []
    for name in IMAGE_NAMES:
        for folder in (images_dir, DEFAULT_IMAGES_DIR):
            if folder is not None and (folder / name).is_file():
                files.append(_static(name, (folder / name).read_bytes()))
                break
    if not any(f.name == "icon.png" for f in files):
        raise PassValidationError(
            f"no icon.png in {images_dir or DEFAULT_IMAGES_DIR}: Wallet refuses a pass without it"
        )
    result = tuple(files)
    with _cache_lock:
        _image_cache[images_dir] = result
    return result


def static_files(program: Program) -> tuple[StaticFiles, dict[str, dict[str, str]]]:
    """The program's cached artwork + pass.strings, and the string tables for validation."""
    key = (program.images_dir, program.terms_text_ru, program.terms_text_en)
    cached = _static_cache.get(key)
    if cached is None:
        tables = pass_strings(program)
        strings = tuple(
            _static(f"{lang}.lproj/pass.strings", encode_strings(table))
            for lang, table in tables.items()
        )
        cached = (StaticFiles((*_images(program.images_dir), *strings)), tables)
        with _cache_lock:
            _static_cache[key] = cached
    return cached


class _ProgramParts:
    """pass.json pieces that depend on the program only, converted once."""

    def __init__(self, program: Program) -> None:
        self.program = program  # held, so its id() is not reused while cached
        self.foreground = rgb(hex_to_rgb(program.foreground_color))
        self.background = rgb(hex_to_rgb(program.background_color))
        self.label = rgb(hex_to_rgb(program.label_color))
        self.locations = tuple(
            Location(
                latitude=loc.latitude,
                longitude=loc.longitude,
                relevant_text=loc.relevant_text or loc.name,
            )
            for loc in program.first_locations
        )


# Keyed by identity: the service keeps one Program per process, and Program is frozen.
_parts_cache: dict[int, _ProgramParts] = {}
_PARTS_CACHE_SIZE = 64


def _program_parts(program: Program) -> _ProgramParts:
    parts = _parts_cache.get(id(program))
    if parts is None or parts.program is not program:
        parts = _ProgramParts(program)
        with _cache_lock:
            if len(_parts_cache) >= _PARTS_CACHE_SIZE:
                _parts_cache.clear()
            _parts_cache[id(program)] = parts
    return parts


def pass_strings(program: Program) -> dict[str, dict[str, str]]:
    """The ru and en pass.strings tables of a program."""
    ru = {key: pair[0] for key, pair in LABELS.items()}
    en = {key: pair[1] for key, pair in LABELS.items()}
    ru["value.terms"] = program.terms_text_ru or program.terms_text_en
    en["value.terms"] = program.terms_text_en or program.terms_text_ru
    return {"ru": ru, "en": en}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")


def encode_strings(table: Mapping[str, str]) -> bytes:
    # UTF-8 .strings files are read by iOS since iOS 6, like the UTF-16 ones.
    return "".join(f'"{_escape(k)}" = "{_escape(v)}";\n' for k, v in table.items()).encode()


def pass_json_for(
    state: CardState,
    program: Program,
    apple: AppleSettings,
    authentication_token: str | None,
) -> PassJSON:
    """What a loyalty card shows, as a validated pass.json model."""
    parts = _program_parts(program)
    front_secondary = [
        Field(
            key="pending",
            label="label.pending",
            value=state.pending,
            number_style="PKNumberStyleDecimal",
            change_message="change.pending",
        ),
        Field(
            key="expiry_points",
            label="label.expiry_points",
            value=state.next_expiry_points,
            number_style="PKNumberStyleDecimal",
            change_message="change.expiry_points",
        ),
    ]
    if state.next_expiry_at is not None:
        front_secondary.append(
            Field(
                key="expiry_date",
                label="label.expiry_date",
                value=w3c_date(state.next_expiry_at),
                date_style="PKDateStyleShort",
                time_style="PKDateStyleNone",
                change_message="change.expiry_date",
                text_alignment="PKTextAlignmentRight",
            )
        )
    auxiliary: list[Field] = []
    back: list[Field] = [
        *(
            [Field(key="tier_progress", label="label.tier_progress", value=state.tier_progress)]
            if state.tier_progress
            else []
        ),
        *(
            [
                Field(
                    key="personal_offers",
                    label="label.personal_offers",
                    value="\n".join(state.personal_offers),
                )
            ]
            if state.personal_offers
            else []
        ),
        # Always present, so that a new message is a *change* and reaches the lock screen.
        Field(
            key="message",
            label="label.message",
            value=state.message or "value.no_message",
            change_message="%@",
        ),
        # Also always present: the reminder appearing is a change, and its text is the
        # lock-screen alert ("300 баллов сгорят 31 января 2027"); going away, it says nothing.
        Field(
            key="burn_notice",
            label="label.burn_notice",
            value=state.burn_notice.text(state.language)
            if state.burn_notice
            else "value.no_message",
            change_message="%@" if state.burn_notice else None,
        ),
        Field(key="card_number", label="label.card_number", value=state.card_number),
        Field(key="holder", label="label.holder", value=state.holder_name),
    ]
    goal = state.goal
    if goal is not None:
        auxiliary.append(
            Field(
                key="goal",
                label="label.goal",
                value="value.goal_reached" if goal.reached else goal.percent / 100,
                number_style=None if goal.reached else "PKNumberStylePercent",
                change_message="change.goal",
            )
        )
        back += [
            Field(
                key="goal_progress",
                label="label.goal_progress",
                value=f"{format_roubles(goal.spent_kopecks)} / {format_roubles(goal.goal_kopecks)}",
            ),
            Field(
                key="goal_reward",
                label="label.goal_reward",
                value=min(goal.reward_points, goal.cap_points),
                number_style="PKNumberStyleDecimal",
            ),
            Field(
                key="goal_ends",
                label="label.goal_ends",
                value=w3c_date(goal.month_ends_at),
                date_style="PKDateStyleMedium",
                time_style="PKDateStyleNone",
            ),
        ]
    if program.terms_text_ru or program.terms_text_en:
        back.append(Field(key="terms", label="label.terms", value="value.terms"))
    if program.support_phone:
        back.append(
            Field(key="support_phone", label="label.support_phone", value=program.support_phone)
        )
    if program.support_url:
        back.append(Field(key="support_url", label="label.support_url", value=program.support_url))
    back.append(
        Field(
            key="updated",
            label="label.updated",
            value=w3c_date(state.updated_at),
            date_style="PKDateStyleMedium",
            time_style="PKDateStyleShort",
        )
    )
    card = StoreCard(
        header_fields=[
            Field(
                key="tier",
                label="label.tier",
                value=state.tier_name,
                change_message="change.tier",
            )
        ],
        primary_fields=[
            Field(
                key="balance",
                label="label.balance",
                value=state.balance,
                number_style="PKNumberStyleDecimal",
                change_message="change.balance",
            )
        ],
        secondary_fields=front_secondary,
        auxiliary_fields=auxiliary,
        back_fields=back,
    )
    return PassJSON(
        description=program.program_name,
        organization_name=program.organization_name,
        pass_type_identifier=apple.pass_type_id,
        serial_number=state.serial_number,
        team_identifier=apple.team_id,
        store_card=card,
        format_version=1,
        logo_text=program.program_name,
        foreground_color=parts.foreground,
        background_color=parts.background,
        label_color=parts.label,
        barcodes=[
            Barcode(
                message=state.card_number,
                format=apple_format,
                message_encoding="iso-8859-1",
                alt_text=state.card_number,
            )
            for apple_format in APPLE_FORMATS[program.barcode]
        ],
        locations=list(parts.locations),
        # Shows the pass on the lock screen around the day points burn.
        relevant_date=w3c_date(state.next_expiry_at) if state.next_expiry_at else None,
        voided=True if state.status != "active" else None,
        web_service_url=apple.web_service_url if authentication_token is not None else None,
        authentication_token=authentication_token if apple.web_service_url else None,
        semantics=Semantics(venue_phone_number=program.support_phone)
        if program.support_phone
        else None,
    )


def build_pkpass(
    state: CardState,
    program: Program,
    apple: AppleSettings,
    authentication_token: str,
    signer: PassSigner,
) -> bytes:
    """The signed .pkpass for one card, as bytes ready to serve (application/vnd.apple.pkpass)."""
    if signer.pass_type_id is not None and signer.pass_type_id != apple.pass_type_id:
        raise PassValidationError(
            f"passTypeIdentifier {apple.pass_type_id!r} does not match the certificate's "
            f"{signer.pass_type_id!r}"
        )
    if signer.team_id is not None and signer.team_id != apple.team_id:
        raise PassValidationError(
            f"teamIdentifier {apple.team_id!r} does not match the certificate's {signer.team_id!r}"
        )
    if apple.web_service_url and not authentication_token:
        raise PassValidationError("pass.json: webServiceURL set but no authenticationToken given")
    model = pass_json_for(state, program, apple, authentication_token)
    static, tables = static_files(program)
    model.validate(tables)
    return bundle(model.to_json(), static, signer, modified=state.updated_at)


def bundle(
    pass_json: bytes, static: StaticFiles, signer: PassSigner, *, modified: datetime
) -> bytes:
    """Manifest, signature and zip around an already-validated pass.json."""
    manifest = static.manifest(pass_json)
    signature = signer.sign(manifest)
    return zipper.archive(
        static.zip,
        (
            ("pass.json", pass_json, zipper.DEFLATED),
            ("manifest.json", manifest, zipper.DEFLATED),
            # DER of keys and certificates does not compress.
            ("signature", signature, zipper.STORED),
        ),
        modified,
    )
