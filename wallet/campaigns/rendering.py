"""What a campaign's message says: the marketer's texts rendered in a sandbox with each
shopper's merge fields, the email around them, and the signed one-click unsubscribe link
every marketing message carries. Pure functions of a campaign row and a recipient: the
sending slices (``sending.py``, ``sms.py``), previews and test sends build on them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Collection
from email.message import EmailMessage
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from wallet import codes, words
from wallet import settings as settings_module
from wallet.campaigns import clicks
from wallet.errors import InvalidInput
from wallet.mail import service as mail
from wallet.segments import service as segments

# ---- unsubscribe tokens -----------------------------------------------------------------


UNSUBSCRIBE = "unsubscribe"
# Links mailed before unsubscribe tokens went through ``codes.mac`` carry the first 18
# bytes of the same HMAC (24 characters of base64): those mails stay in inboxes, so that
# form is still accepted; new links carry the full MAC.
_LEGACY_SIGNATURE_LENGTH = 24


def _legacy_signature(body: str) -> str:
    digest = hmac.new(codes.secret_key(), f"{UNSUBSCRIBE}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(member_id: int, campaign_id: int) -> str:
    body = f"{member_id}.{campaign_id}"
    return f"{body}.{codes.mac(UNSUBSCRIBE, body)}"


def read_unsubscribe_token(token: str) -> tuple[int, int]:
    """(member id, campaign id) of a token we signed; InvalidInput otherwise."""
    try:
        member_part, campaign_part, signature = token.split(".")
        body = f"{int(member_part)}.{int(campaign_part)}"
    except ValueError as exc:
        raise InvalidInput("this unsubscribe link is damaged") from exc
    expected = (
        _legacy_signature(body)
        if len(signature) == _LEGACY_SIGNATURE_LENGTH
        else codes.mac(UNSUBSCRIBE, body)
    )
    if not codes.same_secret(signature, expected):
        raise InvalidInput("this unsubscribe link is damaged")
    return int(member_part), int(campaign_part)


def unsubscribe_url(member_id: int, campaign_id: int) -> str:
    base = settings_module.get().base_url
    return f"{base}/unsubscribe?token={unsubscribe_token(member_id, campaign_id)}"


# ---- rendering ------------------------------------------------------------------------------

# Marketers write subjects, bodies and push texts: a sandbox keeps their Jinja to
# variables and filters.
sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# "{{ balance|points }}" -> "22 балла": the right plural without the marketer knowing it.
sandbox.filters["points"] = lambda n, lang="ru": words.points(int(n), words.lang_of(lang))
sandbox.filters["money"] = lambda kopecks, lang="ru": words.money(int(kopecks), words.lang_of(lang))


@functools.lru_cache(maxsize=256)
def _template(source: str) -> Template:
    # Compiling costs about as much as sending a push: a campaign compiles its texts once.
    return sandbox.from_string(source)


def render_text(source: str, context: dict[str, Any]) -> str:
    try:
        return _template(source).render(context).strip()
    except Exception as exc:
        raise InvalidInput(f"the text does not render: {exc}", {"text": source[:200]}) from exc


def _burning_phrase(recipient: segments.Recipient) -> str:
    if not recipient.burning_points or recipient.burning_at is None:
        return ""
    lang = words.lang_of(language_of(recipient))
    day = words.date(recipient.burning_at.astimezone(settings_module.get().tz).date(), lang)
    n = recipient.burning_points
    if lang == "en":
        return f"{words.points(n, lang)} {'expires' if n == 1 else 'expire'} on {day}"
    return f"{words.points(n)} {words.plural(n, 'сгорит', 'сгорят', 'сгорят')} {day}"


def context_of(
    recipient: segments.Recipient | None,
    campaign_id: int,
    *,
    names: Collection[str] | None = None,
) -> dict[str, Any]:
    """The merge fields of a message to ``recipient``. ``names``, when given, are the only
    ones the text uses: the unsubscribe link (an HMAC) and the dates are made only if it
    asks for them (per recipient they were a twentieth of an SMS campaign's CPU)."""
    tz = settings_module.get().tz
    if recipient is None:
        return {
            "name": "Покупатель",
            "balance": 0,
            "burning_points": 0,
            "burning_date": "",
            "burning": "",
            "unsubscribe_url": f"{settings_module.get().base_url}/unsubscribe",
            "card_url": f"{settings_module.get().base_url}/card",
        }
    context: dict[str, Any] = {
        "name": recipient.name,
        "balance": recipient.balance,
        "burning_points": recipient.burning_points,
        "card_url": f"{settings_module.get().base_url}/card",
        # Whose clicks the email's links count (wallet/campaigns/clicks.py).
        "account_id": recipient.account_id,
    }
    if names is None or "burning_date" in names:
        # «31 января 2027», as the shopper reads a date (wallet/words.py).
        context["burning_date"] = (
            words.date(
                recipient.burning_at.astimezone(tz).date(), words.lang_of(language_of(recipient))
            )
            if recipient.burning_at
            else ""
        )
    if names is None or "burning" in names:
        # The whole phrase, empty when nothing burns: "{{ burning_points }} баллов сгорят
        # {{ burning_date }}." read "0 баллов сгорят ." to shoppers with nothing burning.
        context["burning"] = _burning_phrase(recipient)
    if names is None or "unsubscribe_url" in names:
        context["unsubscribe_url"] = unsubscribe_url(recipient.member_id, campaign_id)
    return context


def render_email(
    camp: dict[str, Any], context: dict[str, Any], *, lang: str
) -> tuple[str, str, str]:
    """The marketer's subject and body are one text, written in whatever language they
    chose; the template around them (greeting, balance, footer, unsubscribe) speaks the
    shopper's ``lang``."""
    subject = render_text(camp["subject"] or camp["name"], context)
    body = render_text(camp["body"], context)
    card_url = context.get("card_url") or f"{settings_module.get().base_url}/card"
    found = clicks.blocks(
        body,
        campaign_id=int(camp.get("id") or 0),
        account_id=int(context.get("account_id") or clicks.TEST_ACCOUNT),
        card_url=card_url,
    )
    return mail.render(
        camp["template"],
        lang=lang,
        context={
            **context,
            "subject": subject,
            "body": clicks.plain(body, card_url=card_url),
            "paragraphs": body.split("\n\n"),
            "blocks": found,
        },
    )


def language_of(recipient: segments.Recipient | None) -> str:
    return recipient.language if recipient is not None else mail.DEFAULT_LANG


def email_message(
    camp: dict[str, Any],
    context: dict[str, Any],
    *,
    to: str,
    lang: str,
    message_key: str | None,
) -> EmailMessage:
    subject, html, text = render_email(camp, context, lang=lang)
    message = mail.build_message(
        to=to,
        subject=subject,
        html=html,
        text=text,
        headers={
            # RFC 2369 and RFC 8058 one-click: mail clients show "Unsubscribe" and POST here.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if message_key is not None:
        domain = settings_module.get().mail_from.rsplit("@", 1)[-1].strip("> ")
        message.replace_header("Message-ID", f"<{message_key}@{domain}>")
    return message


def push_texts(camp: dict[str, Any], context: dict[str, Any]) -> tuple[str, str]:
    return render_text(camp["push_header"] or camp["name"], context), render_text(
        camp["push_text"], context
    )
