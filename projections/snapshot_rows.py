"""What a view snapshot holds, in bytes: the rows a replay's handlers changed in its
scratch database between two versions, and the recorded times of the events between.

The rows travel as a small SQLite database of their own (each scratch table's changed
rows with their rowids, and the rowids deleted), compressed. Loading one is attaching
it and copying its rows across in SQL, so a chain of snapshots becomes a scratch
database without a Python object per row; rowids are kept, so the database is the one
the handlers built, row for row.
"""

from __future__ import annotations

import sqlite3
import zlib
from array import array
from collections.abc import Sequence
from functools import cache
from typing import Any

from projections import tables as t

# The scratch database's rows: table name -> rowid -> the row's stored values.
State = dict[str, dict[int, tuple[Any, ...]]]
# One snapshot's changes: table name -> (rows new or changed, with their rowid first;
# rowids deleted).
Changes = dict[str, tuple[list[tuple[Any, ...]], list[int]]]

DELETED = "_deleted"
ROWID = "_rowid"


class Malformed(Exception):
    pass


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


@cache
def _tables() -> dict[str, list[str]]:
    """Each scratch table's columns, in order (the scratch database is made from them)."""
    return {table.name: [column.name for column in table.columns]
            for table in t.metadata.sorted_tables}


@cache
def _packed_table(name: str) -> str:
    # No declared types: each value is kept exactly as the scratch table held it.
    return f'CREATE TABLE "{name}" ({_quoted([ROWID, *_tables()[name]])})'


@cache
def _copy_across(name: str) -> str:
    columns = _quoted(_tables()[name])
    return (f'INSERT OR REPLACE INTO main."{name}" (rowid, {columns}) '
            f'SELECT "{ROWID}", {columns} FROM packed."{name}"')


_PACKED_DELETED = f'CREATE TABLE "{DELETED}" (tbl TEXT NOT NULL, rid INTEGER NOT NULL)'


def read_state(raw: sqlite3.Connection) -> State:
    return {name: {row[0]: row[1:] for row in raw.execute(f'SELECT rowid, * FROM "{name}"')}
            for name in _tables()}


def changes(before: State, after: State) -> Changes:
    """The rows of `after` new or different since `before`, and the rowids gone."""
    found = {}
    for name, rows in after.items():
        old = before.get(name, {})
        upserts = [(rowid, *row) for rowid, row in rows.items() if old.get(rowid) != row]
        deletes = [rowid for rowid in old if rowid not in rows]
        if upserts or deletes:
            found[name] = (upserts, deletes)
    return found


def encode_changes(found: Changes) -> bytes:
    """The changes as a compressed SQLite database of the changed tables (each with a
    leading rowid column) and the rowids deleted."""
    packed = sqlite3.connect(":memory:")
    try:
        packed.execute(_PACKED_DELETED)
        for name, (upserts, deletes) in found.items():
            packed.execute(_packed_table(name))
            marks = ", ".join("?" * (len(_tables()[name]) + 1))
            packed.executemany(f'INSERT INTO "{name}" VALUES ({marks})', upserts)
            packed.executemany(f'INSERT INTO "{DELETED}" VALUES (?, ?)',
                               [(name, rowid) for rowid in deletes])
        packed.commit()
        return zlib.compress(packed.serialize(), 6)
    finally:
        packed.close()


def load_changes(raw: sqlite3.Connection, data: bytes) -> None:
    """Applies one snapshot's changes to the scratch database: deletions, then the rows
    new or changed, under their own rowids. Its tables are checked first to be exactly
    those encode_changes makes; a malformed one changes nothing."""
    try:
        image = zlib.decompress(data)
    except zlib.error:
        raise Malformed("its rows are not compressed data") from None
    raw.commit()
    # Attached afresh each time: SQLite keeps an attached database's schema across a
    # deserialize into it, so the tables of the one before would be seen.
    raw.execute("ATTACH DATABASE ':memory:' AS packed")
    try:
        try:
            raw.deserialize(image, name="packed")
            found = dict(raw.execute(
                "SELECT name, sql FROM packed.sqlite_master WHERE type = 'table'").fetchall())
        except sqlite3.DatabaseError:
            raise Malformed("its rows are not a database") from None
        if found.pop(DELETED, None) != _PACKED_DELETED:
            raise Malformed("its deletions are missing")
        tables = _tables()
        for name, sql in found.items():
            if name not in tables or sql != _packed_table(name):
                raise Malformed(f"its rows of {name} do not fit the scratch tables")
        deleted_from = {
            row[0] for row in raw.execute(f'SELECT DISTINCT tbl FROM packed."{DELETED}"')
        }
        if not deleted_from <= tables.keys():
            raise Malformed("it deletes from a table the scratch database does not have")
        for name in deleted_from:
            raw.execute(f'DELETE FROM main."{name}" WHERE rowid IN '
                        f'(SELECT rid FROM packed."{DELETED}" WHERE tbl = ?)', (name,))
        for name in found:
            raw.execute(_copy_across(name))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.execute("DETACH DATABASE packed")


def encode_timeline(recorded: Sequence[int]) -> bytes:
    """Recorded times (microseconds since the epoch) as compressed differences."""
    steps = array("q", (b - a for a, b in zip([0, *recorded[:-1]], recorded, strict=True)))
    return zlib.compress(steps.tobytes())


def decode_timeline(data: bytes, expected: int) -> list[int]:
    steps = array("q")
    try:
        steps.frombytes(zlib.decompress(data))
    except (zlib.error, ValueError):
        raise Malformed("its timeline is malformed") from None
    if len(steps) != expected:
        raise Malformed(f"its timeline holds {len(steps)} times for {expected} events")
    recorded, total = [], 0
    for step in steps:
        total += step
        recorded.append(total)
    return recorded
