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
PROJECTION_MODES = ("inline", "worker")


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
    read_your_writes_timeout: float = 10.0
    lock_timeout_ms: int = 5000
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls(
            database_url=normalise_database_url(env.get("DUALTRACK_DATABASE_URL", "")),
            timezone=env.get("DUALTRACK_TIMEZONE", cls.timezone),
            late_entry_days=_int(env, "DUALTRACK_LATE_ENTRY_DAYS", cls.late_entry_days, 0),
            snapshot_interval=_int(env, "DUALTRACK_SNAPSHOT_INTERVAL", cls.snapshot_interval, 2),
            projection_mode=env.get("DUALTRACK_PROJECTION_MODE", cls.projection_mode),
            command_attempts=_int(env, "DUALTRACK_COMMAND_ATTEMPTS", cls.command_attempts, 1),
            lock_timeout_ms=_int(env, "DUALTRACK_LOCK_TIMEOUT_MS", cls.lock_timeout_ms, 1),
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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def url(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe_database(self) -> str:
        """Where the data lives, without credentials, for messages and logs."""
        return self.url.render_as_string(hide_password=True)


def normalise_database_url(raw: str) -> str:
    """Accepts the URLs people write and returns the one SQLAlchemy needs.

    Unset means an SQLite file under ./var/, created on first use.
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
            # An unreachable server must fail start-up promptly, not hang.
            url = url.update_query_dict({"connect_timeout": "10"})
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


def _redact(raw: str) -> str:
    if "@" in raw and "://" in raw:
        scheme, rest = raw.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return raw
