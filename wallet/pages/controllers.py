"""The shopper's pages. Thin: parse the form, call the services, render a template."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from wallet import clock, db
from wallet import settings as settings_module
from wallet.accounts import read as accounts
from wallet.errors import (
    CardAlreadyActivated,
    DomainError,
    InvalidInput,
    ReferralRefused,
    StoreNotFound,
    TooManyAttempts,
    WrongCode,
    retry_after,
)
from wallet.http import client_ip
from wallet.inputs import QueryJournalId, parse_id
from wallet.members import service as members
from wallet.members.schemas import LANGUAGES, AddCardIn, EnrolIn
from wallet.pages import cashback, i18n, pwa
from wallet.pages.render import Page, card_barcode, page, qr_svg
from wallet.plastic import service as plastic
from wallet.promotions import service as promotions
from wallet.receipts import spend_codes
from wallet.shopper import views
from wallet.signin import joining
from wallet.signin import service as pages
from wallet.stores import service as stores

log = logging.getLogger(__name__)
TERMS_VERSION = "2026-01"
HISTORY_PAGE = 20


def _store_code(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    return value if 0 < len(value) <= 32 else None


async def _store_name(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return (await stores.get_store(code)).name
    except StoreNotFound:
        return None


class PagesController(Controller):
    include_in_schema = False

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        return p.redirect("/card" if p.session else "/join")

    # ---- join -------------------------------------------------------------------------

    @get("/join")
    async def join_form(
        self,
        request: Request[Any, Any, Any],
        store: FromQuery[str | None] = None,
        ref: FromQuery[str | None] = None,
    ) -> Response[Any]:
        p = await page(request)
        code = _store_code(store)
        # A friend's link (/join?ref=CODE) fills the code in; the enrolment checks it.
        form = {"ref": ref.strip()[:20]} if ref else {}
        return p.render(
            "join.html", store=code, store_name=await _store_name(code), form=form, error=None
        )

    @post("/join")
    async def join(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        form = await p.form()
        if form is None:
            return p.refused()
        code = _store_code(form.get("store"))
        store_name = await _store_name(code)

        def again(message: str) -> Response[Any]:
            return p.render(
                "join.html",
                status=422,
                store=code,
                store_name=store_name,
                form=form,
                error=message,
            )

        if not (form.get("consent_program") and form.get("consent_data")):
            return again(p.t("join.need_consent"))
        email = form.get("email", "").strip() or None
        phone = "".join(ch for ch in form.get("phone", "") if ch.isdigit() or ch == "+") or None
        if not email and not phone:
            return again(p.t("join.contact_hint"))
        try:
            data = msgspec.convert(
                {
                    "name": form.get("name", "").strip(),
                    "email": email,
                    "phone": phone,
                    "birthday": form.get("birthday") or None,
                    "join_store": code if store_name else None,
                    # The shopper's emails speak the language they joined in.
                    "language": p.lang,
                    "ref": form.get("ref", "").strip() or None,
                    "consents": {
                        "program": True,
                        "personal_data": True,
                        "terms_version": TERMS_VERSION,
                        "marketing_email": bool(form.get("marketing_email")),
                        "marketing_push": bool(form.get("marketing_push")),
                        "marketing_sms": bool(form.get("marketing_sms")),
                    },
                },
                EnrolIn,
            )
        except msgspec.ValidationError as exc:
            return again(p.t("join.check", problem=str(exc)))
        now = clock.now()
        try:
            async with db.write_transaction():
                outcome = await joining.join(data, ip=client_ip(request), now=now)
                member_id = outcome.joined.member_id
                token = None
                if member_id is not None:
                    _session, token = await pages.open_session(member_id, now=now)
        except TooManyAttempts as exc:
            response = p.render(
                "join.html",
                status=429,
                store=code,
                store_name=store_name,
                form=form,
                error=p.t("signin.too_many"),
            )
            response.headers["Retry-After"] = str(retry_after(exc) or 60)
            return response
        except ReferralRefused as exc:
            return again(exc.message)
        except (InvalidInput, StoreNotFound) as exc:
            return again(exc.message)
        if token is None:
            # Already a member: the same answer as the sign-in form, never their card.
            await joining.mail_code(outcome, lang=p.lang)
            return p.render(
                "signin_code.html",
                email=outcome.joined.sent_to or "",
                error=None,
                notice=p.t("join.code_sent"),
            )
        p.set_session(token)
        return p.redirect("/card")

    @get("/terms")
    async def terms(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        return p.render("terms.html", version=TERMS_VERSION)

    @get("/join/poster.svg")
    async def poster_svg(
        self, request: Request[Any, Any, Any], store: FromQuery[str]
    ) -> Response[Any]:
        p = await page(request)
        code = _store_code(store)
        name = await _store_name(code)
        if name is None:
            return p.render("error.html", status=404, message=p.t("notfound"))
        url = _join_url(code)
        svg = p.text("poster.svg", qr=qr_svg(url), url=url, store_name=name)
        return Response(svg, media_type="image/svg+xml")

    @get("/join/poster.png")
    async def poster_png(
        self, request: Request[Any, Any, Any], store: FromQuery[str]
    ) -> Response[Any]:
        from passes import qr

        p = await page(request)
        code = _store_code(store)
        if await _store_name(code) is None:
            return p.render("error.html", status=404, message=p.t("notfound"))
        return Response(qr.qr_png(_join_url(code), scale=16), media_type="image/png")

    # ---- card -------------------------------------------------------------------------

    @get("/card")
    async def card(
        self,
        request: Request[Any, Any, Any],
        n: FromQuery[str | None] = None,
        msg: FromQuery[str | None] = None,
        add: FromQuery[str | None] = None,
    ) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        if add in ("apple", "google"):
            # The welcome email's wallet buttons: a signed pass link lasts an hour, an
            # email much longer, so the email links here and a fresh link is made now.
            cards = await members.cards_of_account(p.session.account_id)
            found = views.links(views.main_card(cards).number)
            target = found.apple_pass if add == "apple" else found.google_save
            if target:
                return p.redirect(target)
        return await _card_page(p, selected=n, notice=_notice(p, msg))

    @post("/card/family")
    async def add_family(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        name = form.get("holder_name", "").strip()[:200]
        async with db.write_transaction():
            card = await members.add_card(
                p.session.account_id,
                AddCardIn(kind="virtual", role="family", holder_name=name),
                actor=f"shopper:{p.session.member_id}",
                now=clock.now(),
            )
        return p.redirect(f"/card?n={card.number}&msg=family")

    @post("/card/activate")
    async def activate(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        try:
            card = await plastic.activate(
                account_id=p.session.account_id,
                number=form.get("number", ""),
                code=form.get("code", ""),
                actor=f"shopper:{p.session.member_id}",
                now=clock.now(),
            )
        except WrongCode:
            return await _card_page(p, error=p.t("card.wrong_code"), status=422, form=form)
        except CardAlreadyActivated:
            return await _card_page(p, error=p.t("card.already"), status=409, form=form)
        except TooManyAttempts:
            return await _card_page(p, error=p.t("card.too_many"), status=429, form=form)
        return p.redirect(f"/card?n={card.number}&msg=activated")

    @post("/card/consents")
    async def consents(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Marketing email and messages on the card, on or off: the way back the
        unsubscribe page promises. An unticked box is not sent, so absent means off."""
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        wanted: dict[str, bool | None] = {
            channel: form.get(f"marketing_{channel}") == "1" for channel in ("email", "push", "sms")
        }
        async with db.write_transaction():
            await members.set_marketing_consents(
                p.session.member_id, wanted, now=clock.now(), source="card_page"
            )
        return p.redirect("/card?msg=consents#settings")

    @post("/card/language")
    async def email_language(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        language = form.get("language", "")
        if language not in LANGUAGES:
            return await _card_page(
                p, error=p.t("settings.bad_language"), status=422, error_box="settings"
            )
        async with db.write_transaction():
            await members.set_language(p.session.member_id, language)
        return p.redirect("/card?msg=language")

    # ---- history, cashback ------------------------------------------------------------

    @get("/history")
    async def history(
        self,
        request: Request[Any, Any, Any],
        before: QueryJournalId = None,
        before_imported: QueryJournalId = None,
    ) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        found = await views.history(
            p.session.account_id,
            limit=HISTORY_PAGE,
            before=before,
            before_imported=before_imported,
        )
        return p.render(
            "history.html",
            items=found.items,
            next_before=found.next_before,
            next_before_imported=found.next_before_imported,
            no_points_reason=lambda reason: i18n.no_points_reason(p.lang, reason),
        )

    @get("/cashback")
    async def cashback_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        view = await cashback.view(
            account_id=p.session.account_id, member_id=p.session.member_id, now=clock.now()
        )
        return p.render("cashback.html", view=view, error=None)

    @post("/cashback/opt-in")
    async def cashback_opt_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        try:
            await cashback.opt_in(
                account_id=p.session.account_id,
                member_id=p.session.member_id,
                offer_id=parse_id(form.get("offer_id"), "offer_id") or 0,
                now=clock.now(),
            )
        except DomainError as exc:
            view = await cashback.view(
                account_id=p.session.account_id, member_id=p.session.member_id, now=clock.now()
            )
            return p.render("cashback.html", status=exc.status_code, view=view, error=exc.message)
        return p.redirect("/cashback")

    # ---- sign-in ----------------------------------------------------------------------

    @get("/signin")
    async def signin_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        return p.render("signin.html", email="", error=None)

    @post("/signin")
    async def signin_send(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        form = await p.form()
        if form is None:
            return p.refused()
        # One field: an email or a phone number, typed any way.
        typed = form.get("email", "")[:254]
        address = pages.address_of(typed)
        if address is None:
            return p.render("signin.html", status=422, email=typed, error=p.t("signin.lead"))
        now = clock.now()
        code = None
        try:
            async with db.write_transaction():
                if pages.is_phone(address):
                    # The SMS is queued with the code and leaves after commit.
                    await pages.request_phone_code(
                        phone=address, ip=client_ip(request), now=now, lang=p.lang
                    )
                else:
                    code = await pages.request_code(email=address, ip=client_ip(request), now=now)
        except TooManyAttempts as exc:
            refused = p.render("signin.html", status=429, email=typed, error=p.t("signin.too_many"))
            refused.headers["Retry-After"] = str(retry_after(exc) or 60)
            return refused
        if code is not None:
            from wallet.mail import service as mail

            try:
                await mail.send_now(
                    to=address, template="signin_code", lang=p.lang, context={"code": code}
                )
            except Exception as exc:
                # The shopper sees the same page and can ask again; the operator sees why
                # (not to whom: logs carry no personal data).
                log.error("could not send a sign-in code: %s", mail.failure(exc))
        return p.render("signin_code.html", email=address, error=None, notice=p.t("signin.sent"))

    @post("/signin/code")
    async def signin_code(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        form = await p.form()
        if form is None:
            return p.refused()
        email = pages.address_of(form.get("email", "")[:254]) or ""
        try:
            _session, token = await pages.verify_code(
                email=email, code=form.get("code", ""), now=clock.now()
            )
        except pages.CodeRefused as exc:
            message = p.t("signin.wrong", left=exc.left) if exc.left > 0 else p.t("signin.locked")
            return p.render("signin_code.html", status=422, email=email, error=message, notice=None)
        p.set_session(token)
        return p.redirect("/card")

    @post("/signout")
    async def signout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        form = await p.form()
        if form is None:
            return p.refused()
        if p.session_token:
            async with db.write_transaction():
                await pages.close_session(p.session_token, now=clock.now())
        p.clear_session()
        return p.redirect("/signin")


def _join_url(code: str | None) -> str:
    return f"{settings_module.get().base_url}/join?store={code}"


def _notice(p: Page, msg: str | None) -> str | None:
    return {
        "family": p.t("card.family_added"),
        "activated": p.t("card.activated_short"),
        "language": p.t("settings.saved"),
        "consents": p.t("settings.saved"),
    }.get(msg or "")


def _percent(bp: int, lang: str) -> str:
    """3% / 2,5% ("" for none): a tier's benefit as the card page shows it."""
    if not bp:
        return ""
    text = f"{bp / 100:g}%"
    return text.replace(".", ",") if lang == "ru" else text


async def _card_page(
    p: Page,
    *,
    selected: str | None = None,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    error_box: str = "activate",
) -> Response[Any]:
    assert p.session is not None
    now = clock.now()
    account_id = p.session.account_id
    # Independent reads side by side: on SQLite each is its own connection, so the page
    # waits for the slowest read instead of their sum.
    figures, cards, member = await asyncio.gather(
        accounts.read_one(account_id, now=now, languages=False),
        members.cards_of_account(account_id),
        members.member(p.session.member_id),
    )
    offers_now = await promotions.for_shopper(account_id, tier=figures.tier, now=now)
    # The code a till that found the shopper by phone asked for, while it is good.
    spend_code = await spend_codes.current(account_id, now=now)
    active = [card for card in cards if card.status == "active"]
    # Only a card of this account can be shown, whatever number the link carries.
    shown = next((card for card in active if card.number == selected), None) or next(
        (card for card in active if card.role == "main"), active[0] if active else cards[0]
    )
    reply = p.render(
        "card.html",
        status=status,
        name=next((c.holder_name for c in cards if c.role == "main"), ""),
        card=shown,
        qr=card_barcode(shown.number),
        links=views.links(shown.number),
        summary=figures,
        tier=figures.tier,
        progress=figures.progress(p.lang),
        tier_discount=_percent(figures.standing.tier.discount_bp, p.lang),
        tier_share=_percent(figures.standing.tier.redeem_share_bp or 0, p.lang),
        referral=figures.referral(),
        promotions=offers_now,
        spend_code=spend_code,
        cards=cards,
        notice=notice,
        error=error,
        error_box=error_box,
        form=form or {},
        email_language=member["language"],
        languages=LANGUAGES,
        marketing_email=bool(member["marketing_email"]),
        marketing_push=bool(member["marketing_push"]),
        marketing_sms=bool(member["marketing_sms"]),
    )
    # The card page registers its offline worker (wallet/pages/pwa.py).
    reply.headers["Content-Security-Policy"] = pwa.CARD_CSP
    return reply
