"""The read-model digest (service.read_model_digest) and `dualtrack digest`: equal rows
give equal digests whatever order they were written in and on either backend; one changed
value changes its table's digest only, and a rebuild brings the original back."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from projections import tables as t
from service import bootstrap
from service.read_model_digest import read_model_digest
from service.settings import Settings
from tests.conftest import empty_postgres
from tests.history import realistic
from tests.test_cli import dualtrack

RECORDED = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
# Keys that bytes order "B" < "_" < "a" and a language's collation "_" < "a" < "B": on a
# PostgreSQL database with such a collation, a digest that let it order the rows would
# differ from SQLite's (the suite's database may well use "C", where they agree anyway).
KEYS = ("a-trainee", "B-trainee", "_trainee")


def fixed_rows() -> dict[sa.Table, list[dict[str, Any]]]:
    certificates = [
        {"trainee_id": key, "kind": kind, "state": "PENDING", "number": None,
         "granted_on": None, "unmet": [f"R{n}: not yet", {"months": 6.5, "of": 33}],
         "revocation_reason": None}
        for n, key in enumerate(KEYS) for kind in ("RESIDENCY", "DEGREE")
    ]
    audit = [
        {"position": position, "event_id": str(uuid.UUID(int=position)),
         "originator_id": KEYS[position % 3], "trainee_id": KEYS[position % 3],
         "type": "RotationEntryRecorded", "version": position, "occurred_on": date(2026, 2, 1),
         "recorded_at": RECORDED, "actor": "li", "data": {"b": 1, "a": [True, None, 0.25]},
         "hash": "ab" * 32, "lag_days": 28, "late": True, "backdated": False,
         "corrects_position": None, "corrected_by": []}
        for position in (1, 2, 10)
    ]
    return {t.certificates: certificates, t.audit_events: audit}


def write(engine: sa.Engine, reverse: bool) -> None:
    with engine.begin() as connection:
        for table, rows in fixed_rows().items():
            for row in reversed(rows) if reverse else rows:
                connection.execute(table.insert().values(row))


def test_equal_rows_in_any_order_give_equal_digests_on_sqlite_and_postgresql(
    sqlite_template: Path, postgres_database_url: str, tmp_path: Path
) -> None:
    sqlite_path = tmp_path / "digest.sqlite3"
    shutil.copy(sqlite_template, sqlite_path)
    empty_postgres(postgres_database_url)
    sqlite = sa.create_engine(f"sqlite:///{sqlite_path}")
    postgres = sa.create_engine(postgres_database_url, poolclass=sa.pool.NullPool)
    try:
        write(sqlite, reverse=False)
        write(postgres, reverse=True)
        on_sqlite, on_postgres = read_model_digest(sqlite), read_model_digest(postgres)
    finally:
        sqlite.dispose()
        postgres.dispose()
    assert on_sqlite.tables == on_postgres.tables
    assert on_sqlite.sha256 == on_postgres.sha256
    assert on_sqlite.tables["rm_certificates"].rows == 6
    assert on_sqlite.tables["rm_trainees"].rows == 0
    empty_postgres(postgres_database_url)


def test_a_changed_value_changes_its_tables_digest_and_a_rebuild_restores_it(
    services: bootstrap.Services,
) -> None:
    realistic(services)
    services.projector.catch_up()
    live = read_model_digest(services.engine)
    assert live.position == services.projector.head()
    with services.engine.begin() as connection:
        connection.execute(t.rotation_entries.update().where(
            t.rotation_entries.c.id == sa.select(sa.func.min(t.rotation_entries.c.id))
            .scalar_subquery()).values(description="altered"))
    altered = read_model_digest(services.engine)
    assert live.differing(altered) == ["rm_rotation_entries"]
    assert altered.sha256 != live.sha256
    services.projector.rebuild()
    assert read_model_digest(services.engine) == live


def test_dualtrack_digest_prints_every_table_and_the_whole(
    services: bootstrap.Services, settings: Settings, tmp_path: Path
) -> None:
    realistic(services)
    services.projector.catch_up()
    expected = read_model_digest(services.engine)
    printed = dualtrack("digest", env={"DUALTRACK_DATABASE_URL": settings.database_url})
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == len(t.READ_MODEL_TABLES) + 1
    for line, (name, table) in zip(lines, expected.tables.items(), strict=False):
        assert line.split() == [name, str(table.rows), "rows", f"sha256:{table.sha256}"]
    assert lines[-1] == (f"read models at position {expected.position:016d}  "
                         f"sha256:{expected.sha256}")
    unmigrated = dualtrack("digest", env={"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x"})
    assert unmigrated.returncode == 2
    assert "run `dualtrack migrate` first" in unmigrated.stderr
