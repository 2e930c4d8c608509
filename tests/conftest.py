"""Fixtures shared by every test that touches storage.

Each such test runs on SQLite and on PostgreSQL. PostgreSQL comes from
DUALTRACK_TEST_POSTGRES_URL (default: the local server's `test` database); each test
run creates a database of its own there and drops it at the end, so runs never see
each other's data. Tests never skip because PostgreSQL is missing: they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from eventsourcing.cryptography import AESCipher

from integrity.checkpoints import CheckpointSigner
from projections.tables import READ_MODEL_TABLES
from service import bootstrap, migrate
from service.clock import FixedClock
from service.settings import Settings, normalise_database_url
from tests.store_admin import APPEND_ONLY_TABLES, bypassing_append_only

POSTGRES_URL_VARIABLE = "DUALTRACK_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
STORE_TABLES = ("dualtrack_snapshots", "view_snapshots", "projection_tracking",
                *APPEND_ONLY_TABLES)
# What registries leave behind: consumers' positions, webhook endpoints and deliveries.
REGISTRY_TABLES = ("consumer_positions", "webhook_deliveries", "webhook_endpoint_changes",
                   "webhook_endpoints", "webhook_request_receipts")
# Business "today" in tests: 22 November 2026, 10:00 in Shanghai.
TEST_NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
# A programme's own regulations directory, beside the shipped ones: a compact standard.
PROGRAMME_REGULATIONS = Path(__file__).parent / "data" / "regulations"


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    server_url = sa.make_url(
        normalise_database_url(os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL))
    )
    name = f"dualtrack_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL at {server_url.render_as_string(hide_password=True)} is required "
            f"(set {POSTGRES_URL_VARIABLE}): {error.orig}"
        )
    url = server_url.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(Settings(database_url=url))
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    migrate.upgrade(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> str:
    """A migrated, empty database for one test."""
    if backend == "sqlite":
        path = tmp_path / "dualtrack.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database_url")
    empty_postgres(url)
    return url


def empty_postgres(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    tables = ", ".join(
        [*STORE_TABLES, *REGISTRY_TABLES, *(table.name for table in READ_MODEL_TABLES)]
    )
    with engine.begin() as connection, bypassing_append_only(connection):
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("keys") / "checkpoint-signing.key"
    CheckpointSigner.generate().to_file(path)
    return str(path)


@pytest.fixture(scope="session")
def cipher_key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("keys") / "personal-data.key"
    path.write_text(AESCipher.create_key(32) + "\n")
    return str(path)


# The HS256 secret the test settings verify tokens with (tests mint with it too).
TEST_TOKEN_SECRET = "test-token-secret-" + "0123456789abcdef" * 2


@pytest.fixture
def settings(database_url: str, signing_key_file: str, cipher_key_file: str) -> Settings:
    return Settings(
        database_url=database_url,
        snapshot_interval=10,
        regulations_dir=str(PROGRAMME_REGULATIONS),
        signing_key_file=signing_key_file,
        cipher_key_file=cipher_key_file,
        token_secret=TEST_TOKEN_SECRET,
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[bootstrap.Services]:
    built = bootstrap.build(settings, clock=clock)
    yield built
    built.close()
