"""The raw PostgreSQL baselines: what the same rows cost without dualtrack.

Every baseline writes to a scratch table shaped like the event store's (a sequence id,
the stream's id and version under a unique index, a topic and a binary state of the
stored events' average width), or reads the read-model rows directly. The scratch table
holds as many rows as the event store (`fill_like_store`, at each size of the province),
so that the baseline's inserts walk indexes as deep as ours: each baseline removes only
the rows it added.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import psycopg2
import psycopg2.extras

SCRATCH = """
CREATE TABLE IF NOT EXISTS bench_rows (
    id BIGSERIAL PRIMARY KEY, originator_id UUID NOT NULL, originator_version INT NOT NULL,
    topic TEXT NOT NULL, state BYTEA NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS bench_rows_stream_idx
    ON bench_rows (originator_id, originator_version);
"""
INSERT = ("INSERT INTO bench_rows (originator_id, originator_version, topic, state) "
          "VALUES (%s, %s, %s, %s)")
TOPIC = "domain.events:RotationEntryRecorded"


def stored_event_width(dsn: str) -> int:
    """The average size in bytes of a stored event's state, so baselines write alike rows."""
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(avg(octet_length(state)), 400) FROM dualtrack_events")
        width = int(cursor.fetchone()[0])
    connection.close()
    return width


FILLED = "CREATE TABLE IF NOT EXISTS bench_rows_filled (up_to BIGINT NOT NULL)"


def fill_like_store(dsn: str) -> int:
    """Copies every stored event's row into the scratch table; returns how many."""
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(SCRATCH + FILLED)
        cursor.execute("TRUNCATE bench_rows, bench_rows_filled")
        cursor.execute(
            "INSERT INTO bench_rows (id, originator_id, originator_version, topic, state) "
            "SELECT id, originator_id, originator_version, topic, state FROM dualtrack_events"
        )
        filled = cursor.rowcount
        cursor.execute("SELECT setval(pg_get_serial_sequence('bench_rows', 'id'), "
                       "greatest(coalesce(max(id), 0), 1)) FROM bench_rows")
        cursor.execute("INSERT INTO bench_rows_filled SELECT coalesce(max(id), 0) FROM bench_rows")
    connection.close()
    connection = psycopg2.connect(dsn)
    try:
        connection.autocommit = True  # VACUUM runs outside a transaction
        connection.cursor().execute("VACUUM ANALYZE bench_rows")
    finally:
        connection.close()
    return int(filled)


def _scratch(connection: psycopg2.extensions.connection) -> None:
    """The scratch table as filled: what an earlier baseline added is removed."""
    with connection.cursor() as cursor:
        cursor.execute(SCRATCH + FILLED)
        cursor.execute("DELETE FROM bench_rows WHERE id > "
                       "(SELECT coalesce(max(up_to), 0) FROM bench_rows_filled)")
    connection.commit()


def single_row_commits(dsn: str, count: int, payload_size: int) -> float:
    """Rows/s inserting one row per transaction, one connection, one thread."""
    payload = os.urandom(payload_size)
    stream = str(uuid.uuid4())
    connection = psycopg2.connect(dsn)
    try:
        _scratch(connection)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            for version in range(1, count + 1):
                cursor.execute(INSERT, (stream, version, TOPIC, payload))
                connection.commit()
            elapsed = time.perf_counter() - started
    finally:
        connection.close()
    return count / elapsed


def single_row_commits_threads(dsn: str, count: int, payload_size: int, threads: int) -> float:
    """Rows/s inserting one row per transaction from `threads` threads, a connection each
    (the driver releases the GIL while it waits on the server)."""
    payload = os.urandom(payload_size)
    each = count // threads
    connections = [psycopg2.connect(dsn) for _ in range(threads)]
    try:
        _scratch(connections[0])

        def insert(connection: psycopg2.extensions.connection) -> None:
            stream = str(uuid.uuid4())
            with connection.cursor() as cursor:
                for version in range(1, each + 1):
                    cursor.execute(INSERT, (stream, version, TOPIC, payload))
                    connection.commit()

        workers = [threading.Thread(target=insert, args=(c,)) for c in connections]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return each * threads / elapsed


def multi_row_inserts(dsn: str, count: int, payload_size: int, batch: int) -> float:
    """Rows/s inserting `batch` rows per execute_values statement and transaction."""
    payload = os.urandom(payload_size)
    per_stream = 50
    rows = []
    for start in range(0, count, per_stream):
        stream = str(uuid.uuid4())
        rows.extend((stream, v, TOPIC, payload)
                    for v in range(1, min(per_stream, count - start) + 1))
    connection = psycopg2.connect(dsn)
    try:
        _scratch(connection)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            for start in range(0, count, batch):
                psycopg2.extras.execute_values(
                    cursor,
                    "INSERT INTO bench_rows (originator_id, originator_version, topic, state) "
                    "VALUES %s",
                    rows[start:start + batch], page_size=batch,
                )
                connection.commit()
            elapsed = time.perf_counter() - started
    finally:
        connection.close()
    return count / elapsed


def handbook_rows_latencies(dsn: str, trainee_id: str, repeats: int) -> tuple[list[float], int]:
    """Seconds per raw SELECT of one trainee's rotations and entries; and the entry count."""
    timings = []
    entries = 0
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            for _ in range(repeats):
                started = time.perf_counter()
                cursor.execute("SELECT * FROM rm_rotations WHERE trainee_id = %s ORDER BY start_on",
                               (trainee_id,))
                cursor.fetchall()
                cursor.execute(
                    "SELECT * FROM rm_rotation_entries WHERE trainee_id = %s "
                    "ORDER BY occurred_on, event_version", (trainee_id,),
                )
                entries = len(cursor.fetchall())
                connection.commit()
                timings.append(time.perf_counter() - started)
    finally:
        connection.close()
    return timings, entries


def read_every_event(dsn: str) -> tuple[float, int]:
    """Seconds to read every stored event row in log order, and how many there are: the
    least any check of the whole log must do."""
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT id, originator_id, originator_version, topic, state "
                           "FROM dualtrack_events ORDER BY id")
            rows = len(cursor.fetchall())
            elapsed = time.perf_counter() - started
            connection.commit()
    finally:
        connection.close()
    return elapsed, rows
