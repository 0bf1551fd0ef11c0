from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from passes.apple import PassSigner, PassValidationError, build_pkpass, pass_json_for
from passes.apple.bundle import pass_strings
from passes.apple.model import Field, Location, PassJSON, StoreCard, parse_pass_json
from passes.card import AppleSettings, CardState, Program


def _minimal(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Карта",
        "formatVersion": 1,
        "organizationName": "ООО",
        "passTypeIdentifier": "pass.test",
        "serialNumber": "1",
        "teamIdentifier": "TEAM",
        "storeCard": {"primaryFields": [{"key": "balance", "value": 10}]},
    }
    body.update(changes)
    return body


def _model(**changes: Any) -> PassJSON:
    values: dict[str, Any] = {
        "description": "Карта",
        "organization_name": "ООО",
        "pass_type_identifier": "pass.test",
        "serial_number": "1",
        "team_identifier": "TEAM",
        "format_version": 1,
        "store_card": StoreCard(),
    }
    values.update(changes)
    return PassJSON(**values)


def test_a_minimal_pass_json_parses() -> None:
    assert parse_pass_json(_minimal()).serial_number == "1"


@pytest.mark.parametrize("key", ["description", "organizationName", "serialNumber"])
def test_a_missing_required_key_is_refused_by_name(key: str) -> None:
    body = _minimal()
    del body[key]
    with pytest.raises(PassValidationError, match=key):
        parse_pass_json(body)


def test_an_empty_required_key_is_refused() -> None:
    with pytest.raises(PassValidationError, match="teamIdentifier"):
        _model(team_identifier=" ")


def test_a_change_message_without_placeholder_is_refused() -> None:
    card = StoreCard(
        primary_fields=[Field(key="balance", value=1, change_message="Баланс изменился")]
    )
    with pytest.raises(PassValidationError, match="%@"):
        _model(store_card=card).validate()


def test_a_localised_change_message_is_checked_in_every_language() -> None:
    card = StoreCard(primary_fields=[Field(key="balance", value=1, change_message="change.b")])
    model = _model(store_card=card)
    model.validate({"ru": {"change.b": "Баллы: %@"}, "en": {"change.b": "Points: %@"}})
    with pytest.raises(PassValidationError, match=r"\(en\)"):
        model.validate({"ru": {"change.b": "Баллы: %@"}, "en": {"change.b": "Points changed"}})


def test_a_web_service_url_without_token_is_refused() -> None:
    with pytest.raises(PassValidationError, match="authenticationToken"):
        _model(web_service_url="https://example.ru/passkit")


def test_a_short_authentication_token_is_refused() -> None:
    with pytest.raises(PassValidationError, match="at least 16"):
        _model(web_service_url="https://example.ru/passkit", authentication_token="short")


def test_more_than_ten_locations_are_refused() -> None:
    with pytest.raises(PassValidationError, match="at most 10"):
        _model(locations=[Location(latitude=55.0, longitude=37.0 + i) for i in range(11)])


def test_a_duplicate_field_key_is_refused() -> None:
    card = StoreCard(
        primary_fields=[Field(key="a", value=1)], back_fields=[Field(key="a", value=2)]
    )
    with pytest.raises(PassValidationError, match="used twice"):
        _model(store_card=card).validate()


def test_a_naive_date_is_refused() -> None:
    from passes.apple.model import w3c_date

    with pytest.raises(PassValidationError, match="time zone"):
        w3c_date(datetime(2025, 1, 1))


