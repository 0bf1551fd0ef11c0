"""The web till's words, Russian first and English second (chosen by Accept-Language like
the shopper pages). The page hands the chosen language's table to its script, so the
script shows no word of its own."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ru", "en"]

# key: (Russian, English)
CATALOGUE: dict[str, tuple[str, str]] = {
    "title": ("Касса", "Till"),
    "login.title": ("Вход в кассу", "Sign in to the till"),
    "login.key": ("Ключ кассы", "Till key"),
    "login.hint": (
        "Ключ кассы (роль pos) выдаёт администратор. На планшете он не сохраняется.",
        "An administrator gives the till key (role pos). It is not kept on the tablet.",
    ),
    "login.submit": ("Войти", "Sign in"),
    "login.wrong": ("Ключ не подошёл", "The key did not work"),
    "login.not_till": ("Нужен ключ кассы (роль pos)", "A till key (role pos) is needed"),
    "login.no_store": (
        "Ключ не привязан к магазину: создайте его с --store",
        "The key is not bound to a store: create it with --store",
    ),
    "login.stale": (
        "Форма устарела. Обновите страницу и попробуйте снова.",
        "The form has expired. Reload the page and try again.",
    ),
    "logout": ("Выйти", "Sign out"),
    "store": ("Магазин", "Store"),
    "who.title": ("Покупатель", "Shopper"),
    "who.label": ("Телефон или номер карты", "Phone or card number"),
    "who.find": ("Найти", "Find"),
    "who.scan": ("Сканировать карту", "Scan the card"),
    "who.stop": ("Закрыть камеру", "Close the camera"),
    "who.no_camera": (
        "Камера недоступна: введите телефон или номер карты",
        "No camera: type the phone or the card number",
    ),
    "who.other": ("Другой покупатель", "Another shopper"),
    "who.by_phone": ("найден по телефону", "found by phone"),
    "who.anonymous": ("Карта без владельца", "Card without a holder"),
    "tier": ("Уровень", "Tier"),
    "balance": ("Баланс", "Balance"),
    "spendable": ("Можно списать сейчас", "Spendable now"),
    "pending": ("Ожидают начисления", "Pending"),
    "card.inactive": ("Карта не активна", "The card is not active"),
    "sale.title": ("Чек", "Receipt"),
    "sale.total": ("Сумма чека, ₽", "Receipt total, ₽"),
    "sale.lines": ("Строки чека", "Receipt lines"),
    "sale.mode_total": ("Одной суммой", "One total"),
    "sale.mode_lines": ("По строкам", "Line by line"),
    "sale.category": ("Категория", "Category"),
    "sale.amount": ("Сумма, ₽", "Amount, ₽"),
    "sale.sku": ("Артикул", "SKU"),
    "sale.add_line": ("Добавить строку", "Add a line"),
    "sale.remove_line": ("Убрать", "Remove"),
    "sale.coupon": ("Промокод", "Promo code"),
    "sale.redeem": ("Списать баллов", "Points to spend"),
    "sale.redeem_max": ("Списать максимум", "Spend the most"),
    "sale.quote": ("Рассчитать", "Calculate"),
    "sale.bad_amount": (
        "Сумма — число рублей, например 1250 или 1250,50",
        "An amount is roubles, e.g. 1250 or 1250.50",
    ),
    "sale.need_category": ("Укажите категорию каждой строки", "Give each line a category"),
    "quote.title": ("Расчёт", "Quote"),
    "quote.total": ("Сумма чека", "Receipt total"),
    "quote.discount": ("Скидка", "Discount"),
    "quote.redeemed": ("Оплачено баллами", "Paid with points"),
    "quote.paid": ("К оплате деньгами", "To pay in money"),
    "quote.earned": ("Будет начислено баллов", "Points to earn"),
    "quote.max": ("Можно списать не более", "At most spendable"),
    "quote.applied": ("Акции", "Promotions"),
    "quote.not_applied": ("Не сработали", "Did not apply"),
    "quote.line": ("Строка", "Line"),
    "quote.points": ("балл.", "pts"),
    "quote.confirm": ("Провести чек", "Post the receipt"),
    "quote.changed": (
        "Чек изменился — рассчитайте заново",
        "The receipt changed: calculate again",
    ),
    "code.title": ("Код подтверждения", "Confirmation code"),
    "code.required": (
        "Покупатель найден по телефону: для списания баллов нужен код из SMS",
        "The shopper was found by phone: spending points needs the code from the SMS",
    ),
    "code.wrong": ("Код неверный", "The code is wrong"),
    "code.label": ("Код из SMS", "Code from the SMS"),
    "code.submit": ("Подтвердить", "Confirm"),
    "code.resend": ("Отправить код ещё раз", "Send the code again"),
    "code.sent": ("Код отправлен", "The code was sent"),
    "done.title": ("Чек проведён", "Receipt posted"),
    "done.receipt": ("Номер чека", "Receipt number"),
    "done.when": ("Дата и время", "Date and time"),
    "done.earned": ("Начислено баллов", "Points earned"),
    "done.balance": ("Баланс после покупки", "Balance after"),
    "done.earned_from": ("Баллы станут доступны", "Points spendable from"),
    "done.print": ("Печать", "Print"),
    "done.next": ("Следующий покупатель", "Next shopper"),
    "return.title": ("Возврат", "Return"),
    "return.id": ("Номер чека", "Receipt number"),
    "return.submit": ("Вернуть весь чек", "Return the whole receipt"),
    "return.done": ("Возврат проведён", "Return posted"),
    "return.refund_money": ("Вернуть деньгами", "Refund in money"),
    "return.refunded_points": ("Возвращено баллов", "Points given back"),
    "return.reversed_points": ("Списано начисленных", "Earned points taken back"),
    "error.network": (
        "Нет связи с сервером. Повторите — чек не проведётся дважды.",
        "The server did not answer. Try again: the receipt will not post twice.",
    ),
    "error.session": (
        "Сеанс кассы закончился: войдите снова",
        "The till session ended: sign in again",
    ),
    "error.not_found": ("Покупатель не найден", "No such shopper"),
    "error.too_many": (
        "Слишком много поисков по телефону; попробуйте позже",
        "Too many phone lookups; try again later",
    ),
}


def table(lang: Lang) -> dict[str, str]:
    """Every word of the till in ``lang``."""
    return {key: pair[0] if lang == "ru" else pair[1] for key, pair in CATALOGUE.items()}
