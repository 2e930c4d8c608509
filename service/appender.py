"""Appends the events of many streams in one transaction: one lock, one flush, one commit.

This is the write half of group commit (service.group_commit). The library's own save
takes the event table's lock, inserts through the ORM and commits, once per command;
here one transaction carries every stream a batch of commands changed:

1. take the event table's lock (PostgreSQL: EXCLUSIVE, with a lock timeout, so that
   notification ids are committed in the order they are assigned; SQLite: BEGIN
   IMMEDIATE), so no other writer can append meanwhile;
2. read the stored version of every stream in the batch. A stream whose stored version
   is not the one its events were decided on was changed by another writer (another
   process, or `records.save`): it is *stale*. Its events are not written, nor are those
   of any stream that must be written together with it (`together`: the streams one
   command changed, such as a new trainee and its national-ID claim). The caller decides
   those commands again on fresh state;
3. insert the remaining events with one multi-row INSERT, and their snapshots;
4. commit.

Nothing is written when every stream is stale.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg2.errors
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from service.settings import Settings

EVENTS_TABLE = "dualtrack_events"
SNAPSHOTS_TABLE = "dualtrack_snapshots"
SQLITE_IDS_AT_ONCE = 500  # bound parameters per statement, well within SQLite's limit
# The stored version of each stream, looked up one stream at a time on the unique index.
# Not `WHERE originator_id = ANY(...) GROUP BY`: right after a bulk load, before the table
# is analysed, the planner reads that as unselective and scans the whole log (a quarter
# of a second per batch at 3x10^6 events).
STORED_VERSIONS = (
    "SELECT stream::text, stored FROM unnest(%s::uuid[]) AS streams(stream) CROSS JOIN "
    f"LATERAL (SELECT max(originator_version) AS stored FROM {EVENTS_TABLE} "
    "WHERE originator_id = stream) AS found WHERE stored IS NOT NULL"
)


@dataclass(frozen=True)
class StreamWrite:
    """New events of one stream, decided on the stream as it stood at `expected_version`
    (0: a stream that must not exist yet), and optionally a snapshot of its new state."""

    originator_id: UUID
    expected_version: int
    events: Sequence[StoredEvent]
    snapshot: StoredEvent | None = None


@dataclass(frozen=True)
class Appended:
    """What one append did: the log position of every event written, and the streams
    left unwritten because they (or a stream bound to them) were stale."""

    positions: Mapping[tuple[UUID, int], int] = field(default_factory=dict)
    skipped: frozenset[UUID] = frozenset()


def unwritable(
    stale: Iterable[UUID], together: Iterable[Iterable[UUID]]
) -> frozenset[UUID]:
    """The stale streams and every stream bound to one of them, transitively."""
    excluded = set(stale)
    groups = [frozenset(group) for group in together]
    changed = bool(excluded)
    while changed:
        changed = False
        for group in groups:
            if group & excluded and not group <= excluded:
                excluded |= group
                changed = True
    return frozenset(excluded)


class EventAppender:
    """The port: appends batches of stream writes atomically (see the module's doc)."""

    def append(
        self, writes: Sequence[StreamWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> Appended:
        raise NotImplementedError

    def close(self) -> None:
        """Releases whatever the appender holds (connections)."""

    @staticmethod
    def of(records: Any, settings: Settings) -> EventAppender:
        """The appender for the application's own store (its engine and tables)."""
        datastore = records.recorder.datastore
        if datastore.engine.dialect.name == "postgresql":
            return PostgresAppender(datastore.engine, settings.lock_timeout_ms)
        return SqliteAppender(
            datastore.engine,
            records.events_table,
            records.snapshots.recorder.events_record_cls.__table__,
            datastore.write_lock,
        )


class PostgresAppender(EventAppender):
    """Two round trips in the common case: one statement string that begins, locks and
    inserts every event (with the snapshots), then the commit.

    A stale stream is found by the unique index on (stream, version): another writer
    that changed it must have written the version our first new event takes. When the
    insert hits that index, the transaction is rolled back and done again the careful
    way: lock, read every stream's version, and insert only the groups found current.
    The connection is the appender's own, in autocommit mode, so the driver sends no
    BEGIN of its own; one append runs on it at a time.
    """

    def __init__(self, engine: sa.Engine, lock_timeout_ms: int):
        self.engine = engine
        self.lock_timeout_ms = int(lock_timeout_ms)
        self._connection: Any = None
        self._lock = threading.Lock()

    def append(
        self, writes: Sequence[StreamWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> Appended:
        if not writes:
            return Appended()
        with self._lock:
            cursor = self._connect().cursor()
            try:
                return self._append(cursor, writes, frozenset(), opened=False)
            except psycopg2.errors.UniqueViolation:
                self._rollback()
            try:
                stale = self._stale(cursor, writes)
                return self._append(cursor, writes, unwritable(stale, together), opened=True)
            except psycopg2.errors.UniqueViolation:
                # Only a writer that ignores the table lock could get here.
                self._rollback()
                return Appended(skipped=frozenset(w.originator_id for w in writes))
            except BaseException:
                self._rollback()
                raise

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _append(
        self, cursor: Any, writes: Sequence[StreamWrite], skipped: frozenset[UUID],
        opened: bool,
    ) -> Appended:
        """Inserts the writes not skipped and commits (in the transaction the careful
        way `opened`, or in a new one)."""
        kept = [write for write in writes if write.originator_id not in skipped]
        if not kept:
            if opened:
                cursor.execute("ROLLBACK")
            return Appended(skipped=skipped)
        opening = "" if opened else self._opening()
        try:
            cursor.execute(opening + self._insert_sql(cursor, kept))
            positions = {
                (UUID(stream), version): position
                for position, stream, version in cursor.fetchall()
            }
            cursor.execute("COMMIT")
        except psycopg2.errors.UniqueViolation:
            raise
        except BaseException:
            self._rollback()
            raise
        return Appended(positions, skipped)

    def _stale(self, cursor: Any, writes: Sequence[StreamWrite]) -> list[UUID]:
        cursor.execute(
            self._opening() + STORED_VERSIONS,
            ([str(write.originator_id) for write in writes],),
        )
        stored = {UUID(stream): version for stream, version in cursor.fetchall()}
        return [w.originator_id for w in writes
                if stored.get(w.originator_id, 0) != w.expected_version]

    def _opening(self) -> str:
        # NOTIFY wakes the projection worker; PostgreSQL delivers it only on commit.
        return (f"BEGIN; SET LOCAL lock_timeout = {self.lock_timeout_ms}; "
                f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE; NOTIFY {EVENTS_TABLE}; ")

    @staticmethod
    def _insert_sql(cursor: Any, kept: Sequence[StreamWrite]) -> str:
        """The snapshots, then the events in the order they were decided (their ids are
        assigned in that order, and come back as the statement's result)."""
        def values(stored: StoredEvent) -> str:
            return cursor.mogrify(  # type: ignore[no-any-return]
                "(%s::uuid,%s,%s,%s)",
                (str(stored.originator_id), stored.originator_version, stored.topic,
                 stored.state),
            ).decode()

        columns = "(originator_id, originator_version, topic, state)"
        snapshots = [write.snapshot for write in kept if write.snapshot is not None]
        saving_snapshots = (
            f"INSERT INTO {SNAPSHOTS_TABLE} {columns} VALUES "
            + ",".join(values(snapshot) for snapshot in snapshots) + "; "
        ) if snapshots else ""
        return (
            saving_snapshots
            + f"INSERT INTO {EVENTS_TABLE} {columns} VALUES "
            + ",".join(values(event) for write in kept for event in write.events)
            + " RETURNING id, originator_id::text, originator_version"
        )

    def _connect(self) -> Any:
        if self._connection is not None and _hung_up(self._connection):
            # Replaced now rather than failing the next append once the database is back.
            self._connection.invalidate()
            self._connection = None
        if self._connection is None:
            connection = self.engine.raw_connection()
            connection.driver_connection.autocommit = True
            self._connection = connection
        return self._connection

    def _rollback(self) -> None:
        """Ends a failed transaction, or drops a connection that cannot."""
        connection = self._connection
        if connection is None:
            return
        try:
            connection.cursor().execute("ROLLBACK")
        except Exception:
            self._connection = None
            connection.invalidate()


def _hung_up(connection: Any) -> bool:
    """Between appends the server has nothing to say: anything to read on the socket is
    its goodbye (it restarted, or the network dropped the connection)."""
    return bool(select.select([connection.driver_connection], [], [], 0)[0])


def components(streams: Sequence[UUID], together: Sequence[Iterable[UUID]]) -> dict[UUID, int]:
    """Numbers each stream by the group it must be written with (bound transitively)."""
    parent = {stream: stream for stream in streams}

    def root(stream: UUID) -> UUID:
        while parent[stream] != stream:
            parent[stream] = parent[parent[stream]]
            stream = parent[stream]
        return stream

    for bound in together:
        members = [stream for stream in bound if stream in parent]
        for stream in members[1:]:
            parent[root(stream)] = root(members[0])
    numbers: dict[UUID, int] = {}
    return {stream: numbers.setdefault(root(stream), len(numbers)) for stream in streams}


class SqliteAppender(EventAppender):
    """SQLite serialises writers itself: BEGIN IMMEDIATE takes the database's write lock
    before the versions are read. Within this process the library's own write lock is
    taken first, so our writers never wait on SQLite's busy timeout for each other."""

    def __init__(
        self, engine: sa.Engine, events: sa.Table, snapshots: sa.Table, write_lock: Any = None
    ):
        self.engine = engine
        self.events, self.snapshots = events, snapshots
        self.write_lock = write_lock or threading.Lock()

    def append(
        self, writes: Sequence[StreamWrite], together: Sequence[Iterable[UUID]] = ()
    ) -> Appended:
        if not writes:
            return Appended()
        events, snapshots = self.events, self.snapshots
        with self.write_lock, self.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                stored = sqlite_stored_versions(
                    connection, events, [write.originator_id for write in writes])
                skipped = unwritable(
                    (w.originator_id for w in writes
                     if stored.get(w.originator_id, 0) != w.expected_version),
                    together,
                )
                positions: dict[tuple[UUID, int], int] = {}
                for write in writes:
                    if write.originator_id in skipped:
                        continue
                    for event in write.events:
                        result = connection.execute(events.insert().values(_row(event)))
                        key = (write.originator_id, event.originator_version)
                        positions[key] = result.inserted_primary_key[0]
                    if write.snapshot is not None:
                        connection.execute(snapshots.insert().values(_row(write.snapshot)))
                connection.exec_driver_sql("COMMIT" if positions else "ROLLBACK")
                return Appended(positions, skipped)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise


def sqlite_stored_versions(
    connection: sa.Connection, events: sa.Table, streams: Sequence[UUID]
) -> dict[UUID, int]:
    """The stored version of each stream that has events (SQLite), asked in chunks that
    stay within SQLite's limit on bound parameters."""
    found: dict[UUID, int] = {}
    for start in range(0, len(streams), SQLITE_IDS_AT_ONCE):
        found.update(connection.execute(
            sa.select(events.c.originator_id, sa.func.max(events.c.originator_version))
            .where(events.c.originator_id.in_(streams[start:start + SQLITE_IDS_AT_ONCE]))
            .group_by(events.c.originator_id)
        ).tuples().all())
    return found


def _row(stored: StoredEvent) -> dict[str, Any]:
    return {
        "originator_id": stored.originator_id,
        "originator_version": stored.originator_version,
        "topic": stored.topic,
        "state": stored.state,
    }