def _front(pass_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    card = pass_json["storeCard"]
    return {
        f["key"]: f
        for group in (
            "headerFields",
            "primaryFields",
            "secondaryFields",
            "auxiliaryFields",
            "backFields",
        )
        for f in card.get(group, [])
    }


def _pass_json(state: CardState, program: Program, apple: AppleSettings) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(pass_json_for(state, program, apple, "t" * 20).to_json())
    return result


def test_the_card_shows_balance_tier_pending_expiry_and_goal(
    state: CardState, program: Program, apple: AppleSettings
) -> None:
    pj = _pass_json(state, program, apple)
    fields = _front(pj)
    assert fields["balance"]["value"] == 1234
    assert fields["tier"]["value"] == "Золото"
    assert fields["pending"]["value"] == 150
    assert fields["expiry_points"]["value"] == 300
    assert fields["expiry_date"]["value"] == "2025-04-03T09:30:00+00:00"
    assert fields["goal"]["value"] == 0.65
    assert fields["card_number"]["value"] == "2000000000428"
    assert pj["barcodes"] == [
        {
            "message": "2000000000428",
            "format": "PKBarcodeFormatQR",
            "messageEncoding": "iso-8859-1",
            "altText": "2000000000428",
        }
    ]
    assert "barcode" not in pj  # the deprecated single-barcode key
    assert pj["webServiceURL"] == "https://wallet.example.ru/passkit"
    assert pj["authenticationToken"] == "t" * 20


def test_balance_and_expiry_changes_reach_the_lock_screen(
    state: CardState, program: Program, apple: AppleSettings
) -> None:
    fields = _front(_pass_json(state, program, apple))
    strings = pass_strings(program)
    for key in ("balance", "expiry_points", "expiry_date", "message"):
        message = fields[key]["changeMessage"]
        for table in strings.values():
            assert "%@" in table.get(message, message), (key, table.get(message))


def test_a_marketers_message_is_a_back_field_with_a_bare_change_message(
    make_state: Callable[..., CardState], program: Program, apple: AppleSettings
) -> None:
    fields = _front(_pass_json(make_state(message="Двойные баллы до воскресенья"), program, apple))
    assert fields["message"] == {
        "key": "message",
        "value": "Двойные баллы до воскресенья",
        "label": "label.message",
        "changeMessage": "%@",
    }


def test_no_goal_fields_before_the_shopper_opts_in(
    make_state: Callable[..., CardState], program: Program, apple: AppleSettings
) -> None:
    fields = _front(_pass_json(make_state(goal=None), program, apple))
    assert "goal" not in fields and "goal_progress" not in fields


def test_a_blocked_card_is_voided(
    make_state: Callable[..., CardState], program: Program, apple: AppleSettings
) -> None:
    assert _pass_json(make_state(status="blocked"), program, apple)["voided"] is True
    assert "voided" not in _pass_json(make_state(), program, apple)


def test_only_the_first_ten_locations_are_kept(
    state: CardState, program: Program, apple: AppleSettings
) -> None:
    locations = _pass_json(state, program, apple)["locations"]
    assert len(program.locations) == 12
    assert len(locations) == 10
    assert locations[0]["relevantText"] == "Магазин 0"


def test_labels_are_keys_translated_in_russian_and_english(
    state: CardState, program: Program, apple: AppleSettings, signer: PassSigner
) -> None:
    pkpass = build_pkpass(state, program, apple, "t" * 20, signer)
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        pj = json.loads(zf.read("pass.json"))
        ru = zf.read("ru.lproj/pass.strings").decode()
        en = zf.read("en.lproj/pass.strings").decode()
    for field in _front(pj).values():
        if "label" in field:
            assert f'"{field["label"]}" = ' in ru
            assert f'"{field["label"]}" = ' in en
    assert '"label.balance" = "Баллы";' in ru
    assert '"label.balance" = "Points";' in en
    assert "1 балл = 1 рубль" in ru and "1 point = 1 rouble" in en


def test_build_refuses_a_web_service_without_a_token(
    state: CardState, program: Program, apple: AppleSettings, signer: PassSigner
) -> None:
    with pytest.raises(PassValidationError, match="authenticationToken"):
        build_pkpass(state, program, apple, "", signer)


def test_dates_are_utc_with_offset(
    make_state: Callable[..., CardState], program: Program, apple: AppleSettings
) -> None:
    from datetime import timedelta, timezone

    msk = timezone(timedelta(hours=3))
    pj = _pass_json(
        make_state(next_expiry_at=datetime(2025, 4, 1, 0, 0, tzinfo=msk)), program, apple
    )
    assert pj["relevantDate"] == "2025-03-31T21:00:00+00:00"
    assert datetime.fromisoformat(pj["relevantDate"]).tzinfo == UTC
