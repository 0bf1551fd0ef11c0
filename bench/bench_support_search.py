"""Support's member search (phone in any format, email, card number, part of a name) on
PostgreSQL at a million members, through the service support calls (the search and its
access-trail row), with the name query's EXPLAIN ANALYZE.

    PYTHONPATH=. .venv/bin/python bench/bench_support_search.py [--members 1000000] [--keep]

Makes a scratch database ``wallet_bench_rights_xxxxxx`` next to ``WALLET_TEST_POSTGRES_URL``,
migrates it with ``wallet migrate`` and seeds it set-based: N accounts, each with a member
(a Russian first name, patronymic and surname drawn from lists, so a name fragment matches
from a handful to a third of the members; a phone +7 9xx and an email) and a card. Then
VACUUM ANALYZE, and each query is timed 20 times warm (median and worst printed).

Target (issue 16): under 100 ms each at 1,000,000 members. The scratch database is dropped
at the end, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import database, step

FIRST = (
    "Анна Мария Елена Ольга Наталья Ирина Татьяна Светлана Юлия Екатерина Александр Сергей "
    "Дмитрий Андрей Алексей Максим Иван Михаил Николай Павел Владимир Евгений Борис Нина"
).split()
FATHER = "Александров Сергеев Иванов Петров Николаев Михайлов Андреев Павлов Борисов".split()
LAST = (
    "Смирнов Иванов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв "
    "Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков "
    "Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров "
    "Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов "
    "Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов "
    "Савельев Тимофеев Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин "
    "Исаев Чернышёв Быков Маслов Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв "
    "Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев "
    "Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов"
).split()


def _array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


async def generate(conn: asyncpg.Connection, members: int) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    await step(
        conn,
        "a store",
        "INSERT INTO store (id, code, name, address, time_zone, created_at) "
        "VALUES (1, 'S-001', 'Магазин', '', 'Europe/Moscow', $1)",
        now,
    )
    await step(
        conn,
        f"{members:,} accounts",
        "INSERT INTO account (id, balance, pending, debt, lifetime_spend_kopecks, created_at) "
        "SELECT g, 0, 0, 0, 0, $1 FROM generate_series(1, $2) g",
        now,
        members,
    )
    # Women's surnames take an -а (Смирнова), as on real cards: the first 10 names are women's.
    name = (
        f"({_array(FIRST)})[1 + g % {len(FIRST)}] || ' ' || "
        f"({_array(FATHER)})[1 + (g / 7) % {len(FATHER)}] || "
        f"CASE WHEN g % {len(FIRST)} < 10 OR g % {len(FIRST)} = 23 THEN 'на' ELSE 'ич' END "
        f"|| ' ' || ({_array(LAST)})[1 + (g / 3) % {len(LAST)}] || "
        f"CASE WHEN g % {len(FIRST)} < 10 OR g % {len(FIRST)} = 23 THEN 'а' ELSE '' END"
    )
    await step(
        conn,
        "members",
        "INSERT INTO member (id, account, name, email, phone, consent_program_at, "
        "consent_data_at, marketing_email, join_store_id, created_at, language) "
        f"SELECT g, g, {name}, 'm' || g || '@example.ru', "
        "'+79' || lpad(((g::bigint * 7919) % 1000000000)::text, 9, '0'), $1, $1, true, 1, $1, 'ru' "
        "FROM generate_series(1, $2) g",
        now,
        members,
    )
    await step(
        conn,
        "cards",
        "INSERT INTO card (id, number, account, kind, role, status, holder_name, pass_serial, "
        "created_at) SELECT g, '77' || lpad(g::text, 14, '0'), g, 'virtual', 'main', 'active', "
        "'', 'S' || g, $1 FROM generate_series(1, $2) g",
        now,
        members,
    )
    for table in ("store", "account", "member", "card"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    await step(conn, "VACUUM ANALYZE", "VACUUM ANALYZE")


async def measure(conn: asyncpg.Connection, members: int) -> None:
    from wallet import codes
    from wallet.privacy import service as privacy

    target = members // 2 + 17
    # A valid (Luhn) number for the card searched for.
    body = "7700" + str(target).zfill(11)
    card = body + codes.luhn_check_digit(body)
    await conn.execute("UPDATE card SET number = $1 WHERE id = $2", card, target)
    row = await conn.fetchrow("SELECT name, email, phone FROM member WHERE id = $1", target)
    phone = row["phone"]
    national = phone[2:]
    queries = {
        "phone 8 (9xx) xxx-xx-xx": f"8 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}",
        "phone +7 9xx xxx xx xx": f"+7 {national[:3]} {national[3:6]} {national[6:8]} {national[8:]}",
        "phone 10 digits": national,
        "email (upper case)": row["email"].upper(),
        "card number": card,
        "name: a surname part 'колесник'": "колесник",
        "name: a surname 'Овчинникова'": "Овчинникова",
        "name: a full name": row["name"],
        "name: a common part 'ова'": "ова",
        "name: a first name 'Анна'": "Анна",
        "name: no match 'Щщщ'": "Щщщ",
    }
    print(f"\n{'query':<40} {'found':>6} {'median':>9} {'worst':>9}")
    for label, q in queries.items():
        times = []
        found: list = []
        for _ in range(20):
            began = time.perf_counter()
            found = await privacy.search(q, actor="support:bench", reason="bench")
            times.append((time.perf_counter() - began) * 1000)
        print(
            f"{label:<40} {len(found):>6} {statistics.median(times):>7.1f} ms "
            f"{max(times):>6.1f} ms",
            flush=True,
        )
        if label.startswith(("phone", "email", "card")):
            assert [f.member_id for f in found] == [target], (label, found)
    for part in ("овчинникова", "ова"):
        plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT id AS member_id, account AS account_id, name, "
            "email, phone FROM member WHERE erased_at IS NULL AND lower(name) LIKE $1 "
            "ORDER BY id LIMIT 50",
            f"%{part}%",
        )
        print(f"\nEXPLAIN ANALYZE, name part '{part}':")
        for line in plan:
            print("  " + line[0])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    async with database("wallet_bench_rights", keep=args.keep) as (name, conn):
        began = time.perf_counter()
        print(f"seeding {name}:", flush=True)
        await generate(conn, args.members)
        print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
        await measure(conn, args.members)


if __name__ == "__main__":
    asyncio.run(main())
