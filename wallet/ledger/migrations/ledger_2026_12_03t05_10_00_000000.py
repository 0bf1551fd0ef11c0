"""``account.join_store_id``: the store the account's shopper joined at, kept on the account
so the points liability splits a million accounts by join store without joining each to its
first member (a sort and a hash join of a million rows, most of the report's time). Filled here from each account's first member,
which is how the report named an account's join store until now (an account never changes
members: a merge only takes in an anonymous plastic card's account). On a new database the
members' table comes later (the apps migrate in their registry's order) and there is
nothing to fill."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-03T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "account.join_store_id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def add() -> None:
        from wallet.ledger.tables import Account

        await Account.raw("ALTER TABLE account ADD COLUMN join_store_id INTEGER")
        if Account._meta.db.engine_type == "postgres":
            if (await Account.raw("SELECT to_regclass('member') IS NOT NULL AS found"))[0][
                "found"
            ]:
                # One sort of the members, not a subquery per account.
                await Account.raw(
                    "UPDATE account SET join_store_id = f.join_store_id "
                    "FROM (SELECT DISTINCT ON (account) account, join_store_id FROM member "
                    "ORDER BY account, id) AS f "
                    "WHERE f.account = account.id AND f.join_store_id IS NOT NULL"
                )
        elif await Account.raw(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'member'"
        ):
            await Account.raw(
                "UPDATE account SET join_store_id = (SELECT m.join_store_id FROM member m "
                "WHERE m.account = account.id ORDER BY m.id LIMIT 1)"
            )

    async def drop() -> None:
        from wallet.ledger.tables import Account

        await Account.raw("ALTER TABLE account DROP COLUMN join_store_id")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
