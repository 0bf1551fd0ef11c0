"""Every Russian text with a number says it the way a reader does: 1 балл, 2 балла,
5 баллов, 11 баллов, 21 балл, 22 балла, 111 баллов. The real email templates, pages and
pass texts are rendered with each number and read back."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import Markup

from passes.apple import pass_json_for
from passes.card import AppleSettings, BurnNotice, CardState, GoalProgress, Program
from passes.google.objects import GoogleSettings, loyalty_object
from wallet import words
from wallet.koshelek import push as koshelek_push
from wallet.mail import service as mail
from wallet.pages.render import Page
from wallet.promotions import service as promotions
from wallet.promotions.schemas import (
    Definition,
    Multiplier,
    PerAmount,
    Rate,
    ReceiptBonus,
    SkuBonus,
    ThresholdGift,
)

NUMBERS = (1, 2, 5, 11, 21, 22, 111)
RIGHT = {1: "балл", 2: "балла", 5: "баллов", 11: "баллов", 21: "балл", 22: "балла", 111: "баллов"}
DAYS = {1: "день", 2: "дня", 5: "дней", 11: "дней", 21: "день", 22: "дня", 111: "дней"}
# A number (grouped with no-break spaces) followed by a form of a noun the product counts:
# «балл», «день», «месяц», «покупатель», «чек», «строка» (every noun of words.NOUNS).
COUNTED = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:[\u00a0 ]\d{3})*)[\u00a0 ]"
    r"(балл(?:а|ов)?|д(?:ень|ня|ней)|месяц(?:а|ев)?|покупател(?:ь|я|ей)|чек(?:а|ов)?"
    r"|строк(?:а|и)?)(?!\w)"
)
FORMS = {
    "балл": ("балл", "балла", "баллов"),
    "д": ("день", "дня", "дней"),
    "месяц": ("месяц", "месяца", "месяцев"),
    "покупател": ("покупатель", "покупателя", "покупателей"),
    "чек": ("чек", "чека", "чеков"),
    "строк": ("строка", "строки", "строк"),
}


def wrong_forms(text: str) -> list[str]:
    """Every '<n> <noun>' (балл, день, месяц) in ``text`` whose noun does not agree with n."""
    bad = []
    for number, noun in COUNTED.findall(text):
        n = int(number.replace("\u00a0", "").replace(" ", ""))
        forms = next(forms for stem, forms in FORMS.items() if noun.startswith(stem))
        if noun != words.plural(n, *forms):
            bad.append(f"{number} {noun}")
    return bad


def test_the_checker_catches_a_wrong_form_of_every_noun():
    text = (
        "22 баллов, 5\u00a0покупателя, 21 чеков, 2 месяц, 11 дня, 2 строк; 1 балл, 3 чека, "
        "111 дней, 21 строка"
    )
    assert wrong_forms(text) == [
        "22 баллов",
        "5 покупателя",
        "21 чеков",
        "2 месяц",
        "11 дня",
        "2 строк",
    ]


def test_plural_follows_the_cldr_rule_for_russian():
    assert [words.points(n) for n in NUMBERS] == [f"{n}\u00a0{RIGHT[n]}" for n in NUMBERS]
    assert words.points(1_234) == "1\u00a0234\u00a0балла"
    assert words.points(12) == "12\u00a0баллов" and words.points(104) == "104\u00a0балла"
    assert words.points(21, "en") == "21\u00a0points" and words.points(1, "en") == "1\u00a0point"


def test_money_months_and_dates_read_as_people_write_them():
    assert words.money(343110) == "3\u00a0431,10\u00a0₽"
    assert words.money(610000) == "6\u00a0100\u00a0₽"
    assert words.money(343110, "en") == "3,431.10\u00a0₽"
    assert words.money(5) == "0,05\u00a0₽"
    assert words.month_key("2026-11") == "ноябрь 2026"
    assert words.month_key("2026-11", "en") == "November 2026"
    assert words.date(date(2027, 1, 31)) == "31 января 2027"


def test_money_in_both_languages_at_once_reads_as_money_in_each():
    # Promotions' reasons format every amount in both languages on each receipt, through
    # the faster ``money_both``: it must write exactly what ``money`` writes.
    amounts = [0, 5, 99, 100, 5_841, 99_999, 100_000, 300_000, 343_110, 12_345_678, 10**14 + 7]
    for kopecks in amounts + [-kopecks for kopecks in amounts]:
        assert words.money_both(kopecks) == (words.money(kopecks), words.money(kopecks, "en"))
    assert words.money_both(1_234_567_89) == (
        "1\u00a0234\u00a0567,89\u00a0₽",
        "1,234,567.89\u00a0₽",
    )


def _email_contexts(n: int) -> dict[str, dict[str, Any]]:
    base = {"name": "Ольга", "card_url": "https://w.example/card"}
    campaign = {
        **base,
        "balance": n,
        "burning_points": n,
        "burning_date": "31 января 2027",
        "unsubscribe_url": "https://w.example/unsubscribe?token=x",
        "subject": "Тема",
        "body": "Текст",
        "paragraphs": ["Текст"],
    }
    return {
        "expiry_reminder": {
            **base,
            "burns": [{"day": "2027-01-31", "points": n, "days_left": n}],
            "total": n,
        },
        "expiry_reminder_two_dates": {
            **base,
            "burns": [
                {"day": "2027-01-30", "points": n, "days_left": n},
                {"day": "2027-01-31", "points": n, "days_left": n},
            ],
            "total": 2 * n,
        },
        "cashback_reached": {
            **base,
            "month": "2026-11",
            "points": n,
            "goal_kopecks": 610000,
            "spent_kopecks": 650010,
            "missed_by_kopecks": 0,
            "cashback_url": "https://w.example/cashback",
        },
        "cashback_missed": {
            **base,
            "month": "2026-11",
            "points": 0,
            "goal_kopecks": 610000,
            "spent_kopecks": 343110,
            "missed_by_kopecks": 266890,
            "cashback_url": "https://w.example/cashback",
        },
        "campaign_default": campaign,
        "campaign_welcome": campaign,
        "campaign_birthday": campaign,
        "test_message": {**base, "balance": n},
        "accrual": {
            **base,
            "points": n,
            "reason": "подарок к празднику",
            "until_iso": "2027-01-31",
        },
        "webhook_disabled": {
            "webhook_id": 7,
            "url": "https://crm.example.ru/hooks",
            "failures": n,
            "minutes": 61,
            "last_error": "503",
            "when": "2026-11-30T15:00:00+00:00",
        },
        "accrual_debit": {**base, "points": -n, "reason": "исправление", "until_iso": "2027-01-31"},
    }


@pytest.mark.parametrize("n", NUMBERS)
def test_every_email_says_the_number_with_the_right_form(n):
    for name, context in _email_contexts(n).items():
        template = name.removesuffix("_two_dates").removesuffix("_debit")
        subject, html, text = mail.render(template, lang="ru", context=context)
        for part in (subject, html, text):
            assert wrong_forms(part) == [], (name, part)
        if template in ("expiry_reminder", "cashback_reached", "test_message"):
            assert f"{n}\u00a0{RIGHT[n]}" in text, (name, text)
        if template == "expiry_reminder" and name == template:
            verb = "сгорит" if RIGHT[n] == "балл" else "сгорят"
            assert f"{n}\u00a0{RIGHT[n]} {verb}" in subject, subject
            assert f"{n}\u00a0{DAYS[n]}" in text, text
    _s, _h, missed = mail.render(
        "cashback_missed", lang="ru", context=_email_contexts(n)["cashback_missed"]
    )
    assert (
        "За ноябрь 2026" in missed
        and "3\u00a0431,10\u00a0₽" in missed
        and "6\u00a0100\u00a0₽" in missed
    )


def _page(lang: str = "ru") -> Page:
    request: Any = SimpleNamespace(url=SimpleNamespace(path="/card"))
    return Page(
        request=request,
        lang=lang,  # type: ignore[arg-type]
        session=None,
        session_token="",
        csrf_binding="",
        csrf="token",
    )


def _card_html(n: int) -> str:
    when = datetime(2027, 1, 31, 12, tzinfo=UTC)
    summary = SimpleNamespace(
        balance=n,
        pending=n,
        pending_lots=[SimpleNamespace(points=n, expires_at=when)],
        next_expiry=SimpleNamespace(points=n, expires_at=when),
        debt=n,
    )
    card = SimpleNamespace(
        number="2000000000017", holder_name="Ольга", role="main", kind="virtual", status="active"
    )
    return _page().text(
        "card.html",
        name="Ольга",
        card=card,
        qr=Markup(""),
        links=SimpleNamespace(apple_pass=None, google_save=None),
        summary=summary,
        tier="Базовый",
        progress=None,
        referral=SimpleNamespace(code="ABC", link="https://w.example/join?ref=ABC"),
        promotions=[
            SimpleNamespace(
                name="Акция", gives=_promotion_text(n), until=None, personal=True, code=None
            )
        ],
        cards=[card],
        notice=None,
        error=None,
        error_box="",
        form={},
        email_language="ru",
        languages=["ru", "en"],
        marketing_email=True,
        marketing_push=True,
        marketing_sms=False,
        spend_code=None,
        tier_discount=None,
        tier_share=None,
    )


def _promotion_text(n: int) -> str:
    """What the card page and the pass back say a promotion gives, with ``n`` points."""
    return promotions.gives_ru(
        Definition(
            effects=[
                ReceiptBonus(points=n),
                PerAmount(points=n, per_kopecks=343110),
                SkuBonus(sku="молоко", points=n),
                ThresholdGift(threshold_kopecks=610000, points=n),
                Multiplier(times=max(n, 2)),
                Rate(rate_bp=250),
            ]
        )
    )


@pytest.mark.parametrize("n", NUMBERS)
def test_every_promotion_text_says_the_number_with_the_right_form(n):
    text = _promotion_text(n)
    assert wrong_forms(text) == [], text
    assert f"+{n}\u00a0{RIGHT[n]} за покупку" in text, text
    assert f"{n}\u00a0{RIGHT[n]} за каждые 3\u00a0431,10\u00a0₽" in text, text
    assert f"{n}\u00a0{RIGHT[n]} при покупке от 6\u00a0100\u00a0₽" in text, text
    assert "2,5% баллами" in text, text


def _cashback_html(n: int) -> str:
    offer = SimpleNamespace(
        id=1, name="Кешбэк", description="", rate_bp=250, cap_points=n, validity_months=n
    )
    progress = SimpleNamespace(
        goal_kopecks=610000,
        spent_kopecks=343110,
        remaining_kopecks=266890,
        percent=56,
        days_left=n,
        reward_if_ended_now=n,
        cap_points=n,
        reached=False,
        explanation=SimpleNamespace(
            method="median_month_plus_uplift",
            months=[
                SimpleNamespace(month=f"2026-{m:02d}", spent_kopecks=500000) for m in (8, 9, 10)
            ],
            typical_kopecks=500000,
            uplift_percent=10,
            rounding_step_kopecks=50000,
            min_goal_kopecks=100000,
        ),
    )
    status = SimpleNamespace(offer=offer, eligible=True, why_not=None, opted_in=True)
    item = SimpleNamespace(status=status, progress=progress, last_month=progress)
    return _page().text("cashback.html", view=[item], error=None)


def _my_data_html(n: int) -> str:
    """The shopper's "my data" page with one receipt of ``n`` lines."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    profile = SimpleNamespace(name="Ольга", email=None, phone=None, birthday=date(1990, 5, 12))
    line = {"sku": "MILK", "category": "dairy", "quantity": 1, "amount_kopecks": 100}
    data = SimpleNamespace(
        exported_at=now,
        profile=profile,
        balance=n,
        consents=[],
        cards=[],
        movements=[],
        offers=[],
        receipts=[
            {
                "receipt_id": "R1",
                "store_name": "Тверская",
                "occurred_at": now,
                "total_kopecks": 343110,
                "lines": [line] * n,
                "returns": [],
            }
        ],
        # SQLite hands raw SQL's timestamps back as text, PostgreSQL as datetimes.
        messages=[
            {"campaign": "Акция", "channel": "email", "status": "sent", "sent_at": now},
            {"campaign": "Акция", "channel": "sms", "status": "sent", "sent_at": str(now)},
        ],
        devices=[{"wallet": "google", "created_at": "2026-11-30 12:00:00"}],
    )
    return _page().text("my_data.html", data=data, ru=True, error=None, code_sent=None)


