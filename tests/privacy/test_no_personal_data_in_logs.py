"""Logs carry ids, never personal data or secrets: a slice of the service's flows runs with
every logger at DEBUG, then the captured records are searched for what the flows used."""

from __future__ import annotations

import dataclasses
import logging
from contextlib import ExitStack

from tests.pages.conftest import code_in, csrf_of, join, post_form
from tests.support.shop import Shop, bearer, line, make_key
from wallet import settings as settings_module
from wallet.mail import service as mail
from wallet.platform import worker

NAME = "Зинаида Кологривова"
EMAIL = "zinaida.k@example.ru"
PHONE = "+79165550142"
PAGE_EMAIL = "page.shopper@example.ru"
PAGE_NAME = "Евлампия Страница"


async def test_a_slice_of_every_flow_logs_no_personal_data_or_secret(client, smtp_sink, caplog):
    with ExitStack() as stack:
        # As WALLET_LOG_LEVEL=DEBUG sets them (wallet.app.logging_config): our loggers and
        # Litestar's at DEBUG, the rest at INFO (the drivers log every query's values at
        # DEBUG; that is why they stay at INFO).
        stack.enter_context(caplog.at_level(logging.INFO))
        for name in ("wallet", "litestar"):
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        secrets = await _run_flows(client, smtp_sink)

    # The test's own HTTP client logs the URLs it calls (card numbers in paths): those
    # lines are the test's, not the service's.
    lines = [
        f"{record.name}: {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name != "mail.log"  # the test's SMTP server (aiosmtpd)
        and not (record.name == "httpx" and "http://testserver.local" in record.getMessage())
    ]
    text = "\n".join(lines)
    # The capture works: the operator heard of the failed send.
    assert any("could not send a sign-in code" in line for line in lines), lines
    found = {label: value for label, value in secrets.items() if value in text}
    assert not found, f"logs carry {sorted(found)}:\n" + "\n".join(
        line for line in lines if any(value in line for value in found.values())
    )


async def _run_flows(client, smtp_sink) -> dict[str, str]:
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    # Enrolment over the API, with every contact.
    enrolled = await client.post(
        "/api/v1/cards",
        json={
            "name": NAME,
            "email": EMAIL,
            "phone": PHONE,
            "consents": {
                "program": True,
                "personal_data": True,
                "terms_version": "2026-01",
                "marketing_email": True,
            },
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    card = enrolled.json()["card_number"]
    token = enrolled.json()["shopper_token"]
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    # The till: identify, receipt, return.
    assert (await client.get(f"/api/v1/pos/cards/{card}", headers=bearer(shop.pos_key))).is_success
    await shop.receipt(card, "R-PII-1", [line(150_000)])
    # A campaign email.
    created = await client.post(
        "/api/v1/admin/campaigns",
        json={"name": "Весна", "subject": "{{ name }}, весна", "body": "Приходите."},
        headers=bearer(marketer),
    )
    assert created.status_code == 201, created.text
    sent = await client.post(
        f"/api/v1/admin/campaigns/{created.json()['id']}/send", headers=bearer(marketer)
    )
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()
    assert smtp_sink.to(EMAIL)
    # Joining on the pages, then signing in with an emailed code.
    assert (await join(client, name=PAGE_NAME, email=PAGE_EMAIL)).status_code == 303
    client.cookies.clear()
    asked = await post_form(client, "/signin", "/signin", {"email": PAGE_EMAIL})
    assert asked.status_code == 200
    code = code_in(smtp_sink.to(PAGE_EMAIL)[-1])
    signed_in = await client.post(
        "/signin/code", data={"csrf": csrf_of(asked.text), "email": PAGE_EMAIL, "code": code}
    )
    assert signed_in.status_code == 303
    session = client.cookies.get("wsession") or ""
    # A sign-in code the mail server cannot take (down): the operator is told, not whom.
    client.cookies.clear()
    await mail.pool().close()
    settings_module.override(dataclasses.replace(settings_module.get(), smtp_port=1))
    down = await post_form(client, "/signin", "/signin", {"email": EMAIL})
    assert down.status_code == 200
    # Staff keys: listed, a wrong one tried, one revoked.
    listed = await client.get("/api/v1/admin/keys", headers=bearer(shop.admin_key))
    assert listed.status_code == 200
    assert (await client.get("/api/v1/me", headers=bearer(shop.pos_key + "x"))).status_code == 401
    return {
        "name": NAME,
        "page name": PAGE_NAME,
        "email": EMAIL,
        "page email": PAGE_EMAIL,
        "phone": PHONE,
        "phone digits": PHONE.removeprefix("+7"),
        "card number": card,
        "shopper token": token,
        "sign-in code": code,
        "page session": session,
        "till key": shop.pos_key,
        "admin key": shop.admin_key,
        "support key": shop.support_key,
        "marketer key": marketer,
    }
