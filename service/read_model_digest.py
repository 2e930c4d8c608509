"""A digest of every read-model table: equal digests mean equal rows.

Used to show that the read models a live projection left behind (after crashes, restarts,
two projectors taking turns) are exactly what a clean rebuild from the log produces, and
by operators to compare a database before a backup with its restore (`dualtrack digest`).

Per table: sha256 over a header naming the columns digested, then one canonical JSON line
per row, rows in primary-key order (byte order of the key's text on every backend, so a
server's collation cannot reorder them). Values are written canonically (dates and times
in ISO 8601, times in UTC, JSON with sorted keys, floats as floats), so equal rows give
equal digests on SQLite and on PostgreSQL alike. All tables are read in one snapshot.

No column is excluded: every value in the read models derives from the events alone.
Times in them (`recorded_at`, `signed_at`) are the events' own timestamps, never the
moment a row was projected, and the sealed hashes in `rm_audit_events` are recomputed
from the stored bytes. Should a projection-time column ever be added, name it in
EXCLUDED_COLUMNS with the reason it may differ. (What the events are judged by does
count: a rebuild under another DUALTRACK_TIMEZONE, DUALTRACK_LATE_ENTRY_DAYS or
regulations directory rightly gives other `late` flags, lags or verdicts.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from projections import tables as t
from projections.projector import TRACKING_TABLE
from service.records import TraineeRecords

# Table name -> columns that may legitimately differ between a live projection and a
# rebuild (none today; see the module's doc).
EXCLUDED_COLUMNS: dict[str, frozenset[str]] = {}
ROWS_PER_FETCH = 1000


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str


@dataclass(frozen=True)
class ReadModelDigest:
    """The digest of each read-model table, and the log position they were projected to
    (two digests taken at different positions are expected to differ)."""

    position: int
    tables: dict[str, TableDigest]

    @property
    def sha256(self) -> str:
        """One digest over every table's, in READ_MODEL_TABLES order."""
        combined = hashlib.sha256()
        for name, table in self.tables.items():
            combined.update(f"{name} {table.rows} {table.sha256}\n".encode())
        return combined.hexdigest()

    def differing(self, other: ReadModelDigest) -> list[str]:
        """The tables whose rows differ from `other`'s."""
        names = sorted(set(self.tables) | set(other.tables))
        return [name for name in names if self.tables.get(name) != other.tables.get(name)]


def read_model_digest(engine: sa.Engine) -> ReadModelDigest:
    """Digests every read-model table and reads the position, all in one snapshot."""
    with _snapshot(engine) as connection:
        tables = {table.name: table_digest(connection, table) for table in t.READ_MODEL_TABLES}
        position = _position(connection)
    return ReadModelDigest(position, tables)


def table_digest(connection: sa.Connection, table: sa.Table) -> TableDigest:
    excluded = EXCLUDED_COLUMNS.get(table.name, frozenset())
    columns = [column for column in table.columns if column.name not in excluded]
    digest = hashlib.sha256()
    digest.update(_line([column.name for column in columns]))
    floats = [isinstance(column.type, sa.Float) for column in columns]
    rows = 0
    for row in _in_key_order(connection, table, columns):
        digest.update(_line([
            _canonical(value, is_float) for value, is_float in zip(row, floats, strict=True)
        ]))
        rows += 1
    return TableDigest(rows, digest.hexdigest())


def _in_key_order(
    connection: sa.Connection, table: sa.Table, columns: list[sa.Column[Any]]
) -> Iterator[sa.Row[Any]]:
    postgres = connection.dialect.name == "postgresql"
    order = [
        # PostgreSQL orders text by the database's collation, SQLite by bytes: "C" is bytes.
        key.collate("C") if postgres and isinstance(key.type, sa.String) else key
        for key in table.primary_key.columns
    ]
    result = connection.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(
        sa.select(*columns).order_by(*order)
    )
    yield from result


def _position(connection: sa.Connection) -> int:
    tracking = sa.table(
        TRACKING_TABLE, sa.column("application_name"), sa.column("notification_id")
    )
    position = connection.execute(
        sa.select(sa.func.max(tracking.c.notification_id))
        .where(tracking.c.application_name == TraineeRecords.name)
    ).scalar()
    return int(position or 0)


class _snapshot:
    """A read-only connection that sees one consistent state of every table, while a
    projector may be committing batches: REPEATABLE READ on PostgreSQL; on SQLite (WAL),
    an explicit BEGIN, since the driver starts no transaction for a SELECT."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def __enter__(self) -> sa.Connection:
        if self.engine.dialect.name == "postgresql":
            self.connection = self.engine.connect().execution_options(
                isolation_level="REPEATABLE READ"
            )
            self.connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        else:
            self.connection = self.engine.connect()
            self.connection.exec_driver_sql("BEGIN")
        return self.connection

    def __exit__(self, *exc: object) -> None:
        try:
            self.connection.rollback()
        finally:
            self.connection.close()


def _canonical(value: Any, is_float: bool) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if is_float:
        return float(value)
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value  # ints, and JSON columns already decoded (sorted when written out)


def _line(values: list[Any]) -> bytes:
    return (json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                       allow_nan=False) + "\n").encode()
