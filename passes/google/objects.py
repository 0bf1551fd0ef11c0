"""LoyaltyClass and LoyaltyObject bodies, built from the same card state as the Apple pass.

Bodies are typed msgspec Structs with Google's field names, turned into JSON-ready dicts
(None omitted). Field names, enums and the int64-as-string rule follow the discovery
document `walletobjects.v1.json`, against which the tests check every body we produce.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from passes.barcode import GOOGLE_TYPES, GoogleType
from passes.card import CardState, Program, format_points, format_roubles
from wallet import words

MessageType = Literal["TEXT_AND_NOTIFY", "TEXT"]
ReviewStatus = Literal["DRAFT", "UNDER_REVIEW", "APPROVED", "REJECTED"]
ObjectState = Literal["ACTIVE", "COMPLETED", "EXPIRED", "INACTIVE"]

# Google: "alphanumeric characters, '.', '_', or '-'" after the issuer id.
_ID_PART = re.compile(r"[^A-Za-z0-9._-]")


class GoogleSettings(msgspec.Struct, frozen=True, kw_only=True):
    issuer_id: str
    class_suffix: str
    origins: list[str] = msgspec.field(default_factory=list)
    """Sites allowed to show the Save button (the JWT's `origins`)."""
    review_status: ReviewStatus = "UNDER_REVIEW"
    country_code: str = "RU"


class _Body(msgspec.Struct, omit_defaults=True, kw_only=True, rename="camel"):
    pass


class TranslatedString(_Body):
    language: str
    value: str


class LocalizedString(_Body):
    default_value: TranslatedString
    translated_values: list[TranslatedString] | None = None


class ImageUri(_Body):
    uri: str


class Image(_Body):
    source_uri: ImageUri
    content_description: LocalizedString | None = None


class Uri(_Body):
    uri: str
    description: str | None = None
    id: str | None = None


class LinksModuleData(_Body):
    uris: list[Uri]


class TextModuleData(_Body):
    id: str
    header: str
    body: str
    localized_header: LocalizedString | None = None
    localized_body: LocalizedString | None = None


class LoyaltyPointsBalance(_Body):
    # `int` is int32 in the schema; points balances fit. Money-like text goes to `string`.
    int: int | None = None
    string: str | None = None


class LoyaltyPoints(_Body):
    balance: LoyaltyPointsBalance
    label: str | None = None
    localized_label: LocalizedString | None = None


class Barcode(_Body):
    type: GoogleType
    value: str
    alternate_text: str | None = None


class DateTime(_Body):
    date: str


class TimeInterval(_Body):
    start: DateTime | None = None
    end: DateTime | None = None


class MerchantLocation(_Body):
    latitude: float
    longitude: float


class Message(_Body):
    id: str
    header: str
    body: str
    message_type: MessageType


class LoyaltyClass(_Body):
    id: str
    issuer_name: str
    program_name: str
    program_logo: Image
    review_status: ReviewStatus
    hex_background_color: str | None = None
    localized_issuer_name: LocalizedString | None = None
    localized_program_name: LocalizedString | None = None
    account_id_label: str | None = None
    account_name_label: str | None = None
    localized_account_id_label: LocalizedString | None = None
    localized_account_name_label: LocalizedString | None = None
    rewards_tier_label: str | None = None
    localized_rewards_tier_label: LocalizedString | None = None
    country_code: str | None = None
    homepage_uri: Uri | None = None
    text_modules_data: list[TextModuleData] | None = None
    links_module_data: LinksModuleData | None = None
    merchant_locations: list[MerchantLocation] | None = None
    multiple_devices_and_holders_allowed_status: str | None = None


class LoyaltyObject(_Body):
    id: str
    class_id: str
    state: ObjectState
    account_id: str | None = None
    account_name: str | None = None
    loyalty_points: LoyaltyPoints | None = None
    secondary_loyalty_points: LoyaltyPoints | None = None
    barcode: Barcode | None = None
    text_modules_data: list[TextModuleData] | None = None
    valid_time_interval: TimeInterval | None = None
    merchant_locations: list[MerchantLocation] | None = None
    links_module_data: LinksModuleData | None = None


def _loc(ru: str, en: str) -> LocalizedString:
    return LocalizedString(
        default_value=TranslatedString(language="ru", value=ru),
        translated_values=[TranslatedString(language="en", value=en)],
    )


def _dict(body: msgspec.Struct) -> dict[str, Any]:
    result = msgspec.to_builtins(body)
    assert isinstance(result, dict)
    return result


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def class_id(google: GoogleSettings) -> str:
    return f"{google.issuer_id}.{_ID_PART.sub('_', google.class_suffix)}"


def object_id(state: CardState, google: GoogleSettings) -> str:
    """`issuerId.suffix`; the serial is the suffix, so a replaced card gets a new object."""
    return serial_object_id(state.serial_number, google)


def serial_object_id(serial: str, google: GoogleSettings) -> str:
    """``object_id`` of the pass with this serial, before its state is read."""
    return f"{google.issuer_id}.{_ID_PART.sub('_', serial)}"


def _links(program: Program) -> LinksModuleData | None:
    uris = []
    if program.support_url:
        uris.append(Uri(uri=program.support_url, description="Поддержка", id="support_url"))
    if program.support_phone:
        phone = re.sub(r"[^+\d]", "", program.support_phone)
        uris.append(Uri(uri=f"tel:{phone}", description=program.support_phone, id="support_phone"))
    return LinksModuleData(uris=uris) if uris else None


def loyalty_class(program: Program, google: GoogleSettings) -> dict[str, Any]:
    """The LoyaltyClass of a program (insert or update at walletobjects/v1/loyaltyClass)."""
    logo = program.logo_url or "https://www.gstatic.com/images/branding/product/2x/wallet_48dp.png"
    modules = []
    if program.terms_text_ru or program.terms_text_en:
        modules.append(
            TextModuleData(
                id="terms",
                header="Условия программы",
                body=program.terms_text_ru or program.terms_text_en,
                localized_header=_loc("Условия программы", "Program terms"),
                localized_body=_loc(
                    program.terms_text_ru or program.terms_text_en,
                    program.terms_text_en or program.terms_text_ru,
                ),
            )
        )
    body = LoyaltyClass(
        id=class_id(google),
        issuer_name=program.issuer_name,
        program_name=program.program_name,
        program_logo=Image(
            source_uri=ImageUri(uri=logo),
            content_description=_loc(program.program_name, program.program_name),
        ),
        review_status=google.review_status,
        hex_background_color=program.background_color.lower(),
        account_id_label="Номер карты",
        account_name_label="Владелец",
        localized_account_id_label=_loc("Номер карты", "Card number"),
        localized_account_name_label=_loc("Владелец", "Card holder"),
        rewards_tier_label="Уровень",
        localized_rewards_tier_label=_loc("Уровень", "Tier"),
        country_code=google.country_code,
        homepage_uri=Uri(uri=program.homepage_url, description=program.program_name)
        if program.homepage_url
        else None,
        text_modules_data=modules or None,
        links_module_data=_links(program),
        merchant_locations=[
            MerchantLocation(latitude=loc.latitude, longitude=loc.longitude)
            for loc in program.first_locations
        ]
        or None,
    )
    return _dict(body)


def _state(state: CardState) -> ObjectState:
    # A blocked or replaced card must stop scanning at the till: INACTIVE moves it to
    # "Expired passes" on the phone.
    return "ACTIVE" if state.status == "active" else "INACTIVE"


def _points(state: CardState) -> LoyaltyPoints:
    return LoyaltyPoints(
        balance=LoyaltyPointsBalance(int=state.balance),
        label="Баллы",
        localized_label=_loc("Баллы", "Points"),
    )


def _secondary(state: CardState) -> LoyaltyPoints:
    """Pending points, or, for a shopper in the cashback offer, the month's goal progress."""
    goal = state.goal
    if goal is not None:
        return LoyaltyPoints(
            balance=LoyaltyPointsBalance(string=f"{goal.percent}%"),
            label="Цель месяца",
            localized_label=_loc("Цель месяца", "Monthly goal"),
        )
    return LoyaltyPoints(
        balance=LoyaltyPointsBalance(int=state.pending),
        label="Ожидают",
        localized_label=_loc("Ожидают", "Pending"),
    )


def _text_modules(state: CardState) -> list[TextModuleData]:
    modules = []
    if state.next_expiry_at is not None and state.next_expiry_points > 0:
        date = state.next_expiry_at.astimezone(UTC).strftime("%d.%m.%Y")
        points_ru = words.points(state.next_expiry_points)
        points_en = words.points(state.next_expiry_points, "en")
        modules.append(
            TextModuleData(
                id="next_expiry",
                header="Скоро сгорят",
                body=f"{points_ru} — {date}",
                localized_header=_loc("Скоро сгорят", "Expiring soon"),
                localized_body=_loc(f"{points_ru} — {date}", f"{points_en} on {date}"),
            )
        )
    goal = state.goal
    if goal is not None:
        spent, target = format_roubles(goal.spent_kopecks), format_roubles(goal.goal_kopecks)
        ends = goal.month_ends_at.astimezone(UTC).strftime("%d.%m.%Y")
        reward = min(goal.reward_points, goal.cap_points)
        if goal.reached:
            ru = (
                f"Цель достигнута: {spent} из {target}. Кешбэк {words.points(reward)} "
                f"придёт после {ends}."
            )
            en = (
                f"Goal reached: {spent} of {target}. "
                f"{words.points(reward, 'en')} arrive after {ends}."
            )
        else:
            left = format_roubles(goal.left_kopecks)
            ru = f"{spent} из {target}. Осталось {left} до кешбэка, месяц закрывается {ends}."
            en = f"{spent} of {target}. {left} left to earn cashback; the month closes {ends}."
        modules.append(
            TextModuleData(
                id="goal",
                header="Цель месяца",
                body=ru,
                localized_header=_loc("Цель месяца", "Monthly goal"),
                localized_body=_loc(ru, en),
            )
        )
    if state.pending and goal is not None:
        # The secondary balance shows the goal, so pending points go to a text module.
        modules.append(
            TextModuleData(
                id="pending",
                header="Ожидают начисления",
                body=format_points(state.pending),
                localized_header=_loc("Ожидают начисления", "Pending points"),
            )
        )
    if state.burn_notice is not None:
        ru, en = state.burn_notice.text("ru"), state.burn_notice.text("en")
        modules.append(
            TextModuleData(
                id="burn_notice",
                header="Напоминание",
                body=ru,
                localized_header=_loc("Напоминание", "Reminder"),
                localized_body=_loc(ru, en),
            )
        )
    if state.message:
        modules.append(TextModuleData(id="message", header="Сообщение", body=state.message))
    if state.personal_offers:
        # The Apple pass's back field, as a text module: Google shows at most 500
        # characters of a module's body, so whole lines that fit, the first ones first.
        body = _fit(state.personal_offers, OFFERS_BODY_LIMIT)
        modules.append(
            TextModuleData(
                id="personal_offers",
                header="Ваши акции",
                body=body,
                localized_header=_loc("Ваши акции", "Your promotions"),
            )
        )
    return modules


# Google: "the maximum number of characters displayed for the body is 500".
OFFERS_BODY_LIMIT = 500


def _fit(lines: list[str], limit: int) -> str:
    """As many whole lines as fit in ``limit`` characters (the first one cut if alone)."""
    kept: list[str] = []
    for line in lines:
        if len("\n".join([*kept, line])) > limit:
            break
        kept.append(line)
    return "\n".join(kept) if kept else lines[0][: limit - 1] + "…"


def _barcode(state: CardState, program: Program) -> Barcode:
    return Barcode(
        type=GOOGLE_TYPES[program.barcode],
        value=state.card_number,
        alternate_text=state.card_number,
    )


def loyalty_object(state: CardState, program: Program, google: GoogleSettings) -> dict[str, Any]:
    """The LoyaltyObject of a card (insert at walletobjects/v1/loyaltyObject, or in a JWT)."""
    body = LoyaltyObject(
        id=object_id(state, google),
        class_id=class_id(google),
        state=_state(state),
        account_id=state.card_number,
        account_name=state.holder_name,
        loyalty_points=_points(state),
        secondary_loyalty_points=_secondary(state),
        barcode=_barcode(state, program),
        text_modules_data=_text_modules(state) or None,
        valid_time_interval=TimeInterval(end=DateTime(date=_iso(state.updated_at)))
        if state.status != "active"
        else None,
        merchant_locations=[
            MerchantLocation(latitude=loc.latitude, longitude=loc.longitude)
            for loc in program.first_locations
        ]
        or None,
        links_module_data=_links(program),
    )
    return _dict(body)


def loyalty_object_patch(
    state: CardState, program: Program, google: GoogleSettings, *, whole: bool = False
) -> dict[str, Any]:
    """PATCH walletobjects/v1/loyaltyObject/{id} body: only what card state changes.

    textModulesData is sent whole (an empty list clears it): PATCH replaces repeated
    fields, it does not merge them. ``whole`` adds the program's stores and links, for an
    object Google made from a save link that had to leave them out.
    """
    full = loyalty_object(state, program, google)
    if whole:
        return {k: v for k, v in full.items() if k not in ("id", "classId")}
    patch: dict[str, Any] = {
        "state": full["state"],
        "loyaltyPoints": full["loyaltyPoints"],
        "secondaryLoyaltyPoints": full["secondaryLoyaltyPoints"],
        "barcode": full["barcode"],
        "accountName": full["accountName"],
        "textModulesData": full.get("textModulesData", []),
    }
    if "validTimeInterval" in full:
        patch["validTimeInterval"] = full["validTimeInterval"]
    return patch


def add_message_body(
    header: str, body: str, message_type: MessageType, message_id: str
) -> dict[str, Any]:
    """POST walletobjects/v1/loyaltyObject/{id}/addMessage body.

    TEXT_AND_NOTIFY also rings the phone; Google allows 3 of them per pass per 24 h and
    answers 403 quotaExceeded above that, so the caller counts them.
    """
    return {
        "message": _dict(
            Message(
                id=_ID_PART.sub("_", message_id),
                header=header,
                body=body,
                message_type=message_type,
            )
        )
    }
