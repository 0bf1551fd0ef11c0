"""Skip and failure reasons as the console says them: every reason the sending writes
reads in Russian, with only a receiver's own reply (an SMTP server's) left as it came."""

from __future__ import annotations

import re

from wallet.campaigns import labels

LATIN = re.compile(r"[A-Za-z]")


def test_every_reason_the_sending_writes_reads_in_russian():
    written = {
        "no_consent": "не давали согласия на рассылку",
        "unsubscribed": "отписались",
        "consent_withdrawn": "отозвали согласие перед отправкой",
        "no_email": "нет адреса почты",
        "no_phone": "нет телефона",
        "no_wallet": "нет карты в Apple или Google Wallet",
        "no_member": "покупатель удалён",
        "MSISDN_NOT_REGISTERED": "нет карты в «Кошелёке»",
        "too_long: 5 parts": "текст SMS слишком длинный (5 частей)",
        "too_long: 2 parts": "текст SMS слишком длинный (2 части)",
        "gave up: crashed its worker": "не удалось отправить (отправка прервалась и не продолжена)",
        "unsendable: the text does not render: 'имя' is undefined": "сообщение не собралось",
    }
    for reason, said in written.items():
        assert labels.reason(reason) == said, reason
        assert not LATIN.search(
            said.replace("SMS", "").replace("Apple", "").replace("Google", "").replace("Wallet", "")
        )
    # A refusing server's reply is its own words, kept for whoever reads the mail log.
    assert labels.reason("refused: 550 no such user") == "отклонено получателем (550 no such user)"
