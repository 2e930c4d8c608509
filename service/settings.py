"""Typed settings, read from the environment once at start-up (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SQLITE_PATH = Path("var") / "dualtrack.sqlite3"
DEFAULT_SIGNING_KEY_PATH = Path("var") / "checkpoint-signing.key"
DEFAULT_CIPHER_KEY_PATH = Path("var") / "personal-data.key"
DEFAULT_DEV_TOKEN_SECRET_PATH = Path("var") / "dev-token.secret"
PROJECTION_MODES = ("inline", "worker")
NATS_SCHEMES = ("nats", "tls", "ws", "wss")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5


class ConfigurationError(Exception):
    """A setting is wrong; the message is one line that names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: str = "Asia/Shanghai"
    late_entry_days: int = 14
    snapshot_interval: int = 100
    projection_mode: str = "inline"
    command_attempts: int = 5
    # Trainees the group committer keeps decided-on between commands (service.group_commit);
    # each holds its whole write state (a long record: about a megabyte).
    write_cache_trainees: int = 1000
    # Trainees the projector keeps in step with the log for their summaries
    # (projections.shadows); 0 gathers every summary from the read-model rows.
    projection_cache_trainees: int = 256
    read_your_writes_timeout: float = 10.0
    lock_timeout_ms: int = 5000
    # PostgreSQL: no statement of the service runs longer than this (0: no limit), so a
    # stuck query or lock wait ends in an error the client can retry (service.connections).
    statement_timeout_ms: int = 30000
    # How long opening a PostgreSQL connection may take (libpq counts at least 2 s).
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS
    # /ready: the database must answer a trivial query within this long.
    ready_timeout_seconds: float = 2.0
    log_level: str = "INFO"
    # The jurisdiction whose policy binds trainees enrolled without naming one.
    jurisdiction: str = "chongqing"
    # A directory of a programme's own standards/ and policies/, beside the shipped ones.
    regulations_dir: str | None = None
    # The Ed25519 key that signs checkpoints of the log. Never shipped: each installation
    # makes its own on first start (see README, Auditors), or mounts one here.
    signing_key_file: str = str(DEFAULT_SIGNING_KEY_PATH)
    # Names this log in every signed checkpoint, so checkpoints of two logs never mix.
    log_origin: str = "dualtrack"
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: int = 300
    # Webhooks (README, Registries): a request not answered within the timeout failed;
    # failures are retried with exponential backoff (base doubling to the cap, jittered)
    # for at least the retry window, then the delivery is a dead letter.
    webhook_timeout_seconds: float = 10.0
    webhook_retry_hours: float = 72.0
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_concurrency: int = 8
    webhook_poll_seconds: float = 0.5
    # Plain http to a host other than loopback is refused unless this is set.
    webhook_allow_http: bool = False
    # The NATS JetStream relay (`dualtrack relay`, service/relay.py).
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "DUALTRACK"
    nats_subject_prefix: str = "dualtrack.events"
    nats_duplicate_window_seconds: int = 120
    # Bearer tokens (README, Access): an HS256 secret, or a PEM public key (RS256/ES256)
    # or a JWKS file; the private key only lets `dualtrack token` mint asymmetric tokens.
    token_secret: str | None = None
    token_public_key_file: str | None = None
    token_jwks_file: str | None = None
    token_private_key_file: str | None = None
    token_issuer: str = "dualtrack"
    token_audience: str = "dualtrack"
    # Development mode: without a configured key, serve with a secret made under var/ and
    # say so loudly. Never for a deployment that holds real trainees.
    dev_mode: bool = False
    # The AES key that encrypts every stored event (README, Personal data): base64 of 16,
    # 24 or 32 bytes, in this file; made on first start only at the default path.
    cipher_key_file: str = str(DEFAULT_CIPHER_KEY_PATH)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        connect_timeout = _int(
            env, "DUALTRACK_CONNECT_TIMEOUT_SECONDS", cls.connect_timeout_seconds, 1)
        settings = cls(
            database_url=normalise_database_url(
                env.get("DUALTRACK_DATABASE_URL", ""), connect_timeout),
            timezone=env.get("DUALTRACK_TIMEZONE", cls.timezone),
            late_entry_days=_int(env, "DUALTRACK_LATE_ENTRY_DAYS", cls.late_entry_days, 0),
            snapshot_interval=_int(env, "DUALTRACK_SNAPSHOT_INTERVAL", cls.snapshot_interval, 2),
            projection_mode=env.get("DUALTRACK_PROJECTION_MODE", cls.projection_mode),
            command_attempts=_int(env, "DUALTRACK_COMMAND_ATTEMPTS", cls.command_attempts, 1),
            write_cache_trainees=_int(
                env, "DUALTRACK_WRITE_CACHE_TRAINEES", cls.write_cache_trainees, 0
            ),
            projection_cache_trainees=_int(
                env, "DUALTRACK_PROJECTION_CACHE_TRAINEES", cls.projection_cache_trainees, 0
            ),
            lock_timeout_ms=_int(env, "DUALTRACK_LOCK_TIMEOUT_MS", cls.lock_timeout_ms, 1),
            statement_timeout_ms=_int(
                env, "DUALTRACK_STATEMENT_TIMEOUT_MS", cls.statement_timeout_ms, 0),
            connect_timeout_seconds=connect_timeout,
            ready_timeout_seconds=_float(
                env, "DUALTRACK_READY_TIMEOUT_SECONDS", cls.ready_timeout_seconds),
            log_level=env.get("DUALTRACK_LOG_LEVEL", "").strip().upper() or cls.log_level,
            jurisdiction=env.get("DUALTRACK_JURISDICTION", "").strip() or cls.jurisdiction,
            regulations_dir=env.get("DUALTRACK_REGULATIONS_DIR", "").strip() or None,
            signing_key_file=env.get("DUALTRACK_SIGNING_KEY_FILE", "").strip()
            or cls.signing_key_file,
            log_origin=env.get("DUALTRACK_LOG_ORIGIN", "").strip() or cls.log_origin,
            checkpoint_every_events=_int(
                env, "DUALTRACK_CHECKPOINT_EVERY_EVENTS", cls.checkpoint_every_events, 1
            ),
            checkpoint_every_seconds=_int(
                env, "DUALTRACK_CHECKPOINT_EVERY_SECONDS", cls.checkpoint_every_seconds, 1
            ),
            **_webhook_settings(env),
            **_nats_settings(env),
            **_access_settings(env),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"DUALTRACK_TIMEZONE={self.timezone!r} is not a known time zone"
            ) from None
        if self.regulations_dir is not None and not Path(self.regulations_dir).is_dir():
            raise ConfigurationError(
                f"DUALTRACK_REGULATIONS_DIR={self.regulations_dir!r} is not a directory"
            )
        if self.projection_mode not in PROJECTION_MODES:
            raise ConfigurationError(
                f"DUALTRACK_PROJECTION_MODE must be one of {', '.join(PROJECTION_MODES)}, "
                f"got {self.projection_mode!r}"
            )
        if self.log_level not in LOG_LEVELS:
            raise ConfigurationError(
                f"DUALTRACK_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        _validate_nats(self)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def url(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def nats_servers(self) -> list[str]:
        return [server.strip() for server in self.nats_url.split(",") if server.strip()]

    def describe_nats(self) -> str:
        """The NATS server(s), without credentials, for messages and logs."""
        return ",".join(_redact(server) for server in self.nats_servers)

    def describe_database(self) -> str:
        """Where the data lives, without credentials, for messages and logs."""
        return self.url.render_as_string(hide_password=True)


def normalise_database_url(
    raw: str, connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_SECONDS
) -> str:
    """Accepts the URLs people write and returns the one SQLAlchemy needs.

    Unset means an SQLite file under ./var/, created on first use. A PostgreSQL URL gets
    `connect_timeout` unless it names its own.
    """
    if not raw.strip():
        DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ConfigurationError(
            f"DUALTRACK_DATABASE_URL is not a database URL: {_redact(raw)!r}"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
        if "connect_timeout" not in url.query:
            # An unreachable server must fail promptly, at start-up or later, not hang.
            url = url.update_query_dict({"connect_timeout": str(connect_timeout)})
    elif backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        raise ConfigurationError(
            f"DUALTRACK_DATABASE_URL uses {backend!r}; dualtrack supports sqlite and postgresql"
        )
    return url.render_as_string(hide_password=False)


def _int(env: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{key} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{key} must be at least {minimum}, got {value}")
    return value


def _webhook_settings(env: Mapping[str, str]) -> dict[str, object]:
    d = Settings
    return {
        "webhook_timeout_seconds": _float(
            env, "DUALTRACK_WEBHOOK_TIMEOUT_SECONDS", d.webhook_timeout_seconds),
        "webhook_retry_hours": _float(env, "DUALTRACK_WEBHOOK_RETRY_HOURS", d.webhook_retry_hours),
        "webhook_backoff_base_seconds": _float(
            env, "DUALTRACK_WEBHOOK_BACKOFF_BASE_SECONDS", d.webhook_backoff_base_seconds),
        "webhook_backoff_cap_seconds": _float(
            env, "DUALTRACK_WEBHOOK_BACKOFF_CAP_SECONDS", d.webhook_backoff_cap_seconds),
        "webhook_concurrency": _int(
            env, "DUALTRACK_WEBHOOK_CONCURRENCY", d.webhook_concurrency, 1),
        "webhook_poll_seconds": _float(
            env, "DUALTRACK_WEBHOOK_POLL_SECONDS", d.webhook_poll_seconds),
        "webhook_allow_http": _bool(env, "DUALTRACK_WEBHOOK_ALLOW_HTTP", d.webhook_allow_http),
    }


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    """A positive number of seconds or hours; fractions allowed (tests use small ones)."""
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{key} must be a number, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(f"{key} must be a positive number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{key} must be true or false, got {env[key]!r}")


def _access_settings(env: Mapping[str, str]) -> dict[str, object]:
    d = Settings

    def optional(key: str) -> str | None:
        return env.get(key, "").strip() or None

    return {
        # A secret is taken as it is: surrounding spaces may be part of it.
        "token_secret": env.get("DUALTRACK_TOKEN_SECRET") or None,
        "token_public_key_file": optional("DUALTRACK_TOKEN_PUBLIC_KEY_FILE"),
        "token_jwks_file": optional("DUALTRACK_TOKEN_JWKS_FILE"),
        "token_private_key_file": optional("DUALTRACK_TOKEN_PRIVATE_KEY_FILE"),
        "token_issuer": optional("DUALTRACK_TOKEN_ISSUER") or d.token_issuer,
        "token_audience": optional("DUALTRACK_TOKEN_AUDIENCE") or d.token_audience,
        "dev_mode": _bool(env, "DUALTRACK_DEV_MODE", d.dev_mode),
        "cipher_key_file": optional("DUALTRACK_CIPHER_KEY_FILE") or d.cipher_key_file,
    }


def _nats_settings(env: Mapping[str, str]) -> dict[str, object]:
    d = Settings
    return {
        "nats_url": env.get("DUALTRACK_NATS_URL", "").strip() or d.nats_url,
        "nats_stream": env.get("DUALTRACK_NATS_STREAM", "").strip() or d.nats_stream,
        "nats_subject_prefix": env.get("DUALTRACK_NATS_SUBJECT_PREFIX", "").strip()
        or d.nats_subject_prefix,
        "nats_duplicate_window_seconds": _int(
            env, "DUALTRACK_NATS_DUPLICATE_WINDOW_SECONDS", d.nats_duplicate_window_seconds, 1),
    }


def _validate_nats(settings: Settings) -> None:
    """The relay's settings, checked with the others, so a typo stops it at once."""
    for server in settings.nats_servers or [settings.nats_url]:
        scheme, _, rest = server.partition("://")
        host = rest.rsplit("@", 1)[-1].split(":")[0].split("/")[0]
        if scheme not in NATS_SCHEMES or not host:
            raise ConfigurationError(
                "DUALTRACK_NATS_URL must be nats://host:port (or tls://, ws://, wss://; "
                f"several separated by commas), got {_redact(server)!r}"
            )
    stream = settings.nats_stream
    # At most 89 characters, so the relay's name `nats-relay:<stream>` fits its column.
    if len(stream) > 89 or any(ch in stream for ch in ".*>/\\") or _has_space(stream):
        raise ConfigurationError(
            "DUALTRACK_NATS_STREAM must be a JetStream stream name of at most 89 characters "
            f"(no spaces, '.', '*', '>', '/' or '\\'), got {stream!r}"
        )
    prefix = settings.nats_subject_prefix
    if any(not token or token in ("*", ">") or _has_space(token) for token in prefix.split(".")):
        raise ConfigurationError(
            "DUALTRACK_NATS_SUBJECT_PREFIX must be dot-separated subject tokens without "
            f"wildcards or spaces, got {prefix!r}"
        )


def _has_space(text: str) -> bool:
    return any(ch.isspace() for ch in text)


def _redact(raw: str) -> str:
    if "@" in raw and "://" in raw:
        scheme, rest = raw.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return raw
