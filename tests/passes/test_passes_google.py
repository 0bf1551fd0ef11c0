from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from passes.card import CardState, GoalProgress, Program
from passes.google import (
    SAVE_URL_PREFIX,
    GoogleSettings,
    ServiceAccount,
    add_message_body,
    fitting_save_link,
    loyalty_class,
    loyalty_object,
    loyalty_object_patch,
    object_reference,
    save_link,
)
from passes.google.jwt import MAX_LINK_LENGTH, SaveLinkTooLong
from tests.support.google_schema import SchemaError, assert_valid, validate

STATES: dict[str, dict[str, Any]] = {
    "with goal": {},
    "no goal": {"goal": None},
    "goal reached": {
        "goal": GoalProgress(
            goal_kopecks=1_000_000,
            spent_kopecks=1_200_000,
            reward_points=240,
            cap_points=1000,
            month_ends_at=datetime(2025, 3, 31, 21, tzinfo=UTC),
        ),
        "pending": 0,
    },
    "blocked": {"status": "blocked", "message": "Карта заблокирована"},
    "replaced": {"status": "replaced"},
    "no expiry": {"next_expiry_at": None, "next_expiry_points": 0},
    "with message": {"message": "Двойные баллы на овощи до воскресенья"},
    "personal offers": {
        "personal_offers": [
            "Кофе −20%: скидка 20%, на coffee. Промокод ABCD-EFGH-JKLM",
            "Для пенсионеров: баллы ×2",
        ]
    },
}


@pytest.fixture(params=sorted(STATES))
def any_state(request: pytest.FixtureRequest, make_state: Callable[..., CardState]) -> CardState:
    return make_state(**STATES[request.param])


def test_loyalty_class_matches_googles_schema(program: Program, google: GoogleSettings) -> None:
    body = loyalty_class(program, google)
    assert_valid("LoyaltyClass", body)
    assert body["id"] == "3388000000022222222.green_basket"
    assert body["reviewStatus"] == "UNDER_REVIEW"
    assert body["hexBackgroundColor"] == "#1f4e3d"
    assert len(body["merchantLocations"]) == 10


def test_a_minimal_program_class_matches_the_schema(google: GoogleSettings) -> None:
    assert_valid(
        "LoyaltyClass",
        loyalty_class(Program(program_name="P", organization_name="O", issuer_name="I"), google),
    )


def test_every_loyalty_object_matches_googles_schema(
    any_state: CardState, program: Program, google: GoogleSettings
) -> None:
    assert_valid("LoyaltyObject", loyalty_object(any_state, program, google))


def test_every_patch_body_matches_googles_schema(
    any_state: CardState, program: Program, google: GoogleSettings
) -> None:
    body = loyalty_object_patch(any_state, program, google)
    assert_valid("LoyaltyObject", body, patch=True)
    assert "id" not in body and "classId" not in body


@pytest.mark.parametrize("message_type", ["TEXT_AND_NOTIFY", "TEXT"])
def test_message_bodies_match_googles_schema(message_type: Any) -> None:
    body = add_message_body("Скоро сгорят баллы", "300 баллов сгорят 3 апреля", message_type,
                            "expiry-2025-04-03")  # fmt: skip
    assert_valid("AddMessageRequest", body)
    assert body["message"]["messageType"] == message_type


def test_the_object_carries_the_card(
    state: CardState, program: Program, google: GoogleSettings
) -> None:
    body = loyalty_object(state, program, google)
    assert body["id"] == "3388000000022222222.card-00000042"
    assert body["classId"] == "3388000000022222222.green_basket"
    assert body["state"] == "ACTIVE"
    assert body["accountId"] == "2000000000428"
    assert body["loyaltyPoints"]["balance"] == {"int": 1234}
    assert body["secondaryLoyaltyPoints"]["balance"] == {"string": "65%"}
    assert body["barcode"]["type"] == "QR_CODE"
    assert body["barcode"]["value"] == "2000000000428"
    modules = {m["id"]: m for m in body["textModulesData"]}
    assert "03.04.2025" in modules["next_expiry"]["body"]
    assert "9\u00a0800,50\u00a0₽ из 15\u00a0000\u00a0₽" in modules["goal"]["body"]


