"""The README's backup and restore, with PostgreSQL's own tools: pg_dump of a running
service's database, pg_restore into a new one; the restored database verifies, holds the
same read models, and still answers an idempotent retry without writing."""

from __future__ import annotations

import dataclasses
import glob
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from service import bootstrap
from service.bootstrap import Services
from service.clock import FixedClock
from service.read_model_digest import read_model_digest
from service.settings import Settings
from tests.api.conftest import GraphQL, event_count
from tests.api.test_idempotency import a_rotation, record
from tests.test_cli import dualtrack

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def postgres_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(
        f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"{name} is needed (PostgreSQL's client tools)"
    return found


@pytest.fixture
def restored_url(settings: Settings) -> Iterator[str]:
    """An empty database beside the test's, dropped afterwards."""
    url = sa.make_url(settings.database_url)
    name = f"{url.database}_restored_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_dump_restores_to_a_database_that_verifies_and_answers_retries(
    services: Services, settings: Settings, clock: FixedClock, restored_url: str,
    tmp_path: Path,
) -> None:
    gql = GraphQL(httpx.ASGITransport(app=create_app(services)), settings)
    trainee_id, rotation_id = a_rotation(gql)
    keyed = gql.with_headers(**{"Idempotency-Key": "before-the-backup"})
    first = record(keyed, trainee_id, rotation_id, "pneumonia")
    record(gql, trainee_id, rotation_id, "asthma")
    before = read_model_digest(services.engine)

    dump = tmp_path / "dualtrack.dump"
    subprocess.run([postgres_tool("pg_dump"), "--format=custom", f"--file={dump}",
                    libpq(settings.database_url)], check=True, timeout=120)
    subprocess.run([postgres_tool("pg_restore"), "--no-owner", "--exit-on-error",
                    f"--dbname={libpq(restored_url)}", str(dump)], check=True, timeout=120)

    env = {
        "DUALTRACK_DATABASE_URL": restored_url,
        "DUALTRACK_SIGNING_KEY_FILE": settings.signing_key_file,
        "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file,
        "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
    }
    verified = dualtrack("verify", env=env)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: the whole log"), (
        verified.stdout + verified.stderr)

    restored = bootstrap.build(dataclasses.replace(settings, database_url=restored_url),
                               clock=clock)
    try:
        assert read_model_digest(restored.engine) == before
        written = event_count(restored)
        again = GraphQL(httpx.ASGITransport(app=create_app(restored)), settings).with_headers(
            **{"Idempotency-Key": "before-the-backup"})
        assert record(again, trainee_id, rotation_id, "pneumonia") == first
        assert event_count(restored) == written
    finally:
        restored.close()
