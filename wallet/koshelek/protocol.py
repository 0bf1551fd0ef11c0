"""Every assumption about Кошелёк's (Cardsmobile) partner protocols, in this one module.

Only part of the Loyalty Online API and of the Push API is public (see README, "«Кошелёк»").
What is documented is marked DOCUMENTED; everything else is ASSUMED and is what to check
against the full specification Кошелёк gives a chain when it connects. The rest of the
package speaks our own terms (cards, members, consents) and calls the functions here to
read and write Кошелёк's wire format, so a corrected field or path changes only this file.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import msgspec

# ---- the service Кошелёк calls (ours) --------------------------------------------------------

# DOCUMENTED: paths are relative to the base URL the partner gives Кошелёк; ASSUMED: our
# base URL for Кошелёк is <WALLET_BASE_URL>/koshelek, so its "/v1/card" lands here.
PREFIX = "/koshelek/v1"
CARD = "/card"  # DOCUMENTED: GET, search
ANONYMOUS_ISSUE = "/card/anonymous"  # DOCUMENTED path (v1.2.0); body ASSUMED below
COMMUNICATION = "/card/{card_number:str}/communication"  # DOCUMENTED: PUT, allow/deny
PROMO_CODE = "/promo/code"  # DOCUMENTED path (v1.3.0); body ASSUMED below
ALL_USERS = "/card/getAllUsers"  # DOCUMENTED, optional
ALL_USERS_EXTENDED = "/card/getAllUsersExtended"  # DOCUMENTED, optional
# ASSUMED: Push Callback API path (the public page gives neither path nor body).
PUSH_CALLBACK = "/push/callback"

# DOCUMENTED: responses are UTF-8 JSON with this exact content type.
CONTENT_TYPE = "application/json; charset=utf-8"
# DOCUMENTED: 200 processed, 422 an error with {"code","description"}.
ERROR_STATUS = 422

# DOCUMENTED search parameters (OR-combined; unknown ones ignored).
SEARCH_MSISDN = "msisdn"
SEARCH_EMAIL = "email"
SEARCH_BIRTH_DATE = "birthDate"

# DOCUMENTED values.
STATE_ACTIVE = "active"
STATE_INACTIVE = "inactive"
BARCODE_TYPES = ("EAN_8", "EAN_13", "CODE_128", "UPC_A", "QR_CODE")

# ASSUMED: the error codes. Only the shape {"code","description"} is documented (its example
# is "123", "DBMS server unavailable"); Кошелёк shows the description to the shopper.
ERRORS: dict[str, tuple[str, str]] = {
    "unauthorized": ("401", "Неверный логин или пароль"),
    "bad_request": ("400", "Неверный запрос"),
    "card_blocked": ("1001", "Карта заблокирована. Обратитесь в службу поддержки программы"),
    "ambiguous": ("1002", "Найдено несколько карт. Обратитесь в службу поддержки программы"),
    "card_not_found": ("1003", "Карта не найдена"),
    "terms_not_accepted": ("1004", "Для выпуска карты нужно принять условия программы"),
    "no_contact": ("1005", "Для выпуска карты нужен номер телефона"),
    "promo_not_supported": ("1101", "Промокоды пока не принимаются"),
    # A code typed in Кошелёк, refused for the reason our coupons give (coupon_*).
    "coupon_unknown": ("1102", "Промокод не найден"),
    "coupon_used": ("1103", "Промокод уже использован"),
    "coupon_expired": ("1104", "Срок действия промокода истёк"),
    "coupon_not_started": ("1105", "Промокод ещё не действует"),
    "coupon_limit": ("1106", "Промокод больше нельзя использовать"),
    "coupon_inactive": ("1107", "Акция по промокоду сейчас не проводится"),
    "disabled": ("1201", "Метод отключён"),
    "internal": ("500", "Сервис временно недоступен, попробуйте позже"),
}


def error_body(reason: str, detail: str = "") -> bytes:
    code, description = ERRORS.get(reason, ERRORS["internal"])
    if detail:
        description = f"{description}: {detail}"
    return msgspec.json.encode({"code": code, "description": description})


_MSISDN = re.compile(r"^[0-9]{11,15}$")


def msisdn_of(raw: str | None) -> str | None:
    """DOCUMENTED: digits without "+", up to 15, starting with the country code. Anything
    else is treated as absent (an unknown value matches nothing, like an unknown field)."""
    if raw is None:
        return None
    digits = raw.strip().lstrip("+")
    return digits if _MSISDN.match(digits) else None


def phone_forms(msisdn: str) -> list[str]:
    """The forms our member table may hold the same phone in: E.164 (``wallet.phones``)
    and, for rows the phone migration could not read, the digits with or without "+"."""
    return sorted({our_phone(msisdn), f"+{msisdn}", msisdn})


def our_phone(msisdn: str) -> str:
    """The phone as we store it (E.164); an MSISDN phonenumbers cannot read stays "+digits"
    (Кошелёк verified it; refusing it would refuse the shopper)."""
    from wallet import phones

    return phones.parse(f"+{msisdn}") or f"+{msisdn}"


def msisdn_of_phone(phone: str) -> str:
    return phone.strip().lstrip("+")


def date_of(raw: str | None) -> _dt.date | None:
    """DOCUMENTED: YYYY-MM-DD. ASSUMED also YYYYMMDD (the offline registry's format)."""
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return _dt.datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    return None


def card_reply(*, number: str, active: bool, barcode_type: str) -> bytes:
    """DOCUMENTED: {"card": {"cardNumber", "cardState", "barcode": {...}}}, every elementary
    field a string. ASSUMED: the barcode carries the card number itself."""
    return msgspec.json.encode(
        {
            "card": {
                "cardNumber": str(number),
                "cardState": STATE_ACTIVE if active else STATE_INACTIVE,
                "barcode": {"barcodeNumber": str(number), "barcodeType": str(barcode_type)},
            }
        }
    )


class IssueRequest(msgspec.Struct, frozen=True):
    """ASSUMED: the v1.2.0 anonymous issue's body (the public page gives no fields). Named
    after the offline registry's columns in camelCase, as the online API names its own;
    unknown fields are ignored, every value may come as a string."""

    msisdn: str | None = None
    email: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    patronymicName: str | None = None
    birthDate: str | None = None
    # The shopper accepted the program's terms in Кошелёк, and which version of them.
    termsAccepted: str | bool | None = None
    termsVersion: str | None = None
    # The channels ticked during issuing (the same lists as the communication call).
    allow: list[str] = []
    deny: list[str] = []


def truthy(value: str | bool | None) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


class Communication(msgspec.Struct, frozen=True):
    """DOCUMENTED: {"allow": [...], "deny": [...]}."""

    allow: list[str] = []
    deny: list[str] = []


# DOCUMENTED channel values: sms, email, call. ASSUMED: "push" (the "other" channel of the
# issue screen) is consent to pushes, ours and Кошелёк's. Values not listed are ignored.
CHANNELS = ("sms", "email", "call", "push")


# ASSUMED: the promo code body.
class PromoCode(msgspec.Struct, frozen=True):
    cardNumber: str | None = None
    code: str | None = None


def users_reply(phones: list[str]) -> bytes:
    """DOCUMENTED: a JSON array of phone strings without "+"."""
    return msgspec.json.encode([msisdn_of_phone(p) for p in phones])


def users_extended_reply(rows: list[tuple[str, dict[str, str]]]) -> bytes:
    """DOCUMENTED: [{"phone", "params": [{"name", "value"}]}]; ASSUMED param names."""
    return msgspec.json.encode(
        [
            {
                "phone": msisdn_of_phone(phone),
                "params": [{"name": k, "value": str(v)} for k, v in params.items()],
            }
            for phone, params in rows
        ]
    )


# ---- the Push API (Кошелёк's; we are the client) -------------------------------------------

PUSH_DELIVERY = "/push/delivery"  # DOCUMENTED (one recipient)
PUSH_PROMO = "PROMO"
PUSH_TRANSACTION = "TRANSACTION"
PUSH_SERVICE = "SERVICE"
TITLE_MAX = 50  # DOCUMENTED
MESSAGE_MAX = 150  # DOCUMENTED (a reseller says 2048; the shorter one is safe)
STATE_NOT_REGISTERED = "MSISDN_NOT_REGISTERED"
STATE_ENQUEUED = "ENQUEUED"
STATE_DELIVERED = "DELIVERED"
STATE_OPENED = "OPENED"
CALLBACK_STATES = (STATE_DELIVERED, STATE_OPENED)


def _fit(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def push_body(
    *,
    push_type: str,
    msisdn: str,
    title: str,
    message: str,
    image: str = "",
    utm_campaign: str = "",
) -> dict[str, Any]:
    """DOCUMENTED fields; texts are cut to the documented lengths. The deep link opens the
    card (target "card"); an image is sent only on PROMO pushes (ignored on others)."""
    payload: dict[str, Any] = {
        "title": _fit(title, TITLE_MAX),
        "message": _fit(message, MESSAGE_MAX),
        "deeplink": {"target": "card"},
    }
    if image and push_type == PUSH_PROMO:
        payload["image"] = image
    body: dict[str, Any] = {
        "pushType": push_type,
        "msisdn": int(msisdn),
        "payload": payload,
        "qos": {"deliveryStatusNotifications": True},
    }
    if utm_campaign:
        body["utm"] = {"utmSource": "loyalty", "utmMiddle": "koshelek", "utmCampaign": utm_campaign}
    return body


class PushReply(msgspec.Struct, frozen=True):
    """DOCUMENTED: {"messageId": UUID, "state": MSISDN_NOT_REGISTERED | ENQUEUED}."""

    messageId: str = ""
    state: str = ""


class PushStatus(msgspec.Struct, frozen=True):
    """ASSUMED: one delivery-status callback (Кошелёк's states, our message id)."""

    messageId: str
    state: str
