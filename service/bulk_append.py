"""Appends many new streams at once, for bulk imports: on PostgreSQL with COPY.

The same guarantees as service.appender, for writes that are large rather than many:
one transaction per call, under the event table's lock (PostgreSQL: EXCLUSIVE, with a
lock timeout, and NOTIFY for the projection worker; SQLite: BEGIN IMMEDIATE under the
library's write lock), so notification ids are committed in the order they are assigned
and no other writer appends meanwhile. With the lock held it reads the stored version of
every stream, leaves out each stale stream with every stream bound to it (`together`:
a trainee and its national-ID claim), and writes the rest: on PostgreSQL with COPY in
binary format, which costs the server less than a multi-row INSERT and the client no
statement text at all. No log positions come back (COPY returns none); an import has no
caller waiting on one.
"""

from __future__ import annotations

import io
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from service.appender import (
    EVENTS_TABLE,
    SNAPSHOTS_TABLE,
    STORED_VERSIONS,
    sqlite_stored_versions,
    unwritable,
)
from service.bulk_encoding import Row
from service.connections import UNBOUNDED
from service.settings import Settings

COLUMNS = "(originator_id, originator_version, topic, state)"
# PostgreSQL's binary COPY framing: signature, flags, header extension; -1 ends it.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
_ROW_HEAD = struct.Struct("!hi16siq")  # 4 fields; uuid (16 bytes); bigint version
_LENGTH = struct.Struct("!i")


@dataclass(frozen=True)
class BulkWrite:
    """New events of one stream, as rows, decided on the stream as it stood at
    `expected_version` (0: it must not exist yet), and optionally a snapshot row."""

    stream: UUID
    rows: Sequence[Row]
    snapshot: Row | None = None
    expected_version: int = 0


@dataclass(frozen=True)
class BulkAppended:
    """What one append did: the events written, the streams found already stored
    (`stale`) and every stream left unwritten because of them (`skipped`)."""

    events: int = 0
    stale: frozenset[UUID] = frozenset()
    skipped: frozenset[UUID] = frozenset()


