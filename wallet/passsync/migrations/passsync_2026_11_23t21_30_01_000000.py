"""The partial index the APNs sweep claims due devices through, and the devices already
behind their pass flagged (see the previous migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T21:30:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "pass_registration.push_due: flag devices behind, partial index"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="passsync", description=DESCRIPTION)

    async def flag_and_index() -> None:
        from wallet.passsync.tables import PassRegistration

        await PassRegistration.raw(
            "UPDATE pass_registration SET push_due = true WHERE pushed_tag < "
            "(SELECT p.tag FROM pass_card p WHERE p.serial = pass_registration.serial)"
        )
        await PassRegistration.raw(
            "CREATE INDEX pass_registration_push_due ON pass_registration (id) WHERE push_due"
        )

    async def drop_index() -> None:
        from wallet.passsync.tables import PassRegistration

        await PassRegistration.raw("DROP INDEX IF EXISTS pass_registration_push_due")

    manager.add_raw(flag_and_index)
    manager.add_raw_backwards(drop_index)
    return manager
