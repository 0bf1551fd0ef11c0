"""The email template is picked from a list with a preview: the campaign form shows every
template around the text typed so far, before it is picked or saved; on both databases."""

from __future__ import annotations

import html
import re

from tests.campaigns.test_console_sending import signed_in
from tests.support.shop import Shop


def samples(page: str) -> dict[str, str]:
    """Each template's preview on the page: code -> the email's HTML in its frame."""
    found = re.findall(
        r'<figure data-template="([a-z_]+)"><figcaption><b>([^<]+)</b>[^<]*</figcaption>\s*'
        r'<iframe sandbox="" srcdoc="([^"]*)"',
        page,
    )
    return {code: html.unescape(doc) for code, _title, doc in found}


async def test_every_template_is_shown_around_the_typed_text_before_it_is_picked(client):
    await Shop.open(client)
    csrf = await signed_in(client)
    fresh = samples((await client.get("/console/campaigns/new")).text)
    assert set(fresh) == {"campaign_default", "campaign_welcome", "campaign_birthday"}
    assert all("Здесь будет текст письма." in doc for doc in fresh.values())
    assert "днём рождения!" in fresh["campaign_birthday"]
    assert fresh["campaign_birthday"] != fresh["campaign_default"]

    # A form that failed (no channel) shows the templates around what was typed.
    refused = await client.post(
        "/console/campaigns",
        data={"csrf": csrf, "name": "Весна", "subject": "Весна", "body": "Скидки до 30% на всё"},
    )
    assert refused.status_code == 422
    typed = samples(refused.text)
    assert len(typed) == 3
    assert all("Скидки до 30% на всё" in doc for doc in typed.values())
    # A text that does not render yet still shows the templates, with the stand-in.
    broken = await client.post(
        "/console/campaigns",
        data={"csrf": csrf, "name": "Весна", "channel_email": "1", "body": "Скидки {{ balance"},
    )
    assert broken.status_code == 422
    assert all("Здесь будет текст письма." in doc for doc in samples(broken.text).values())
