"""Every setting of the service, read from the environment in this one place.

Each setting has a documented default that serves the embedded demo: a SQLite file under
``var/``, the worker inside the app process, development certificates made on first run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo

CardBarcode = Literal["QR", "CODE_128", "PDF417"]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(
            f"setting {name}={raw!r} is not a whole number; fix the environment"
        ) from exc


def _header(name: str, default: str) -> str:
    """A setting that goes into every email's headers: a line break in it would add headers
    to every message we send, so the service refuses to start."""
    import re

    raw = os.environ.get(name) or default
    if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", raw):
        raise SystemExit(
            f"setting {name}={raw!r} has a control character (a line break?); "
            "it goes into mail headers: write it on one line"
        )
    return raw


def _at_least(name: str, default: int, *, minimum: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise SystemExit(f"setting {name}={value} must be {minimum} or more; fix the environment")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip()
    if raw not in allowed:
        raise SystemExit(f"setting {name}={raw!r} is not one of {', '.join(allowed)}")
    return raw


def _days(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError as exc:
        raise SystemExit(
            f"setting {name}={raw!r} is not a comma-separated list of days; e.g. 30,7"
        ) from exc


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SystemExit(
            f"setting WALLET_LOG_LEVEL={raw!r} is not a level; use DEBUG, INFO, WARNING, ERROR "
            "or CRITICAL"
        )
    return level


@dataclass(frozen=True)
class Settings:
    # Where the data lives: ``sqlite:///path/to/file`` or ``postgresql://user@host:port/db``.
    database_url: str = "sqlite:///var/wallet.sqlite3"
    # The public address of the service; links in replies, passes and emails start with it.
    base_url: str = "http://127.0.0.1:8000"
    # Signing material for passes (Apple certificate, WWDR, Google service account).
    certs_dir: Path = Path("var/certs")
    # Connections kept open to PostgreSQL by each process.
    db_pool_size: int = 20
    # Statements asyncpg prepares and keeps per PostgreSQL connection (its default). 0 behind
    # PgBouncer in transaction mode older than 1.21 (Debian's is 1.18), where a statement
    # prepared on one server connection is not there on the next; 1.21+ with
    # ``max_prepared_statements`` keeps them and the default works.
    db_statement_cache_size: int = 100
    # How far back a till may date a receipt (imports and tests need a year).
    receipt_max_age_days: int = 400
    # How far ahead of the server clock a till's clock may run.
    receipt_max_future_seconds: int = 300
    # The program's time zone decides month boundaries and expiry dates shown to shoppers.
    program_time_zone: str = "Europe/Moscow"
    # Run the outbox worker inside ``wallet serve`` (the embedded default).
    embedded_worker: bool = True
    # What a stranger may send ``wallet serve``: a request body of at most this many bytes
    # (more: 413 request_too_large), a request line and headers of at most this many bytes
    # (more: 400), sent within this many seconds of connecting or of the previous answer
    # (slower: the connection is closed, so slow clients cannot hold connections open).
    max_body_bytes: int = 1_048_576
    max_header_bytes: int = 16_384
    header_timeout_seconds: int = 10
    # A worker holds each outbox job and each campaign delivery it claimed for this long and
    # renews the hold every third of it while it works; a worker killed outright (SIGKILL,
    # a lost machine) lets go of its work this long after its last renewal, and another
    # worker takes it over. Shorter recovers sooner; a worker whose event loop stalls longer
    # than this loses its claims to another one.
    worker_lease_seconds: int = 15
    log_level: str = "INFO"
    # ``text`` (one readable line a record, the demo's default) or ``json`` (one JSON object
    # a line with the request id, for a log collector).
    log_format: str = "text"
    # A bearer token that may read ``/metrics`` besides admin keys (for Prometheus, which
    # should not hold an admin key). Empty: admin keys only. Never logged.
    metrics_token: str = ""
    # The standalone worker (``wallet worker``) serves its own metrics on this port
    # (loopback unless ``WALLET_METRICS_HOST`` says otherwise); 0: off.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # ``/ready`` answers 503 when the oldest due outbox job has waited longer than this:
    # the worker is down or cannot keep up.
    ready_max_lag_seconds: int = 300
    # Outgoing mail. With no host, mail goes to the log (the embedded demo's sink).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_pool_size: int = 4
    mail_from: str = "Программа лояльности <noreply@loyalty.example>"
    # Cashback months are settled this many days after the month ends, so late receipts
    # and returns are in.
    cashback_settle_days: int = 3
    # PostgreSQL connections that settle one offer's month side by side, each an account
    # range in its own transaction (a rerun after a crash settles the ranges left open).
    # At most the pool size; SQLite settles in one transaction.
    cashback_settle_connections: int = 2
    # Shoppers are reminded this many days before their points burn (once per lead time).
    burn_reminder_days: tuple[int, ...] = (30, 7)
    # The daily housekeeping forgets finished outbox jobs after this many days (dead ones
    # stay for the operator) and Idempotency-Key answers after this many.
    outbox_keep_days: int = 7
    idempotency_keep_days: int = 30
    # A shopper token (from enrolment) stops working this many days after it was issued.
    shopper_token_days: int = 90
    # Anonymous enrolments allowed per client IP an hour (0: no limit); till keys are exempt.
    enrol_limit_per_ip: int = 30
    # Members with no activity (receipt, movement, sign-in, joining) for this many years are
    # erased by the nightly job (152-FZ: keep personal data no longer than needed). 0: off.
    retention_years: int = 0
    # Signs pass authentication tokens and pass download links. Empty: a random key is made
    # once in ``<certs_dir>/secret.key`` (the embedded default); never logged.
    secret_key: str = ""
    # Apple Pass Type ID and team, as in the Pass Type ID certificate.
    pass_type_id: str = "pass.ru.example.loyalty"
    team_id: str = "DEVTEAM123"
    # APNs base URL (tests and staging point it at a stand-in) and an optional CA bundle to
    # verify it; empty means the system's trust store.
    apns_url: str = "https://api.push.apple.com"
    apns_ca: str = ""
    # Google Wallet REST API base URL and the issuer id of the program's Google account.
    google_api_url: str = "https://walletobjects.googleapis.com/walletobjects/v1"
    google_issuer_id: str = "3388000000000000000"
    # «Кошелёк» (Cardsmobile): the login and password we give Кошелёк for calling our
    # service under /koshelek/v1 (and its delivery callbacks). Either empty: the service is
    # off and answers 404. Never logged.
    koshelek_login: str = ""
    koshelek_password: str = ""
    # The card's barcode as Кошелёк draws it: CODE_128 or QR_CODE (the program's choice).
    koshelek_barcode: str = "CODE_128"
    # A blocked card found by a search: true refuses issuing it (422), false returns it as
    # "inactive".
    koshelek_refuse_blocked: bool = True
    # The till barcode on the card page, the Apple pass and the Google pass: QR, CODE_128
    # (for linear scanners) or PDF417.
    card_barcode: CardBarcode = "QR"
    # The optional getAllUsers / getAllUsersExtended lists (every member's phone): off.
    koshelek_list_users: bool = False
    # Кошелёк's Push API (we are the client): base URL and the credentials Кошелёк issues.
    koshelek_push_url: str = "https://api.cardsmobile.ru"
    koshelek_push_login: str = ""
    koshelek_push_password: str = ""
    # Service (TRANSACTION) pushes after a receipt: at most one per shopper per this many
    # seconds (0: no service pushes).
    koshelek_transaction_every_seconds: int = 600
    # Phone numbers typed without a country code are read in this region (ISO 3166 code);
    # every phone is stored in E.164.
    phone_region: str = "RU"
    # The operator's SMSC (SMPP 3.4, bound as transceiver). No host: SMS go to the log
    # (the embedded demo's sink). The password comes from WALLET_SMPP_PASSWORD or, better,
    # a file named by WALLET_SMPP_PASSWORD_FILE; it is never logged.
    smpp_host: str = ""
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    # The alphanumeric sender name the operator registered for the program.
    smpp_sender: str = "Loyalty"
    smpp_tls: bool = False
    # A CA bundle to verify the SMSC's TLS certificate; empty: the system's trust store.
    smpp_ca: str = ""
    # Messages (parts) per second the operator allows on the bind.
    smpp_rate: int = 20
    # Marketing SMS (campaigns; never sign-in or spend codes): other sender names the
    # operator registered that a campaign may choose besides ``smpp_sender``; the local
    # hours of the program's zone when none goes out (held until the end, not dropped);
    # the operator's price of one part in kopecks (the campaign's cost estimate); the most
    # parts one campaign text may take.
    sms_senders: tuple[str, ...] = ()
    sms_quiet_hours: tuple[int, int] = (21 * 60, 9 * 60)
    sms_price_kopecks: int = 0
    sms_max_parts: int = 4
    # Spending points on a shopper the till found by phone needs a code sent to them by
    # SMS: for more than this many points (0: any spend); None: never.
    spend_code_above: int | None = 0
    # Phone lookups each till key may make an hour (found or not), so a key cannot list
    # members by walking numbers.
    pos_lookups_per_hour: int = 120
    # Webhooks: who is emailed when an endpoint is disabled after repeated failure (empty:
    # the log only); how many failed attempts in a row, over at least how many seconds,
    # disable it; whether an endpoint may be on a private or loopback address (tests'
    # loopback receiver only: it opens SSRF into the chain's network) and a CA bundle to
    # verify receivers with (empty: the system's trust store).
    webhooks_admin_email: str = ""
    webhooks_disable_failures: int = 20
    webhooks_disable_seconds: int = 3600
    webhooks_allow_private: bool = False
    webhooks_ca: str = ""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.program_time_zone)


def load() -> Settings:
    env = os.environ.get
    return Settings(
        database_url=env("WALLET_DATABASE_URL") or Settings.database_url,
        base_url=(env("WALLET_BASE_URL") or Settings.base_url).rstrip("/"),
        certs_dir=Path(env("WALLET_CERTS_DIR") or Settings.certs_dir),
        db_pool_size=_int("WALLET_DB_POOL_SIZE", Settings.db_pool_size),
        db_statement_cache_size=_at_least(
            "WALLET_DB_STATEMENT_CACHE_SIZE", Settings.db_statement_cache_size, minimum=0
        ),
        receipt_max_age_days=_int("WALLET_RECEIPT_MAX_AGE_DAYS", Settings.receipt_max_age_days),
        receipt_max_future_seconds=_int(
            "WALLET_RECEIPT_MAX_FUTURE_SECONDS", Settings.receipt_max_future_seconds
        ),
        program_time_zone=env("WALLET_TIME_ZONE") or Settings.program_time_zone,
        embedded_worker=_bool("WALLET_EMBEDDED_WORKER", Settings.embedded_worker),
        max_body_bytes=_at_least("WALLET_MAX_BODY_BYTES", Settings.max_body_bytes, minimum=1024),
        max_header_bytes=_at_least(
            "WALLET_MAX_HEADER_BYTES", Settings.max_header_bytes, minimum=4096
        ),
        header_timeout_seconds=_at_least(
            "WALLET_HEADER_TIMEOUT_SECONDS", Settings.header_timeout_seconds, minimum=1
        ),
        worker_lease_seconds=_at_least(
            "WALLET_WORKER_LEASE_SECONDS", Settings.worker_lease_seconds, minimum=3
        ),
        log_level=_log_level(env("WALLET_LOG_LEVEL") or Settings.log_level),
        log_format=_choice("WALLET_LOG_FORMAT", Settings.log_format, ("text", "json")),
        metrics_token=env("WALLET_METRICS_TOKEN") or "",
        metrics_port=_at_least("WALLET_METRICS_PORT", Settings.metrics_port, minimum=0),
        metrics_host=env("WALLET_METRICS_HOST") or Settings.metrics_host,
        ready_max_lag_seconds=_at_least(
            "WALLET_READY_MAX_LAG_SECONDS", Settings.ready_max_lag_seconds, minimum=1
        ),
        smtp_host=env("WALLET_SMTP_HOST") or Settings.smtp_host,
        smtp_port=_int("WALLET_SMTP_PORT", Settings.smtp_port),
        smtp_username=env("WALLET_SMTP_USERNAME") or Settings.smtp_username,
        smtp_password=env("WALLET_SMTP_PASSWORD") or Settings.smtp_password,
        smtp_starttls=_bool("WALLET_SMTP_STARTTLS", Settings.smtp_starttls),
        smtp_pool_size=_int("WALLET_SMTP_POOL_SIZE", Settings.smtp_pool_size),
        mail_from=_header("WALLET_MAIL_FROM", Settings.mail_from),
        cashback_settle_days=_int("WALLET_CASHBACK_SETTLE_DAYS", Settings.cashback_settle_days),
        cashback_settle_connections=_int(
            "WALLET_CASHBACK_SETTLE_CONNECTIONS", Settings.cashback_settle_connections
        ),
        burn_reminder_days=_days("WALLET_BURN_REMINDER_DAYS", Settings.burn_reminder_days),
        outbox_keep_days=_int("WALLET_OUTBOX_KEEP_DAYS", Settings.outbox_keep_days),
        idempotency_keep_days=_int("WALLET_IDEMPOTENCY_KEEP_DAYS", Settings.idempotency_keep_days),
        shopper_token_days=_at_least(
            "WALLET_SHOPPER_TOKEN_DAYS", Settings.shopper_token_days, minimum=1
        ),
        enrol_limit_per_ip=_at_least(
            "WALLET_ENROL_LIMIT_PER_IP", Settings.enrol_limit_per_ip, minimum=0
        ),
        retention_years=_at_least("WALLET_RETENTION_YEARS", Settings.retention_years, minimum=0),
        secret_key=env("WALLET_SECRET_KEY") or Settings.secret_key,
        pass_type_id=env("WALLET_PASS_TYPE_ID") or Settings.pass_type_id,
        team_id=env("WALLET_TEAM_ID") or Settings.team_id,
        apns_url=(env("WALLET_APNS_URL") or Settings.apns_url).rstrip("/"),
        apns_ca=env("WALLET_APNS_CA") or Settings.apns_ca,
        google_api_url=(env("WALLET_GOOGLE_API_URL") or Settings.google_api_url).rstrip("/"),
        google_issuer_id=env("WALLET_GOOGLE_ISSUER_ID") or Settings.google_issuer_id,
        koshelek_login=env("WALLET_KOSHELEK_LOGIN") or "",
        koshelek_password=env("WALLET_KOSHELEK_PASSWORD") or "",
        koshelek_barcode=_choice(
            "WALLET_KOSHELEK_BARCODE", Settings.koshelek_barcode, ("CODE_128", "QR_CODE")
        ),
        card_barcode=cast(
            CardBarcode,
            _choice("WALLET_CARD_BARCODE", Settings.card_barcode, ("QR", "CODE_128", "PDF417")),
        ),
        koshelek_refuse_blocked=_bool(
            "WALLET_KOSHELEK_REFUSE_BLOCKED", Settings.koshelek_refuse_blocked
        ),
        koshelek_list_users=_bool("WALLET_KOSHELEK_LIST_USERS", Settings.koshelek_list_users),
        koshelek_push_url=(env("WALLET_KOSHELEK_PUSH_URL") or Settings.koshelek_push_url).rstrip(
            "/"
        ),
        koshelek_push_login=env("WALLET_KOSHELEK_PUSH_LOGIN") or "",
        koshelek_push_password=env("WALLET_KOSHELEK_PUSH_PASSWORD") or "",
        koshelek_transaction_every_seconds=_at_least(
            "WALLET_KOSHELEK_TRANSACTION_EVERY_SECONDS",
            Settings.koshelek_transaction_every_seconds,
            minimum=0,
        ),
        phone_region=_region(env("WALLET_PHONE_REGION") or Settings.phone_region),
        smpp_host=env("WALLET_SMPP_HOST") or "",
        smpp_port=_int("WALLET_SMPP_PORT", Settings.smpp_port),
        smpp_system_id=env("WALLET_SMPP_SYSTEM_ID") or "",
        smpp_password=_secret("WALLET_SMPP_PASSWORD"),
        smpp_sender=_sender(env("WALLET_SMPP_SENDER") or Settings.smpp_sender),
        smpp_tls=_bool("WALLET_SMPP_TLS", Settings.smpp_tls),
        smpp_ca=env("WALLET_SMPP_CA") or "",
        smpp_rate=_at_least("WALLET_SMPP_RATE", Settings.smpp_rate, minimum=1),
        sms_senders=tuple(
            _sender(name) for name in (env("WALLET_SMS_SENDERS") or "").split(",") if name.strip()
        ),
        sms_quiet_hours=_quiet_hours(env("WALLET_SMS_QUIET_HOURS") or "21:00-09:00"),
        sms_price_kopecks=_at_least(
            "WALLET_SMS_PRICE_KOPECKS", Settings.sms_price_kopecks, minimum=0
        ),
        sms_max_parts=_at_least("WALLET_SMS_MAX_PARTS", Settings.sms_max_parts, minimum=1),
        spend_code_above=_spend_code(env("WALLET_SPEND_CODE") or "always"),
        webhooks_admin_email=_header("WALLET_WEBHOOKS_ADMIN_EMAIL", ""),
        webhooks_disable_failures=_at_least(
            "WALLET_WEBHOOKS_DISABLE_FAILURES", Settings.webhooks_disable_failures, minimum=1
        ),
        webhooks_disable_seconds=_at_least(
            "WALLET_WEBHOOKS_DISABLE_SECONDS", Settings.webhooks_disable_seconds, minimum=0
        ),
        webhooks_allow_private=_bool(
            "WALLET_WEBHOOKS_ALLOW_PRIVATE", Settings.webhooks_allow_private
        ),
        webhooks_ca=env("WALLET_WEBHOOKS_CA") or "",
        pos_lookups_per_hour=_at_least(
            "WALLET_POS_LOOKUPS_PER_HOUR", Settings.pos_lookups_per_hour, minimum=1
        ),
    )


def _region(raw: str) -> str:
    import phonenumbers

    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SystemExit(
            f"setting WALLET_PHONE_REGION={raw!r} is not a region phonenumbers knows "
            "(an ISO 3166 code such as RU, KZ, BY)"
        )
    return region


def _secret(name: str) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (the file wins: it
    keeps the secret out of the process environment)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"setting {name}_FILE={path!r}: cannot read it ({exc})") from exc
    return os.environ.get(name) or ""


def _spend_code(raw: str) -> int | None:
    """``always`` (0: any spend), ``never`` (None) or N (more than N points)."""
    value = raw.strip().lower()
    if value == "always":
        return 0
    if value == "never":
        return None
    if value.isdigit():
        return int(value)
    raise SystemExit(
        f"setting WALLET_SPEND_CODE={raw!r} is not always, never or a number of points"
    )


def _quiet_hours(raw: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` in the program's zone (minutes after midnight); equal ends: none."""
    import re

    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if (
        found is None
        or int(found[1]) > 23
        or int(found[3]) > 23
        or max(int(found[2]), int(found[4])) > 59
    ):
        raise SystemExit(
            f"setting WALLET_SMS_QUIET_HOURS={raw!r} is not HH:MM-HH:MM (e.g. 21:00-09:00)"
        )
    return int(found[1]) * 60 + int(found[2]), int(found[3]) * 60 + int(found[4])


