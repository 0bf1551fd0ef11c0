"""A typed pass.json for a storeCard, refusing what Wallet would refuse.

Wallet silently drops an invalid pass on the phone ("cannot be installed" with no reason),
so every rule we know is checked here, at build time, with a message that names the key.
Source: Apple's "Pass" JSON reference (developer.apple.com/documentation/walletpasses/pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

import msgspec

MAX_LOCATIONS = 10
MIN_AUTH_TOKEN_LENGTH = 16

TextAlignment = Literal[
    "PKTextAlignmentLeft",
    "PKTextAlignmentCenter",
    "PKTextAlignmentRight",
    "PKTextAlignmentNatural",
]
DateStyle = Literal[
    "PKDateStyleNone",
    "PKDateStyleShort",
    "PKDateStyleMedium",
    "PKDateStyleLong",
    "PKDateStyleFull",
]
NumberStyle = Literal[
    "PKNumberStyleDecimal",
    "PKNumberStylePercent",
    "PKNumberStyleScientific",
    "PKNumberStyleSpellOut",
]
BarcodeFormat = Literal[
    "PKBarcodeFormatQR",
    "PKBarcodeFormatPDF417",
    "PKBarcodeFormatAztec",
    "PKBarcodeFormatCode128",
]


class PassValidationError(ValueError):
    """The pass would be refused by Wallet; the message names the offending key."""


def w3c_date(value: datetime) -> str:
    """Apple wants ISO 8601 with an explicit offset; naive datetimes are a bug upstream."""
    if value.utcoffset() is None:
        raise PassValidationError(f"date {value!r} has no time zone")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def rgb(colour: tuple[int, int, int]) -> str:
    return f"rgb({colour[0]}, {colour[1]}, {colour[2]})"


class _Model(msgspec.Struct, omit_defaults=True, kw_only=True):
    pass


class Field(_Model):
    key: str
    value: str | int | float
    label: str | None = None
    change_message: str | None = msgspec.field(default=None, name="changeMessage")
    text_alignment: TextAlignment | None = msgspec.field(default=None, name="textAlignment")
    attributed_value: str | None = msgspec.field(default=None, name="attributedValue")
    # Number styles
    number_style: NumberStyle | None = msgspec.field(default=None, name="numberStyle")
    currency_code: str | None = msgspec.field(default=None, name="currencyCode")
    # Date styles: the value is then a W3C date string
    date_style: DateStyle | None = msgspec.field(default=None, name="dateStyle")
    time_style: DateStyle | None = msgspec.field(default=None, name="timeStyle")
    is_relative: bool | None = msgspec.field(default=None, name="isRelative")
    ignores_time_zone: bool | None = msgspec.field(default=None, name="ignoresTimeZone")
    data_detector_types: list[str] | None = msgspec.field(default=None, name="dataDetectorTypes")


class Barcode(_Model):
    # No defaults on the keys Wallet requires: omit_defaults would leave them out.
    message: str
    format: BarcodeFormat
    message_encoding: str = msgspec.field(name="messageEncoding")
    alt_text: str | None = msgspec.field(default=None, name="altText")


class Location(_Model):
    latitude: float
    longitude: float
    altitude: float | None = None
    relevant_text: str | None = msgspec.field(default=None, name="relevantText")


class StoreCard(_Model):
    header_fields: list[Field] = msgspec.field(default_factory=list, name="headerFields")
    primary_fields: list[Field] = msgspec.field(default_factory=list, name="primaryFields")
    secondary_fields: list[Field] = msgspec.field(default_factory=list, name="secondaryFields")
    auxiliary_fields: list[Field] = msgspec.field(default_factory=list, name="auxiliaryFields")
    back_fields: list[Field] = msgspec.field(default_factory=list, name="backFields")

    def all_fields(self) -> Iterable[tuple[str, Field]]:
        for group in ("header_fields", "primary_fields", "secondary_fields",
                      "auxiliary_fields", "back_fields"):  # fmt: skip
            for field in getattr(self, group):
                yield group, field


class Semantics(_Model):
    """The semantic tags that fit a loyalty card (Siri and Maps suggestions)."""

    venue_name: str | None = msgspec.field(default=None, name="venueName")
    venue_phone_number: str | None = msgspec.field(default=None, name="venuePhoneNumber")


class PassJSON(_Model):
    description: str
    organization_name: str = msgspec.field(name="organizationName")
    pass_type_identifier: str = msgspec.field(name="passTypeIdentifier")
    serial_number: str = msgspec.field(name="serialNumber")
    team_identifier: str = msgspec.field(name="teamIdentifier")
    store_card: StoreCard = msgspec.field(name="storeCard")
    format_version: int = msgspec.field(name="formatVersion")
    logo_text: str | None = msgspec.field(default=None, name="logoText")
    foreground_color: str | None = msgspec.field(default=None, name="foregroundColor")
    background_color: str | None = msgspec.field(default=None, name="backgroundColor")
    label_color: str | None = msgspec.field(default=None, name="labelColor")
    barcodes: list[Barcode] = msgspec.field(default_factory=list)
    locations: list[Location] = msgspec.field(default_factory=list)
    relevant_date: str | None = msgspec.field(default=None, name="relevantDate")
    expiration_date: str | None = msgspec.field(default=None, name="expirationDate")
    voided: bool | None = None
    web_service_url: str | None = msgspec.field(default=None, name="webServiceURL")
    authentication_token: str | None = msgspec.field(default=None, name="authenticationToken")
    sharing_prohibited: bool | None = msgspec.field(default=None, name="sharingProhibited")
    semantics: Semantics | None = None

    def __post_init__(self) -> None:
        # Fields are checked by validate(), which build_pkpass always runs: a changeMessage
        # may be a pass.strings key that only the bundle can resolve.
        self._check_document()

    def validate(self, strings: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Raise PassValidationError for anything Wallet would refuse.

        `strings` maps a language ("ru") to its pass.strings table; a changeMessage that is
        a key there must carry %@ in every language it resolves to, any other changeMessage
        must carry it literally.
        """
        self._check_document()
        self._check_fields(strings)

    def _check_document(self) -> None:
        for name in ("description", "organizationName", "passTypeIdentifier",
                     "serialNumber", "teamIdentifier"):  # fmt: skip
            value = getattr(self, _attr(name))
            if not isinstance(value, str) or not value.strip():
                raise PassValidationError(f"pass.json: required key {name!r} is missing or empty")
        if self.format_version != 1:
            raise PassValidationError("pass.json: formatVersion must be 1")
        if len(self.locations) > MAX_LOCATIONS:
            raise PassValidationError(
                f"pass.json: {len(self.locations)} locations, Wallet allows at most {MAX_LOCATIONS}"
            )
        if (self.web_service_url is None) != (self.authentication_token is None):
            raise PassValidationError(
                "pass.json: webServiceURL and authenticationToken go together; "
                f"got only {'webServiceURL' if self.web_service_url else 'authenticationToken'}"
            )
        if self.web_service_url is not None:
            if not self.web_service_url.startswith("https://") and not _is_local(
                self.web_service_url
            ):
                raise PassValidationError(
                    "pass.json: webServiceURL must be https:// (plain http only for localhost)"
                )
            token = self.authentication_token or ""
            if len(token) < MIN_AUTH_TOKEN_LENGTH:
                raise PassValidationError(
                    f"pass.json: authenticationToken must be at least {MIN_AUTH_TOKEN_LENGTH} "
                    f"characters, got {len(token)}"
                )

    def _check_fields(self, strings: Mapping[str, Mapping[str, str]] | None) -> None:
        seen: set[str] = set()
        for group, field in self.store_card.all_fields():
            where = _Where(group, field.key)
            if not field.key:
                raise PassValidationError(f"pass.json: a field in {_camel(group)} has no key")
            if field.key in seen:
                raise PassValidationError(f"pass.json: field key {field.key!r} is used twice")
            seen.add(field.key)
            if field.change_message is not None:
                for lang, text in _resolve(field.change_message, strings):
                    if "%@" not in text:
                        raise PassValidationError(
                            f"pass.json: {where}.changeMessage {text!r}"
                            f"{f' ({lang})' if lang else ''} has no %@ placeholder, so the "
                            "lock-screen message could not show the new value"
                        )
            if field.date_style or field.time_style:
                if not isinstance(field.value, str):
                    raise PassValidationError(f"pass.json: {where} has a date style, needs a date")
            if field.number_style and not isinstance(field.value, int | float):
                raise PassValidationError(f"pass.json: {where} has a number style, needs a number")
        for group, limit in (("header_fields", 3), ("primary_fields", 1)):
            if len(getattr(self.store_card, group)) > limit:
                raise PassValidationError(
                    f"pass.json: storeCard.{_camel(group)} holds at most {limit} fields"
                )
        front = len(self.store_card.secondary_fields) + len(self.store_card.auxiliary_fields)
        if front > 4:
            raise PassValidationError(
                "pass.json: a storeCard shows at most 4 secondary and auxiliary fields together"
            )
        for barcode in self.barcodes:
            if not barcode.message:
                raise PassValidationError("pass.json: a barcode has an empty message")

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)


