"""The raw PostgreSQL baselines: what the same rows cost without dualtrack."""

from __future__ import annotations

import os
import time
import uuid

import psycopg2
import psycopg2.extras

SCRATCH = """CREATE TABLE IF NOT EXISTS bench_rows (
    id BIGSERIAL PRIMARY KEY, originator_id UUID NOT NULL, originator_version INT NOT NULL,
    topic TEXT NOT NULL, state BYTEA NOT NULL)"""


def _row(payload: bytes) -> tuple[str, int, str, bytes]:
    return (str(uuid.uuid4()), 1, "domain.events:RotationEntryRecorded", payload)


def single_row_commits(dsn: str, count: int, payload_size: int) -> float:
    """Rows/s inserting one row per transaction, one connection."""
    payload = os.urandom(payload_size)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(SCRATCH)
        connection.commit()
        started = time.perf_counter()
        for _ in range(count):
            cursor.execute(
                "INSERT INTO bench_rows (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)", _row(payload),
            )
            connection.commit()
        elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def multi_row_inserts(dsn: str, count: int, payload_size: int, batch: int) -> float:
    """Rows/s inserting `batch` rows per statement and transaction."""
    payload = os.urandom(payload_size)
    rows = [_row(payload) for _ in range(count)]
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(SCRATCH)
        connection.commit()
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
    connection.close()
    return count / elapsed


def handbook_rows_latencies(dsn: str, trainee_id: str, repeats: int) -> list[float]:
    """Seconds per raw SELECT of one trainee's rotations and entries."""
    timings = []
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        for _ in range(repeats):
            started = time.perf_counter()
            cursor.execute("SELECT * FROM rm_rotations WHERE trainee_id = %s", (trainee_id,))
            cursor.fetchall()
            cursor.execute(
                "SELECT * FROM rm_rotation_entries WHERE trainee_id = %s "
                "ORDER BY occurred_on, event_version", (trainee_id,),
            )
            cursor.fetchall()
            timings.append(time.perf_counter() - started)
    connection.close()
    return timings