def _sender(raw: str) -> str:
    """SMPP source address: up to 11 Latin letters/digits (alphanumeric) or a number."""
    import re

    value = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9 .\-]{1,11}|\+?[0-9]{3,15}", value):
        raise SystemExit(
            f"setting WALLET_SMPP_SENDER={raw!r} is not a sender name operators accept: "
            "up to 11 Latin letters and digits, or a phone number"
        )
    return value


_current: Settings | None = None

# The environment's settings, read once, for what runs before a runtime starts (the command
# line's parser, ``create_app``, Piccolo's configuration). A running runtime's own settings
# win: they are what the app was built with.
_environment: Settings | None = None


def get() -> Settings:
    """The settings of the running runtime (``wallet.runtime``), else the environment's."""
    global _environment
    running = runtime_module.active()
    if running is not None:
        return running.settings
    if _environment is None:
        _environment = load()
    return _environment


def override(settings: Settings) -> None:
    """Replace the settings of the running runtime, or the environment's before one starts
    (tests and the CLI's flags)."""
    global _environment
    running = runtime_module.active()
    if running is not None:
        running.settings = settings
    else:
        _environment = settings


# At the end: wallet.runtime reads ``Settings`` from this module (a cycle inside the kernel).
from wallet import runtime as runtime_module  # noqa: E402