def test_my_data_page_writes_dates_as_people_do():
    html = _my_data_html(2)
    assert (
        "12 мая 1990" in html and html.count("30 ноября 2026, 15:00") == 5
    )  # exported, the receipt, 2 messages, device
    assert "2026-11-30" not in html and "1990-05-12" not in html


@pytest.mark.parametrize("n", NUMBERS)
def test_every_page_says_the_number_with_the_right_form(n):
    lines = {1: "строка", 2: "строки", 5: "строк", 11: "строк", 21: "строка", 22: "строки"}
    assert f"3\u00a0431,10\u00a0₽, {n}\u00a0{lines.get(n, 'строк')}" in _my_data_html(n)
    assert wrong_forms(_my_data_html(n)) == []
    for html in (_card_html(n), _cashback_html(n)):
        assert wrong_forms(html) == [], html
        assert f"{n}\u00a0{RIGHT[n]}" in html
    assert f"+{n}\u00a0{RIGHT[n]} за покупку" in _card_html(n)
    cashback = _cashback_html(n)
    assert f"{n}\u00a0{DAYS[n]}" in cashback
    assert "за 3\u00a0месяца (август 2026: 5\u00a0000\u00a0₽" in cashback, cashback
    assert "получите 2,5% от покупок баллами" in cashback  # a decimal comma in Russian


