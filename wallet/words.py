"""Numbers, money, months and dates as a reader writes them, in Russian and English.

Every page, email and pass text with a number goes through here, so "22 балла", "3 431,10 ₽"
and «за ноябрь 2026» are spelt one way everywhere. A kernel module: it imports no domain
(passes/ may use it too, it knows nothing of the service).

Russian plurals follow the CLDR rule for ``ru`` (integers only, which is all we count),
written by hand rather than pulling Babel in for four lines:
``one``: n % 10 = 1 and n % 100 != 11 (1, 21, 101); ``few``: n % 10 in 2..4 and n % 100
not in 12..14 (2, 22, 104); ``many``: the rest (0, 5, 11, 12, 111).
https://www.unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html#ru
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime as DateTime
from typing import Literal

Lang = Literal["ru", "en"]

# U+00A0 groups thousands in Russian (CLDR's ``ru`` group sign) and keeps "6 100 ₽" on one line.
NBSP = "\u00a0"

MONTHS_RU_OF = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
).split()
"""Genitive, after a day: «31 января»."""
MONTHS_RU = (
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь"
).split()
"""Nominative, a month on its own: «за ноябрь 2026»."""
MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()

# The nouns the product counts, (one, few, many) in Russian and (one, other) in English.
NOUNS: dict[str, tuple[tuple[str, str, str], tuple[str, str]]] = {
    "points": (("балл", "балла", "баллов"), ("point", "points")),
    "days": (("день", "дня", "дней"), ("day", "days")),
    "shoppers": (("покупатель", "покупателя", "покупателей"), ("shopper", "shoppers")),
    "receipts": (("чек", "чека", "чеков"), ("receipt", "receipts")),
    "months": (("месяц", "месяца", "месяцев"), ("month", "months")),
    "lines": (("строка", "строки", "строк"), ("line", "lines")),
}


def plural_form(n: int) -> Literal["one", "few", "many"]:
    """The CLDR plural category of integer ``n`` in Russian."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def plural(n: int, one: str, few: str, many: str) -> str:
    """The word agreeing with ``n``: plural(22, "балл", "балла", "баллов") -> "балла"."""
    form = plural_form(n)
    return one if form == "one" else few if form == "few" else many


def number(n: int, lang: Lang = "ru") -> str:
    """1234567 -> '1 234 567' (Russian, no-break spaces) or '1,234,567' (English)."""
    grouped = f"{abs(n):,}"
    if lang == "ru":
        grouped = grouped.replace(",", NBSP)
    return ("−" if n < 0 else "") + grouped


def count(n: int, noun: str, lang: Lang = "ru") -> str:
    """'22 балла', '1 балл', '111 баллов'; '1 point', '22 points'. ``noun`` is a key of
    NOUNS."""
    ru, en = NOUNS[noun]
    if lang == "en":
        word = en[0] if abs(n) == 1 else en[1]
    else:
        word = plural(n, *ru)
    return f"{number(n, lang)}{NBSP}{word}"


def points(n: int, lang: Lang = "ru") -> str:
    """'22 балла' / '22 points'."""
    return count(n, "points", lang)


def money(kopecks: int, lang: Lang = "ru") -> str:
    """Roubles as people write them: '3 431,10 ₽', '6 100 ₽' (whole roubles drop the
    kopecks); English '3,431.10 ₽', '6,100 ₽'."""
    roubles, rest = divmod(abs(kopecks), 100)
    text = number(roubles, lang)
    if rest:
        text += f"{',' if lang == 'ru' else '.'}{rest:02d}"
    return f"{'−' if kopecks < 0 else ''}{text}{NBSP}₽"


def money_both(kopecks: int) -> tuple[str, str]:
    """``money`` in Russian and in English at once, for texts that carry both (a
    promotion's reasons on every receipt): the digits are grouped once."""
    roubles, rest = divmod(-kopecks if kopecks < 0 else kopecks, 100)
    digits = str(roubles)
    if len(digits) > 3:
        head = len(digits) % 3 or 3
        groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
        ru, en = NBSP.join(groups), ",".join(groups)
    else:
        ru = en = digits
    sign = "−" if kopecks < 0 else ""
    if rest:
        cents = f"{rest:02d}"
        return f"{sign}{ru},{cents}{NBSP}₽", f"{sign}{en}.{cents}{NBSP}₽"
    return f"{sign}{ru}{NBSP}₽", f"{sign}{en}{NBSP}₽"


def month(year: int, month_: int, lang: Lang = "ru") -> str:
    """'ноябрь 2026' / 'November 2026' (write «за {month}» around it)."""
    names = MONTHS_RU if lang == "ru" else MONTHS_EN
    return f"{names[month_ - 1]} {year}"


def month_key(key: str, lang: Lang = "ru") -> str:
    """A stored month 'YYYY-MM' as a reader writes it: '2026-11' -> 'ноябрь 2026'."""
    year, _sep, number_ = key.partition("-")
    return month(int(year), int(number_), lang)


def date(day: Date, lang: Lang = "ru") -> str:
    """'31 января 2027' / '31 January 2027'."""
    if lang == "ru":
        return f"{day.day} {MONTHS_RU_OF[day.month - 1]} {day.year}"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def date_time(moment: DateTime, lang: Lang = "ru") -> str:
    """'30 ноября 2026, 18:00' / '30 November 2026, 18:00': a moment as its own clock
    shows it (convert it to the program's zone first)."""
    return f"{date(moment.date(), lang)}, {moment:%H:%M}"


def lang_of(value: str | None) -> Lang:
    """A stored language code as one of ours; anything else reads as Russian."""
    return "en" if value == "en" else "ru"
