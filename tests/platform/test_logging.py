"""WALLET_LOG_LEVEL decides what the service's own loggers print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging
from wallet.app import create_app
create_app()
for name in ("wallet.worker", "wallet.passsync", "wallet.db"):
    log = logging.getLogger(name)
    log.debug("debug from %s", name)
    log.info("info from %s", name)
    log.warning("warning from %s", name)
"""


def _run(level: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WALLET_LOG_LEVEL": level,
        "WALLET_DATABASE_URL": f"sqlite:///{tmp_path / 'wallet.sqlite3'}",
        "WALLET_CERTS_DIR": str(tmp_path / "certs"),
    }
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        ("WARNING", ["warning"], ["info", "debug"]),
        ("info", ["warning", "info"], ["debug"]),
        ("DEBUG", ["warning", "info", "debug"], []),
    ],
)
def test_the_log_level_setting_reaches_the_apps_loggers(tmp_path, level, shown, hidden):
    done = _run(level, tmp_path)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    for name in ("wallet.worker", "wallet.passsync", "wallet.db"):
        for kind in shown:
            assert f"{kind} from {name}" in output, output
        for kind in hidden:
            assert f"{kind} from {name}" not in output, output


def test_an_unknown_log_level_is_refused_with_the_levels_to_use(tmp_path):
    done = _run("verbose", tmp_path)
    assert done.returncode != 0
    assert "WALLET_LOG_LEVEL='verbose'" in done.stderr and "WARNING" in done.stderr


JSON_SCRIPT = """
import logging
from wallet import observe
from wallet.app import create_app
create_app()
with observe.request_id("till-7-000123"):
    logging.getLogger("wallet.worker").warning("job %s ran", 42)
logging.getLogger("wallet.worker").warning("no request")
"""


def test_json_logs_are_one_object_a_line_with_the_request_id(tmp_path):
    env = {
        **os.environ,
        "WALLET_LOG_FORMAT": "json",
        "WALLET_DATABASE_URL": f"sqlite:///{tmp_path / 'wallet.sqlite3'}",
        "WALLET_CERTS_DIR": str(tmp_path / "certs"),
    }
    done = subprocess.run(
        [sys.executable, "-c", JSON_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    import json

    records = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line]
    ran = next(r for r in records if r["message"] == "job 42 ran")
    assert ran["request_id"] == "till-7-000123"
    assert ran["level"] == "WARNING" and ran["logger"] == "wallet.worker"
    assert ran["time"].endswith("+00:00")
    plain = next(r for r in records if r["message"] == "no request")
    assert "request_id" not in plain


def test_an_unknown_log_format_is_refused(tmp_path):
    env = {**os.environ, "WALLET_LOG_FORMAT": "xml"}
    done = subprocess.run(
        [sys.executable, "-c", "from wallet.app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "WALLET_LOG_FORMAT='xml'" in done.stderr