@pytest.mark.parametrize("n", NUMBERS)
def test_every_pass_text_says_the_number_with_the_right_form(n):
    notice = BurnNotice(points=n, burns_on=date(2027, 1, 31))
    verb = "сгорит" if RIGHT[n] == "балл" else "сгорят"
    assert notice.text("ru") == f"{n}\u00a0{RIGHT[n]} {verb} 31 января 2027"
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    for reached in (True, False):
        goal = GoalProgress(
            goal_kopecks=610000,
            spent_kopecks=700000 if reached else 343110,
            reward_points=n,
            cap_points=1000,
            month_ends_at=now + timedelta(days=1),
        )
        state = CardState(
            serial_number="s1",
            card_number="2000000000017",
            holder_name="Ольга",
            balance=n,
            pending=n,
            tier_name="Базовый",
            next_expiry_points=n,
            next_expiry_at=now + timedelta(days=30),
            goal=goal,
            status="active",
            message=None,
            updated_at=now,
            burn_notice=notice,
            personal_offers=[f"Акция: {_promotion_text(n)}"],
        )
        program = Program(program_name="П", organization_name="П", issuer_name="П")
        obj = loyalty_object(state, program, GoogleSettings(issuer_id="1", class_suffix="c"))
        texts = " | ".join(module["body"] for module in obj["textModulesData"])
        assert wrong_forms(texts) == [], texts
        assert f"{n}\u00a0{RIGHT[n]}" in texts, texts
        assert f"+{n}\u00a0{RIGHT[n]} за покупку" in texts, texts
        apple = AppleSettings(pass_type_id="pass.ru.example", team_id="TEAM", web_service_url=None)
        fields = json.loads(pass_json_for(state, program, apple, "t" * 20).to_json())
        back = " | ".join(str(field["value"]) for field in fields["storeCard"]["backFields"])
        assert wrong_forms(back) == [], back
        assert notice.text("ru") in back and f"+{n}\u00a0{RIGHT[n]} за покупку" in back, back
    # Кошелёк's push after a purchase.
    push = koshelek_push.balance_text(n)
    assert push == f"Ваш баланс: {n}\u00a0{RIGHT[n]}" and wrong_forms(push) == []


def test_the_webhook_email_says_when_it_was_disabled_as_people_write_it():
    """Not '2026-11-30T15:00:00+00:00': the day and the time in the program's zone."""
    context = _email_contexts(22)["webhook_disabled"]
    _s, html, text = mail.render("webhook_disabled", lang="ru", context=context)
    assert "Отключён: 30 ноября 2026, 18:00" in text
    assert "2026-11-30T" not in text + html
    _s, html, text = mail.render("webhook_disabled", lang="en", context=context)
    assert "Disabled: 30 November 2026, 18:00" in text and "2026-11-30T" not in text + html