def _resolve(
    text: str, strings: Mapping[str, Mapping[str, str]] | None
) -> list[tuple[str | None, str]]:
    if strings:
        found: list[tuple[str | None, str]] = [
            (lang, table[text]) for lang, table in strings.items() if text in table
        ]
        if found:
            return found
    return [(None, text)]


class _Where:
    """Names a field in an error message; formatted only when there is an error."""

    __slots__ = ("group", "key")

    def __init__(self, group: str, key: str) -> None:
        self.group = group
        self.key = key

    def __str__(self) -> str:
        return f"storeCard.{_camel(self.group)}[{self.key!r}]"


def _is_local(url: str) -> bool:
    return url.startswith(("http://localhost", "http://127.0.0.1"))


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


_ATTRS = {
    "description": "description",
    "organizationName": "organization_name",
    "passTypeIdentifier": "pass_type_identifier",
    "serialNumber": "serial_number",
    "teamIdentifier": "team_identifier",
}


def _attr(json_name: str) -> str:
    return _ATTRS[json_name]


def parse_pass_json(data: bytes | str | Mapping[str, object]) -> PassJSON:
    """Read a pass.json (bytes or a dict) into the model; any problem is a PassValidationError."""
    try:
        if isinstance(data, bytes | str):
            return msgspec.json.decode(data, type=PassJSON)
        return msgspec.convert(data, type=PassJSON)
    except msgspec.ValidationError as exc:
        raise PassValidationError(f"pass.json: {exc}") from exc
