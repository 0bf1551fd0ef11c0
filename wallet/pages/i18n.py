"""The pages' words in Russian (the default) and English, chosen by Accept-Language."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from wallet import settings, words

Lang = Literal["ru", "en"]

# key: (Russian, English). Placeholders are str.format fields.
CATALOGUE: dict[str, tuple[str, str]] = {
    "program": ("Программа лояльности", "Loyalty program"),
    "nav.card": ("Карта", "Card"),
    "nav.history": ("История", "History"),
    "nav.cashback": ("Кешбэк", "Cashback"),
    "nav.signout": ("Выйти", "Sign out"),
    "nav.signin": ("Войти", "Sign in"),
    "join.title": ("Получить карту", "Get your card"),
    "join.lead": (
        "Виртуальная карта за одну минуту: баллы с каждой покупки.",
        "A virtual card in a minute: points on every purchase.",
    ),
    "join.store": ("Вы в магазине: {store}", "You are at: {store}"),
    "join.name": ("Имя", "Name"),
    "join.email": ("Электронная почта", "Email"),
    "join.phone": ("Телефон", "Phone"),
    "join.contact_hint": ("Укажите почту или телефон", "Give an email or a phone number"),
    "join.birthday": ("День рождения (необязательно)", "Birthday (optional)"),
    "join.consent_program": (
        "Я принимаю правила программы",
        "I accept the program rules",
    ),
    "join.consent_data": (
        "Я согласен(на) на обработку персональных данных",
        "I consent to the processing of my personal data",
    ),
    "join.terms": ("Правила и политика", "Rules and privacy policy"),
    "join.marketing_email": ("Присылать предложения на почту", "Send me offers by email"),
    "join.marketing_push": ("Присылать уведомления в карту", "Send me notifications on the card"),
    "card.spend_code": ("Код для списания баллов на кассе", "Code to spend points at the till"),
    "join.marketing_sms": ("Присылать предложения в SMS", "Send me offers by SMS"),
    "join.submit": ("Получить карту", "Get my card"),
    "join.have_card": ("Уже есть карта?", "Already a member?"),
    "join.no_wallet": (
        "Нет Apple Wallet или Google Wallet? Не нужно: откройте карту в браузере и добавьте "
        "её на экран «Домой» — она покажет QR-код на кассе даже без интернета.",
        "No Apple Wallet or Google Wallet? No need: open the card in your browser and add "
        "it to your home screen — it shows the QR code at the till even offline.",
    ),
    "join.need_consent": (
        "Чтобы получить карту, примите правила и согласие на обработку данных.",
        "To get a card, accept the rules and the data processing consent.",
    ),
    "join.code_sent": (
        "Эта почта или телефон уже в программе: мы отправили код для входа на почту "
        "участника. Он действует 10 минут.",
        "This email or phone is already a member: we sent a sign-in code to the member's "
        "email. It is valid for 10 minutes.",
    ),
    "terms.title": ("Правила программы", "Program rules"),
    "card.title": ("Моя карта", "My card"),
    "card.show_qr": ("Покажите код на кассе", "Show this code at the till"),
    "card.balance": ("Баллы", "Points"),
    "card.pending": ("Ожидают начисления", "Pending"),
    "card.pending_until": ("{points} — с {date}", "{points} from {date}"),
    "card.burns": ("Сгорят {date}: {points}", "{points} expire on {date}"),
    "card.no_burn": ("Ничего не сгорает", "Nothing expires soon"),
    "card.tier": ("Уровень", "Tier"),
    "card.tier_discount": ("Скидка уровня на покупки", "Your tier's discount"),
    "card.tier_share": ("Баллами можно оплатить", "Points may pay up to"),
    "card.tier_share_value": ("до {share} чека", "{share} of a receipt"),
    "card.promotions": ("Акции для вас", "Promotions for you"),
    "card.promotion_until": ("до {date}", "until {date}"),
    "card.coupon": ("Ваш промокод", "Your promo code"),
    "card.referral": (
        "Пригласите друга: после его первой покупки баллы получите вы оба",
        "Invite a friend: after their first purchase you both get points",
    ),
    "card.debt": ("Долг после возврата: {points}", "Owed after a return: {points}"),
    "card.add_apple": ("Добавить в Apple Wallet", "Add to Apple Wallet"),
    "card.add_google": ("Сохранить в Google Wallet", "Save to Google Wallet"),
    "card.other_cards": ("Карты на счёте", "Cards on the account"),
    "card.kind.virtual": ("виртуальная", "virtual"),
    "card.kind.plastic": ("пластиковая", "plastic"),
    "card.role.main": ("основная", "main"),
    "card.role.family": ("семейная", "family"),
    "card.role.twin": ("двойник", "twin"),
    "card.status.blocked": ("заблокирована", "blocked"),
    "card.status.replaced": ("заменена", "replaced"),
    "card.add_family": ("Добавить семейную карту", "Add a family card"),
    "card.family_name": ("Имя владельца", "Holder's name"),
    "card.family_added": ("Семейная карта добавлена", "Family card added"),
    "card.activate": ("Активировать пластиковую карту", "Activate a plastic card"),
    "card.activate_number": ("Номер карты", "Card number"),
    "card.activate_code": ("Код под защитным слоем", "Code under the scratch layer"),
    "card.activate_submit": ("Активировать", "Activate"),
    "card.activated": (
        "Карта {number} добавлена, баллы перенесены: {points}",
        "Card {number} added, points moved: {points}",
    ),
    "card.activated_short": (
        "Карта активирована, баллы перенесены",
        "Card activated, points moved",
    ),
    "join.check": ("Проверьте поля: {problem}", "Check the fields: {problem}"),
    "card.wrong_code": ("Неверный номер карты или код", "Wrong card number or code"),
    "card.already": ("Эта карта уже активирована", "This card is already activated"),
    "card.too_many": (
        "Слишком много неверных попыток. Попробуйте позже.",
        "Too many wrong tries. Try again later.",
    ),
    "settings.title": ("Настройки", "Settings"),
    "settings.email_language": ("Язык писем", "Language of emails"),
    "settings.save": ("Сохранить", "Save"),
    "settings.marketing": ("Предложения и новости", "Offers and news"),
    "settings.saved": ("Настройки сохранены", "Settings saved"),
    "settings.bad_language": (
        "Выберите русский или английский язык",
        "Choose Russian or English",
    ),
    "language.ru": ("Русский", "Русский (Russian)"),
    "language.en": ("English (английский)", "English"),
    "history.title": ("История", "History"),
    "history.empty": ("Пока ничего нет", "Nothing yet"),
    "history.more": ("Ранее", "Older"),
    "history.receipt": ("Чек {id}", "Receipt {id}"),
    "kind.earn": ("Начислено", "Earned"),
    "kind.redeem": ("Списано", "Spent"),
    "kind.return": ("Возврат", "Return"),
    "kind.refund": ("Возвращено", "Refunded"),
    "kind.expire": ("Сгорело", "Expired"),
    "kind.adjust": ("Корректировка", "Adjustment"),
    "kind.debt": ("Долг", "Owed"),
    "kind.repay": ("Погашение долга", "Debt repaid"),
    "kind.transfer": ("Перенос с карты", "Moved from a card"),
    "kind.cashback": ("Кешбэк", "Cashback"),
    "kind.bonus": ("Бонус", "Bonus"),
    "kind.no_points": ("Покупка без баллов", "Purchase, no points"),
    "kind.imported": ("Покупка", "Purchase"),
    "history.imported": ("из прежней программы", "in the previous program"),
    "history.no_points.categories": (
        "Баллы не начисляются на {categories}",
        "No points are earned on {categories}",
    ),
    "history.no_points.too_small": (
        "Сумма слишком мала: баллы округлились до нуля",
        "Too small an amount: the points rounded to zero",
    ),
    "cashback.title": ("Кешбэк", "Cashback"),
    "cashback.none": (
        "Сейчас предложений нет. Загляните позже!",
        "No offer right now. Check back later!",
    ),
    "cashback.want": ("Хочу кешбэк", "I want cashback"),
    "cashback.goal": ("Ваша цель на месяц", "Your goal this month"),
    "cashback.spent": ("Потрачено", "Spent"),
    "cashback.remaining": ("Осталось", "To go"),
    "cashback.days_left": ("Дней до конца месяца", "Days left"),
    "cashback.reward": ("Кешбэк сейчас", "Reward so far"),
    "cashback.cap": ("Максимум", "Cap"),
    "cashback.reached": ("Цель достигнута!", "Goal reached!"),
    "cashback.last_month": ("Прошлый месяц", "Last month"),
    "cashback.opted_in": ("Вы участвуете", "You are in"),
    "cashback.how_set": ("Как мы посчитали цель", "How your goal was set"),
    "signin.title": ("Вход", "Sign in"),
    "signin.lead": (
        "Мы пришлём шестизначный код на вашу почту или по SMS на ваш телефон.",
        "We will send you a six-digit code by email, or by SMS to your phone.",
    ),
    "signin.send": ("Прислать код", "Send code"),
    "signin.sent": (
        "Если эта почта или телефон есть в программе, код уже в пути. Он действует 10 минут.",
        "If this email or phone belongs to a member, the code is on its way. "
        "It is valid for 10 minutes.",
    ),
    "signin.code": ("Код из письма или SMS", "Code from the email or SMS"),
    "signin.address": ("Почта или телефон", "Email or phone"),
    "signin.submit": ("Войти", "Sign in"),
    "signin.wrong": ("Неверный код. Осталось попыток: {left}", "Wrong code. Tries left: {left}"),
    "signin.locked": (
        "Код заблокирован или истёк. Запросите новый.",
        "The code is locked or expired. Ask for a new one.",
    ),
    "signin.too_many": (
        "Слишком много запросов. Попробуйте через несколько минут.",
        "Too many requests. Try again in a few minutes.",
    ),
    "signin.again": ("Прислать новый код", "Send a new code"),
    "csrf.refused": (
        "Форма устарела. Обновите страницу и попробуйте снова.",
        "The form has expired. Reload the page and try again.",
    ),
    "notfound": ("Страница не найдена", "Page not found"),
    "poster.title": ("Карта лояльности за минуту", "A loyalty card in a minute"),
    "poster.scan": ("Наведите камеру на код", "Point your camera at the code"),
}


# Categories tills send that earn nothing, as a shopper names them.
CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "alcohol": ("алкоголь", "alcohol"),
    "tobacco": ("табак", "tobacco"),
    "lottery": ("лотерейные билеты", "lottery tickets"),
    "gift_cards": ("подарочные карты", "gift cards"),
}


def no_points_reason(lang: Lang, reason: str) -> str:
    """Why a receipt earned nothing, from ``HistoryItem.reason`` of a ``no_points`` item."""
    kind, _sep, rest = reason.partition(":")
    if kind == "categories" and rest:
        index = 0 if lang == "ru" else 1
        names = [CATEGORY_NAMES.get(c, (c, c))[index] for c in rest.split(",")]
        return translate(lang, "history.no_points.categories", categories=", ".join(names))
    return translate(lang, "history.no_points.too_small")


def choose(accept_language: str | None) -> Lang:
    """English only if the browser ranks it above Russian; Russian otherwise."""
    best: tuple[float, Lang] = (0.0, "ru")
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("ru", "en"):
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        score = quality - position * 1e-6  # earlier wins a tie
        if score > best[0]:
            best = (score, "ru" if primary == "ru" else "en")
    return best[1]


def translate(lang: Lang, key: str, **values: object) -> str:
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "ru" else pair[1]
    return text.format(**values) if values else text


def date(lang: Lang, moment: datetime) -> str:
    return words.date(moment.astimezone(settings.get().tz).date(), lang)


def burn_date(lang: Lang, moment: datetime) -> str:
    """The day points expiring at ``moment`` burn on (midnight counts as the day before),
    the date the burn reminder names."""
    return date(lang, moment - timedelta(microseconds=1))


def datetime_short(lang: Lang, moment: datetime) -> str:
    local = moment.astimezone(settings.get().tz)
    return f"{date(lang, moment)}, {local:%H:%M}"


def number(value: int) -> str:
    """Thousands apart by a no-break space (``words.number``)."""
    return words.number(value)


def money(lang: Lang, kopecks: int) -> str:
    """'3 431,10 ₽', '6 100 ₽' (``words.money``)."""
    return words.money(kopecks, lang)


def card_groups(number_: str) -> str:
    return " ".join(number_[i : i + 4] for i in range(0, len(number_), 4))
