"""Email: Jinja templates with HTML and plain-text parts, sent over pooled SMTP connections.

Templates live in ``templates/email/``: ``<name>.<lang>.subject.txt``, ``<name>.<lang>.html``
and ``<name>.<lang>.txt``. ``lang`` is the shopper's language (``member.language``, ``ru`` or
``en``); a template without all three English parts is sent whole in Russian, the
program's first language, so one message never mixes the two. Mail that follows a database change goes through the outbox
(``queue_email``, in the caller's transaction); a sign-in code is sent at once
(``send_now``). With no ``WALLET_SMTP_HOST`` mail is written to the log instead.
"""

from __future__ import annotations

import asyncio
import base64
import email.policy
import email.utils
import functools
import logging
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
from jinja2 import TemplateNotFound

from wallet import clock, observe, runtime
from wallet import settings as settings_module
from wallet.platform import service as platform
from wallet.web import templates

log = logging.getLogger("wallet.mail")
TEMPLATES = templates.TEMPLATES / "email"

PARTS = ("subject.txt", "html", "txt")
DEFAULT_LANG = "ru"
_fallbacks_logged: set[tuple[str, str]] = set()


def _has(name: str, lang: str) -> bool:
    try:
        for part in PARTS:
            templates.env.get_template(f"email/{name}.{lang}.{part}")
    except TemplateNotFound:
        return False
    return True


def language_of(name: str, lang: str) -> str:
    """The language template ``name`` is sent in to a shopper of ``lang``: theirs when the
    template has it, Russian otherwise (the one language every template has)."""
    if lang != DEFAULT_LANG and _has(name, lang):
        return lang
    if lang != DEFAULT_LANG and (name, lang) not in _fallbacks_logged:
        _fallbacks_logged.add((name, lang))
        log.warning(
            "email template %s has no %r version (%s.%s.{subject.txt,html,txt} in %s): "
            "those shoppers get the %r one",
            name,
            lang,
            name,
            lang,
            TEMPLATES,
            DEFAULT_LANG,
        )
    if not _has(name, DEFAULT_LANG):
        raise FileNotFoundError(f"no email template {name}.{DEFAULT_LANG}.* in {TEMPLATES}")
    return DEFAULT_LANG


# Every email's HTML extends templates/email/layout.html: the program's colour (the passes'
# background, so the logo sits on the colour it was drawn for) and its logo. The logo is
# linked from our site (``LOGO_PATH``, served by wallet.pages.pwa), not attached: an inline
# CID part made each message 4x larger (18 KB) and twice as slow to build, for a picture
# every mail client with images on fetches anyway.
BRAND_COLOUR = "#1F4E3D"
LOGO_PATH = "/icons/email-logo.png"
LOGO_FILE = templates.TEMPLATES / "pass" / "logo@2x.png"


@functools.cache
def logo() -> bytes:
    return LOGO_FILE.read_bytes()


def brand() -> dict[str, str]:
    """What the layout shows of the program: its name (the display name of
    ``WALLET_MAIL_FROM``, the sender shoppers see), colour, logo and card page."""
    cfg = settings_module.get()
    name = email.utils.parseaddr(cfg.mail_from)[0] or "Программа лояльности"
    return {
        "name": name,
        "colour": BRAND_COLOUR,
        "logo": f"{cfg.base_url}{LOGO_PATH}",
        "card_url": f"{cfg.base_url}/card",
    }


