"""How the console names campaigns' states, channels and skip reasons, the program's time
zone and counts of shoppers, in Russian (the marketer's language): one place, so the
campaign page, the list and the confirmation say the same words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from wallet import words

STATUSES = {
    "draft": "черновик",
    "scheduled": "запланирована",
    "sending": "отправляется",
    "sent": "отправлена",
    "undelivered": "никому не доставлена",
    "cancelled": "отменена",
}

CHANNELS = {
    "email": "Письмо",
    "push": "Сообщение на карте в Wallet",
    "koshelek": "Пуш в «Кошелёк»",
    "sms": "SMS",
}

# Why a shopper will not get (or did not get) a message; the reasons the sending writes
# carry a detail after a colon ("refused: 550 ..."), named by the part before it.
REASONS = {
    "no_consent": "не давали согласия на рассылку",
    "unsubscribed": "отписались",
    "consent_withdrawn": "отозвали согласие перед отправкой",
    "no_email": "нет адреса почты",
    "no_phone": "нет телефона",
    "no_wallet": "нет карты в Apple или Google Wallet",
    "no_member": "покупатель удалён",
    "MSISDN_NOT_REGISTERED": "нет карты в «Кошелёке»",
    "refused": "отклонено получателем",
    "unsendable": "сообщение не собралось",
    "gave up": "не удалось отправить",
    "error": "ошибка при отправке",
    "too_long": "текст SMS слишком длинный",
}
# Details the sending writes in English after a reason, said in Russian; a detail not here
# is the receiver's own words (an SMTP server's reply) and is shown as it came.
_DETAILS = {
    "crashed its worker": "отправка прервалась и не продолжена",
}
# Reasons whose detail is a program's message, not the marketer's to read.
_NO_DETAIL = {"unsendable"}

ROLES = {"marketer": "маркетолог", "admin": "администратор"}

# Zones a Russian program runs in, said as people say them ("по московскому времени").
_ZONES = {
    "Europe/Moscow": "по московскому времени",
    "Europe/Kaliningrad": "по калининградскому времени",
    "Europe/Samara": "по самарскому времени",
    "Asia/Yekaterinburg": "по екатеринбургскому времени",
    "Asia/Omsk": "по омскому времени",
    "Asia/Novosibirsk": "по новосибирскому времени",
    "Asia/Krasnoyarsk": "по красноярскому времени",
    "Asia/Irkutsk": "по иркутскому времени",
    "Asia/Yakutsk": "по якутскому времени",
    "Asia/Vladivostok": "по владивостокскому времени",
    "Asia/Magadan": "по магаданскому времени",
    "Asia/Kamchatka": "по камчатскому времени",
}


def status(value: str) -> str:
    return STATUSES.get(value, value)


def channel(value: str) -> str:
    return CHANNELS.get(value, value)


def reason(value: str) -> str:
    """``refused: 550 no such user`` -> «отклонено получателем (550 no such user)»."""
    head, _, detail = value.partition(":")
    detail = detail.strip()
    if value in REASONS:
        return REASONS[value]
    if head not in REASONS:
        return value
    if head == "too_long" and detail.endswith(" parts"):
        parts = int(detail.split()[0]) if detail.split()[0].isdigit() else 0
        detail = f"{words.number(parts)} {words.plural(parts, 'часть', 'части', 'частей')}"
    detail = _DETAILS.get(detail, detail)
    if head in _NO_DETAIL or not detail:
        return REASONS[head]
    return f"{REASONS[head]} ({detail})"


def actor(value: str) -> str:
    """``marketer:Мария`` -> «Мария (маркетолог)»."""
    role, _, name = value.partition(":")
    if role in ROLES:
        return f"{name} ({ROLES[role]})" if name else ROLES[role]
    return value


def zone(tz: ZoneInfo, at: datetime) -> str:
    """«по московскому времени (UTC+3)»; a zone without a Russian name by its key."""
    offset = at.astimezone(tz).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    name = _ZONES.get(tz.key, f"по времени {tz.key}")
    return f"{name} ({utc})"


number = words.number  # «12 340»: the console's templates say numbers through labels


def shoppers_dative(n: int) -> str:
    """«Отправить 1 покупателю?», «… 12 340 покупателям?»"""
    return f"{words.number(n)} {words.plural(n, 'покупателю', 'покупателям', 'покупателям')}"


def shoppers(n: int) -> str:
    """«1 покупатель», «2 покупателя», «5 покупателей»"""
    return f"{words.number(n)} {words.plural(n, 'покупатель', 'покупателя', 'покупателей')}"