class BulkAppender:
    def append(
        self, writes: Sequence[BulkWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> BulkAppended:
        raise NotImplementedError

    def stored_versions(self, streams: Sequence[UUID]) -> dict[UUID, int]:
        """The stored version of each of the streams that exist (a read, no lock)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    @staticmethod
    def of(records: Any, settings: Settings) -> BulkAppender:
        datastore = records.recorder.datastore
        if datastore.engine.dialect.name == "postgresql":
            return PostgresBulkAppender(datastore.engine, settings.lock_timeout_ms)
        return SqliteBulkAppender(
            datastore.engine, records.events_table,
            records.snapshots.recorder.events_record_cls.__table__, datastore.write_lock,
        )


def _stale(writes: Sequence[BulkWrite], stored: dict[UUID, int]) -> list[UUID]:
    return [w.stream for w in writes if stored.get(w.stream, 0) != w.expected_version]


class PostgresBulkAppender(BulkAppender):
    """One connection of its own; one append at a time on it."""

    def __init__(self, engine: sa.Engine, lock_timeout_ms: int):
        self.engine = engine
        self.lock_timeout_ms = int(lock_timeout_ms)
        self._connection: Any = None
        self._lock = threading.Lock()
        self._topics: dict[str, bytes] = {}

    def append(
        self, writes: Sequence[BulkWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> BulkAppended:
        if not writes:
            return BulkAppended()
        with self._lock:
            connection = self._connect()
            try:
                with connection.cursor() as cursor:
                    # A batch is as long as the import asks (--batch-events): only the
                    # wait for the table's lock is bounded.
                    cursor.execute(
                        f"{UNBOUNDED}; SET LOCAL lock_timeout = {self.lock_timeout_ms}; "
                        f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE; NOTIFY {EVENTS_TABLE}"
                    )
                    stale = _stale(writes, self._versions(cursor, writes))
                    skipped = unwritable(stale, together)
                    kept = [w for w in writes if w.stream not in skipped]
                    events = sum(len(w.rows) for w in kept)
                    if events:
                        self._copy(cursor, EVENTS_TABLE, [(w.stream, w.rows) for w in kept])
                    snapshots = [(w.stream, [w.snapshot]) for w in kept if w.snapshot]
                    if snapshots:
                        self._copy(cursor, SNAPSHOTS_TABLE, snapshots)
                connection.commit()
            except BaseException:
                self._rollback()
                raise
        return BulkAppended(events, frozenset(stale), skipped)

    def stored_versions(self, streams: Sequence[UUID]) -> dict[UUID, int]:
        with self._lock:
            connection = self._connect()
            try:
                with connection.cursor() as cursor:
                    found = self._versions(cursor, [BulkWrite(s, ()) for s in streams])
                connection.commit()
            except BaseException:
                self._rollback()
                raise
        return found

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @staticmethod
    def _versions(cursor: Any, writes: Sequence[BulkWrite]) -> dict[UUID, int]:
        cursor.execute(STORED_VERSIONS, ([str(w.stream) for w in writes],))
        return {UUID(stream): version for stream, version in cursor.fetchall()}

    def _copy(self, cursor: Any, table: str, streams: Sequence[tuple[UUID, Sequence[Row]]]
              ) -> None:
        cursor.copy_expert(
            f"COPY {table} {COLUMNS} FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(self._binary(streams)),
        )

    def _binary(self, streams: Sequence[tuple[UUID, Sequence[Row]]]) -> bytes:
        parts = [_COPY_HEADER]
        append, head, length, topics = parts.append, _ROW_HEAD.pack, _LENGTH.pack, self._topics
        for stream, rows in streams:
            stream_bytes = stream.bytes
            for version, topic, state in rows:
                framed = topics.get(topic)
                if framed is None:
                    encoded = topic.encode("utf-8")
                    framed = topics[topic] = length(len(encoded)) + encoded
                append(head(4, 16, stream_bytes, 8, version))
                append(framed)
                append(length(len(state)))
                append(state)
        append(_COPY_TRAILER)
        return b"".join(parts)

    def _connect(self) -> Any:
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        return self._connection

    def _rollback(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            connection.rollback()
        except Exception:
            self._connection = None
            connection.invalidate()


class SqliteBulkAppender(BulkAppender):
    """BEGIN IMMEDIATE under the library's write lock, then one executemany per table."""

    def __init__(
        self, engine: sa.Engine, events: sa.Table, snapshots: sa.Table, write_lock: Any = None
    ):
        self.engine = engine
        self.events, self.snapshots = events, snapshots
        self.write_lock = write_lock or threading.Lock()

    def append(
        self, writes: Sequence[BulkWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> BulkAppended:
        if not writes:
            return BulkAppended()
        with self.write_lock, self.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                stale = _stale(writes, self._versions(connection, writes))
                skipped = unwritable(stale, together)
                kept = [w for w in writes if w.stream not in skipped]
                events = [_row(w.stream, row) for w in kept for row in w.rows]
                snapshots = [_row(w.stream, w.snapshot) for w in kept if w.snapshot]
                if events:
                    connection.execute(self.events.insert(), events)
                if snapshots:
                    connection.execute(self.snapshots.insert(), snapshots)
                connection.exec_driver_sql("COMMIT")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
        return BulkAppended(len(events), frozenset(stale), skipped)

    def stored_versions(self, streams: Sequence[UUID]) -> dict[UUID, int]:
        with self.engine.connect() as connection:
            return self._versions(connection, [BulkWrite(s, ()) for s in streams])

    def _versions(self, connection: sa.Connection, writes: Sequence[BulkWrite]) -> dict[UUID, int]:
        return sqlite_stored_versions(connection, self.events, [w.stream for w in writes])


def _row(stream: UUID, row: Row) -> dict[str, Any]:
    version, topic, state = row
    return {"originator_id": stream, "originator_version": version, "topic": topic,
            "state": state}
