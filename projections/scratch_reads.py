"""A replay's rows read back from its scratch SQLite database, quickly.

The same statements and ordering as projections.queries (which serve the live read
models, and which projections.replay._read_view uses on any engine), run on the raw
sqlite3 connection, each value passed through the very result processor SQLAlchemy
would apply for its column type on that dialect. Only SQLAlchemy's row objects are left
out: for a 3,000-event record they cost more than the SQL itself.
tests/storage/test_replay.py holds the two readers equal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from functools import cache
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from projections import tables as t
from projections.trainee_view import Row, TraineeView

Processor = Callable[[Any], Any]
# A scratch database's engine is SQLite with default options, so its dialect processes
# values exactly as this one does.
DIALECT = sqlite.dialect()


@cache
def _shape(table: sa.Table) -> tuple[str, list[str], list[tuple[int, Processor]], list[int]]:
    """The table's SELECT, its column names, the processor of each column that has one,
    and which of those columns hold JSON."""
    names = [column.name for column in table.columns]
    processors, documents = [], []
    for index, column in enumerate(table.columns):
        processor = column.type.dialect_impl(DIALECT).result_processor(DIALECT, None)
        if processor is not None:
            processors.append((index, processor))
        if isinstance(column.type, sa.JSON):
            documents.append(index)
    return f'SELECT {_quoted(names)} FROM "{table.name}"', names, processors, documents


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _documents(values: Sequence[Any], processor: Processor) -> list[Any]:
    """A JSON column's values, the texts parsed in one json.loads call rather than one
    per row (the audit trail holds two JSON columns per event); anything else (NULL, a
    number SQLite's affinity made of one) through the column's own processor."""
    texts = [value for value in values if isinstance(value, str)]
    try:
        parsed = json.loads(f"[{','.join(texts)}]")
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or len(parsed) != len(texts):
        return [processor(value) for value in values]  # raises on the bad one, as usual
    found = iter(parsed)
    return [next(found) if isinstance(value, str) else processor(value) for value in values]


def _fetch(raw: sqlite3.Connection, table: sa.Table, where: str, keys: Sequence[Any],
           order: Sequence[str]) -> list[dict[str, Any]]:
    select, names, processors, documents = _shape(table)
    marks = ", ".join("?" * len(keys))
    ordered = f" ORDER BY {', '.join(order)}" if order else ""
    stored = raw.execute(f"{select} WHERE {where} IN ({marks}){ordered}", list(keys)).fetchall()
    if not stored:
        return []
    # Column by column: each processor mapped over a whole column, in C.
    columns: list[Sequence[Any]] = list(zip(*stored, strict=True))
    for index, processor in processors:
        if index in documents:
            columns[index] = _documents(columns[index], processor)
        else:
            columns[index] = list(map(processor, columns[index]))
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _frozen(rows: list[dict[str, Any]]) -> tuple[Row, ...]:
    return tuple(MappingProxyType(row) for row in rows)


def read_view(raw: sqlite3.Connection, trainee_id: str) -> TraineeView | None:
    """The trainee's rows as projections.replay._read_view reads them from any engine."""
    found = _fetch(raw, t.trainees, "id", [trainee_id], ())
    if not found:
        return None
    rotations = _fetch(raw, t.rotations, "trainee_id", [trainee_id],
                       ("start_on", "id"))
    rotation_ids = [row["id"] for row in rotations]
    entries: dict[str, list[dict[str, Any]]] = {rotation: [] for rotation in rotation_ids}
    if rotation_ids:
        for row in _fetch(raw, t.rotation_entries, "rotation_id", rotation_ids,
                          ("occurred_on", "event_version")):
            entries[row["rotation_id"]].append(row)

    def children(table: sa.Table, *order: str) -> tuple[Row, ...]:
        return _frozen(_fetch(raw, table, "trainee_id", [trainee_id], order))

    return TraineeView(
        trainee=MappingProxyType(found[0]),
        tutors=children(t.tutor_assignments, "event_version"),
        rotations=_frozen(rotations),
        entries=MappingProxyType({rid: _frozen(rows) for rid, rows in entries.items()}),
        assessments=children(t.assessments, "occurred_on", "event_version"),
        certificates=children(t.certificates, "kind"),
        audit=children(t.audit_events, "position"),
    )