def test_personal_promotions_and_coupons_are_a_text_module_like_the_apple_back_field(
    make_state: Callable[..., CardState], program: Program, google: GoogleSettings
) -> None:
    offers = ["Кофе −20%: скидка 20%, на coffee. Промокод ABCD-EFGH-JKLM", "Для вас: баллы ×2"]
    body = loyalty_object(make_state(personal_offers=offers), program, google)
    modules = {m["id"]: m for m in body["textModulesData"]}
    assert modules["personal_offers"]["header"] == "Ваши акции"
    assert modules["personal_offers"]["body"] == "\n".join(offers)
    patch = loyalty_object_patch(make_state(personal_offers=offers), program, google)
    assert_valid("LoyaltyObject", patch, patch=True)
    assert any(m["id"] == "personal_offers" for m in patch["textModulesData"])
    # Gone from the shopper's promotions: gone from the pass (PATCH sends the list whole).
    cleared = loyalty_object_patch(make_state(personal_offers=[]), program, google)
    assert all(m["id"] != "personal_offers" for m in cleared["textModulesData"])
    # Many offers: whole lines within Google's 500 characters shown of a module's body.
    many = [
        f"Акция {n}: скидка {n}% на всё до конца месяца, промокод ABCD-EFGH-{n:04d}"
        for n in range(40)
    ]
    long_body = loyalty_object(make_state(personal_offers=many), program, google)
    shown = {m["id"]: m for m in long_body["textModulesData"]}["personal_offers"]["body"]
    assert 0 < len(shown) <= 500 and shown.split("\n") == many[: len(shown.split("\n"))]
    assert_valid("LoyaltyObject", long_body)


def test_pending_points_are_the_secondary_balance_without_a_goal(
    make_state: Callable[..., CardState], program: Program, google: GoogleSettings
) -> None:
    body = loyalty_object(make_state(goal=None), program, google)
    assert body["secondaryLoyaltyPoints"]["balance"] == {"int": 150}


def test_a_blocked_card_becomes_inactive(
    make_state: Callable[..., CardState], program: Program, google: GoogleSettings
) -> None:
    assert loyalty_object(make_state(status="blocked"), program, google)["state"] == "INACTIVE"


WRONG: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown field": lambda b: b.update(pointsBalance=5),
    "wrong type": lambda b: b["loyaltyPoints"]["balance"].update(int="1234"),
    "bad enum": lambda b: b.update(state="BLOCKED"),
    "deprecated enum alias": lambda b: b.update(state="active"),
    "int64 as a number": lambda b: b.update(version=3),
    "missing required": lambda b: b.pop("classId"),
    "missing nested required": lambda b: b["loyaltyPoints"].pop("balance"),
    "null": lambda b: b.update(accountName=None),
}


@pytest.mark.parametrize("breakage", sorted(WRONG))
def test_a_deliberately_wrong_body_fails_the_schema_check(
    breakage: str, state: CardState, program: Program, google: GoogleSettings
) -> None:
    body = copy.deepcopy(loyalty_object(state, program, google))
    WRONG[breakage](body)
    assert validate("LoyaltyObject", body), breakage
    with pytest.raises(SchemaError):
        assert_valid("LoyaltyObject", body)


def test_int64_as_a_decimal_string_passes() -> None:
    assert validate("LoyaltyObject", {"version": "3"}, patch=True) == []


