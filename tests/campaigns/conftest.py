"""Push campaigns use pass sync's stand-ins for APNs and Google Wallet."""

from tests.passsync.conftest import wallets  # noqa: F401 - a fixture, shared