def render(name: str, *, lang: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, HTML body and plain-text body of template ``name`` in ``lang`` (or in
    Russian when the template has no such version). Templates see ``lang`` and ``brand``
    besides ``context``."""
    chosen = language_of(name, lang)
    context = {**context, "lang": chosen, "brand": brand()}
    subject = templates.render(f"email/{name}.{chosen}.subject.txt", context).strip()
    html = templates.render(f"email/{name}.{chosen}.html", context)
    text = templates.render(f"email/{name}.{chosen}.txt", context)
    return subject, html, text


def viewable(html: str) -> str:
    """The HTML with its logo as a data: URL, for a browser that may not reach our site
    (the console's preview, the screenshots in tests)."""
    data = base64.b64encode(logo()).decode()
    url = f"{settings_module.get().base_url}{LOGO_PATH}"
    return html.replace(url, f"data:image/png;base64,{data}")


def set_subject(message: EmailMessage, subject: str) -> None:
    """A non-ASCII subject as RFC 2047 encoded words that each carry their own spaces.
    The modern folder (``email.policy``, CPython 3.11) puts the space at a fold between two
    encoded words outside them, where decoders drop it: «31 декабря» arrived as
    «31декабря». ``email.header.Header`` splits inside the encoded text instead; the
    result is stored raw, so the policy does not fold it again."""
    if "\r" in subject or "\n" in subject:
        # What email.policy refuses too: a line break in a header could start another one.
        raise ValueError("a subject may not contain a line break")
    del message["Subject"]
    if subject.isascii():
        message["Subject"] = subject
        return
    encoded = Header(subject, "utf-8", header_name="Subject").encode(linesep="\n")
    message.set_raw("Subject", encoded)


def build_message(
    *, to: str, subject: str, html: str, text: str, headers: dict[str, str] | None = None
) -> EmailMessage:
    cfg = settings_module.get()
    # aiosmtplib writes it with email.policy.SMTP (CRLF); the parts keep plain newlines.
    message = EmailMessage(policy=email.policy.default)
    message["From"] = cfg.mail_from
    message["To"] = to
    set_subject(message, subject)
    message["Date"] = email.utils.format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=cfg.mail_from.rsplit("@", 1)[-1].strip("> "))
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class SmtpPool:
    """A few SMTP connections kept open and reused: about 1.6x the rate of a new
    connection per message (STACK_NOTES.md). At most ``WALLET_SMTP_POOL_SIZE`` messages
    are on their way at once (a semaphore); a connection that failed is dropped and its
    slot freed, so a sender waiting for a slot never waits on a connection that will not
    come back (the earlier pool made waiters wait for an idle connection, and when every
    connection failed at once, as a busy server makes them, they waited for ever)."""

    def __init__(self) -> None:
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots = asyncio.Semaphore(max(1, settings_module.get().smtp_pool_size))
            self._idle = []
            self._loop = loop
        return self._slots

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = settings_module.get()
        client = aiosmtplib.SMTP(
            hostname=cfg.smtp_host, port=cfg.smtp_port, start_tls=cfg.smtp_starttls, timeout=30
        )
        await client.connect()
        if cfg.smtp_username:
            await client.login(cfg.smtp_username, cfg.smtp_password)
        return client

    async def send(self, message: EmailMessage) -> None:
        async with self._gate():
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                await client.send_message(message)
            except BaseException:
                if client is not None:
                    client.close()
                raise
            self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except Exception:
                client.close()


def pool() -> SmtpPool:
    """The runtime's SMTP connections to the configured server (closed with it)."""
    running = runtime.current()
    cfg = running.settings
    return running.client(("smtp", cfg.smtp_host, cfg.smtp_port, cfg.smtp_username), SmtpPool)


async def send_message(message: EmailMessage) -> None:
    if not settings_module.get().smtp_host:
        body = message.get_body(("plain",))
        log.info(
            "mail (no WALLET_SMTP_HOST, logged only) to %s: %s\n%s",
            message["To"],
            message["Subject"],
            body.get_content() if body is not None else "",
        )
        return
    try:
        with observe.timed("smtp"):
            await pool().send(message)
    except aiosmtplib.SMTPRecipientsRefused:
        observe.delivered("email", "failed", "refused")
        raise
    except (aiosmtplib.SMTPException, OSError):
        observe.delivered("email", "failed", "unreachable")
        raise
    observe.delivered("email", "sent")


def failure(exc: BaseException) -> str:
    """Why a send failed, for the log, without the address: a refused recipient's reply
    repeats it, so only its SMTP codes are kept."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = ", ".join(str(one.code) for one in exc.recipients) or "no code"
        return f"the mail server refused the recipient (SMTP {codes})"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return f"the mail server refused the recipient (SMTP {exc.code})"
    return f"{type(exc).__name__}: {exc}"


async def send_now(
    *,
    to: str,
    template: str,
    lang: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    subject, html, text = render(template, lang=lang, context=context)
    await send_message(build_message(to=to, subject=subject, html=html, text=text, headers=headers))


async def forget_address(email: str | None) -> int:
    """Erasure: mail to ``email`` still waiting in the outbox never goes (a burn reminder,
    a cashback outcome), and the outbox forgets the address in mail already sent or dead."""
    if not email:
        return 0
    return await platform.forget_jobs_naming("email", "to", email)


async def queue_email(
    *,
    to: str,
    template: str,
    lang: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Send after the caller's transaction commits (through the outbox); rendering happens
    at send time, so a template fix reaches mail still waiting."""
    render(template, lang=lang, context=context)  # fail now, in the request, on a bad template
    await platform.enqueue(
        kind="email",
        payload={
            "to": to,
            "template": template,
            "lang": lang,
            "context": context,
            "headers": headers or {},
        },
        dedupe_key=dedupe_key,
    )