def test_a_patch_may_omit_required_fields_but_not_break_them() -> None:
    assert validate("LoyaltyObject", {"state": "ACTIVE"}, patch=True) == []
    assert validate("LoyaltyObject", {"state": "ACTIVE"}) != []


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verified_claims(token: str, account: ServiceAccount) -> dict[str, Any]:
    """RS256 check with the account's public key only, as Google does (no exp is sent)."""
    public = serialization.load_pem_public_key(
        account.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert isinstance(public, rsa.RSAPublicKey)
    header, body, signature = token.split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": account.key_id}
    public.verify(
        _b64decode(signature), f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    claims: dict[str, Any] = json.loads(_b64decode(body))
    return claims


def _jwt(link: str) -> str:
    assert link.startswith(SAVE_URL_PREFIX)
    return link[len(SAVE_URL_PREFIX) :]


def test_save_link_is_a_jwt_verified_by_the_service_account_key(
    service_account: ServiceAccount, state: CardState, program: Program, google: GoogleSettings
) -> None:
    obj = loyalty_object(state, program, google)
    link = save_link(service_account, [obj], google.origins, existing_ids={obj["id"]})
    assert len(link) < MAX_LINK_LENGTH
    claims = _verified_claims(_jwt(link), service_account)
    assert claims["aud"] == "google"
    assert claims["iss"] == service_account.email
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://wallet.example.ru"]
    assert claims["payload"] == {"loyaltyObjects": [object_reference(obj)]}
    assert isinstance(claims["iat"], int)


def test_a_new_object_travels_whole_and_matches_the_schema(
    service_account: ServiceAccount,
    make_state: Callable[..., CardState],
    program: Program,
    google: GoogleSettings,
) -> None:
    obj = loyalty_object(make_state(goal=None, next_expiry_at=None), program, google)
    # The JWT form: a full object, without the locations and links that make it long.
    small = {k: v for k, v in obj.items() if k not in ("merchantLocations", "linksModuleData")}
    link = save_link(service_account, [small], google.origins)
    assert len(link) < MAX_LINK_LENGTH
    payload = _payload(link)
    assert payload["loyaltyObjects"][0]["loyaltyPoints"]["balance"] == {"int": 1234}
    assert_valid("LoyaltyObject", payload["loyaltyObjects"][0])


def test_a_link_over_the_length_limit_is_refused(
    service_account: ServiceAccount, state: CardState, program: Program, google: GoogleSettings
) -> None:
    with pytest.raises(SaveLinkTooLong, match="existing_ids"):
        save_link(service_account, [loyalty_object(state, program, google)], google.origins)


@pytest.mark.parametrize(
    "name",
    [
        "Анна Смирнова",
        "Александра Константиновна Преображенская",
        # The longest name enrolment accepts (200 characters), in Cyrillic: 2 bytes each.
        ("Преображенская-Константинопольская " * 6)[:200],
    ],
)
def test_a_new_object_too_long_for_a_link_is_trimmed_until_it_fits_and_stays_valid(
    service_account: ServiceAccount,
    make_state: Callable[..., CardState],
    program: Program,
    google: GoogleSettings,
    name: str,
) -> None:
    state = make_state(holder_name=name, message="Двойные баллы на овощи до воскресенья")
    whole = loyalty_object(state, program, google)
    link = fitting_save_link(service_account, whole, google.origins)
    assert len(link) <= MAX_LINK_LENGTH
    [obj] = _payload(link)["loyaltyObjects"]
    assert_valid("LoyaltyObject", obj)
    assert "merchantLocations" not in obj and "linksModuleData" not in obj
    assert "message" not in {t["id"] for t in obj.get("textModulesData", [])}
    # What a till and the shopper need is always there: the id, the QR code, the points.
    assert obj["id"] == whole["id"] and obj["barcode"]["value"] == state.card_number
    assert obj["loyaltyPoints"]["balance"] == {"int": 1234}
    assert obj["accountName"].rstrip("…") == name[: len(obj["accountName"].rstrip("…"))]


def test_an_object_that_fits_travels_whole(
    service_account: ServiceAccount,
    make_state: Callable[..., CardState],
    program: Program,
    google: GoogleSettings,
) -> None:
    bare = Program(program_name="Корзина", organization_name="Корзина", issuer_name="Корзина")
    obj = loyalty_object(make_state(goal=None, next_expiry_at=None), bare, google)
    link = fitting_save_link(service_account, obj, google.origins)
    assert _payload(link)["loyaltyObjects"] == [obj]


def _payload(link: str) -> dict[str, Any]:
    body = _jwt(link).split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return result["payload"]


def test_a_tampered_save_jwt_is_rejected(
    service_account: ServiceAccount, state: CardState, program: Program, google: GoogleSettings
) -> None:
    obj = loyalty_object(state, program, google)
    token = _jwt(save_link(service_account, [obj], google.origins, existing_ids={obj["id"]}))
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["payload"]["loyaltyObjects"][0]["id"] = "3388000000022222222.someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _verified_claims(token, service_account)
    with pytest.raises(InvalidSignature):
        _verified_claims(f"{header}.{forged}.{signature}", service_account)
