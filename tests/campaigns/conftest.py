"""Push campaigns use pass sync's stand-ins for APNs and Google Wallet; SMS campaigns the
SMSC stand-in."""

from tests.passsync.conftest import wallets  # noqa: F401 - a fixture, shared
from tests.sms.conftest import smsc  # noqa: F401 - a fixture, shared
