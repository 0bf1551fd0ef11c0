"""First-run preparation for the embedded default."""

from __future__ import annotations

import logging

from passes.devcerts import make_dev_certs
from wallet import codes, settings

log = logging.getLogger(__name__)


def prepare_certificates() -> None:
    """Make development signing material on first run, if the folder has none.

    Production points ``WALLET_CERTS_DIR`` at the real Pass Type ID certificate, key and
    WWDR; then the files exist and nothing is made.
    """
    folder = settings.get().certs_dir
    if not settings.get().secret_key:
        codes.ensure_secret_key(folder)
    if (folder / "pass-cert.pem").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    make_dev_certs(folder, pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    log.warning(
        "made DEVELOPMENT certificates in %s: passes will not open on a real iPhone; set "
        "WALLET_CERTS_DIR to the real Pass Type ID certificate for production",
        folder,
    )
