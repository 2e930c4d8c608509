"""The settings that bound waiting on the database, and the log level."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from service.settings import ConfigurationError, Settings

PG = "postgresql://dualtrack@db.example:5432/dualtrack"


def test_defaults_bound_every_wait() -> None:
    settings = Settings.from_env({"DUALTRACK_DATABASE_URL": PG})
    assert settings.statement_timeout_ms == 30000
    assert settings.lock_timeout_ms == 5000
    assert settings.connect_timeout_seconds == 5
    assert settings.ready_timeout_seconds == 2.0
    assert settings.log_level == "INFO"
    assert make_url(settings.database_url).query["connect_timeout"] == "5"


def test_each_is_read_from_its_variable() -> None:
    settings = Settings.from_env({
        "DUALTRACK_DATABASE_URL": PG, "DUALTRACK_STATEMENT_TIMEOUT_MS": "0",
        "DUALTRACK_CONNECT_TIMEOUT_SECONDS": "3", "DUALTRACK_READY_TIMEOUT_SECONDS": "0.5",
        "DUALTRACK_LOG_LEVEL": "debug",
    })
    assert settings.statement_timeout_ms == 0  # no limit
    assert make_url(settings.database_url).query["connect_timeout"] == "3"
    assert settings.ready_timeout_seconds == 0.5
    assert settings.log_level == "DEBUG"


def test_a_url_keeps_its_own_connect_timeout() -> None:
    settings = Settings.from_env({"DUALTRACK_DATABASE_URL": PG + "?connect_timeout=7",
                                  "DUALTRACK_CONNECT_TIMEOUT_SECONDS": "3"})
    assert make_url(settings.database_url).query["connect_timeout"] == "7"


@pytest.mark.parametrize(("variable", "raw"), [
    ("DUALTRACK_STATEMENT_TIMEOUT_MS", "-1"),
    ("DUALTRACK_STATEMENT_TIMEOUT_MS", "soon"),
    ("DUALTRACK_CONNECT_TIMEOUT_SECONDS", "0"),
    ("DUALTRACK_READY_TIMEOUT_SECONDS", "0"),
    ("DUALTRACK_LOG_LEVEL", "loud"),
])
def test_a_bad_value_is_refused_naming_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({"DUALTRACK_DATABASE_URL": PG, variable: raw})
