"""Reads over the read models, batched by id so that a request costs a fixed number of
statements however many rotations or entries a trainee has."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from domain.quality import Sitting
from domain.values import AssessmentKind
from projections import tables as t
from projections.scopes import visible_to
from service.access import Visibility

Row = dict[str, Any]


def _fetch(engine: sa.Engine, statement: sa.Select[Any]) -> list[Row]:
    with engine.connect() as connection:
        result = connection.execute(statement)
        # Zipping with the keys read once: RowMapping and Row._asdict work the keys out
        # again for every row, which costs more than the query on a long handbook.
        keys = tuple(result.keys())
        return [dict(zip(keys, row, strict=True)) for row in result]


def _grouped(rows: list[Row], key: str, keys: Sequence[str]) -> list[list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return [groups.get(k, []) for k in keys]


def trainees_by_id(engine: sa.Engine, ids: Sequence[str]) -> list[Row | None]:
    rows = _fetch(engine, sa.select(t.trainees).where(t.trainees.c.id.in_(ids)))
    found = {row["id"]: row for row in rows}
    return [found.get(i) for i in ids]


def list_trainees(
    engine: sa.Engine,
    *,
    base_id: str | None,
    specialty: str | None,
    cohort: int | None,
    after_id: str | None,
    limit: int,
    visibility: Visibility,
) -> list[Row]:
    statement = (
        sa.select(t.trainees).where(visible_to(visibility)).order_by(t.trainees.c.id).limit(limit)
    )
    if base_id is not None:
        statement = statement.where(t.trainees.c.base_id == base_id)
    if specialty is not None:
        statement = statement.where(t.trainees.c.specialty == specialty)
    if cohort is not None:
        statement = statement.where(t.trainees.c.cohort == cohort)
    if after_id is not None:
        statement = statement.where(t.trainees.c.id > after_id)
    return _fetch(engine, statement)


def _children(
    engine: sa.Engine, table: sa.Table, parent: str, keys: Sequence[str], *order: str
) -> list[list[Row]]:
    """Rows of `table` for each parent key, in the given order, in one statement."""
    statement = (
        sa.select(table)
        .where(table.c[parent].in_(keys))
        .order_by(*(table.c[column] for column in order))
    )
    return _grouped(_fetch(engine, statement), parent, keys)


def tutors_by_trainee(engine: sa.Engine, ids: Sequence[str]) -> list[list[Row]]:
    return _children(engine, t.tutor_assignments, "trainee_id", ids, "event_version")


def rotations_by_trainee(engine: sa.Engine, ids: Sequence[str]) -> list[list[Row]]:
    return _children(engine, t.rotations, "trainee_id", ids, "start_on", "id")


def entries_by_rotation(engine: sa.Engine, rotation_ids: Sequence[str]) -> list[list[Row]]:
    return _children(
        engine, t.rotation_entries, "rotation_id", rotation_ids, "occurred_on", "event_version"
    )


# What a handbook shows of an entry (api.types.RotationEntry), and the key it is grouped by.
HANDBOOK_ENTRY_COLUMNS = ("rotation_id", "id", "kind", "occurred_on", "description",
                          "signed_by", "late", "retracted")


def handbook_entries_by_rotation(
    engine: sa.Engine, rotation_ids: Sequence[str]
) -> list[list[Row]]:
    """The entries of each rotation as a handbook shows them: the columns it reads only, as
    a handbook may hold thousands of entries."""
    e = t.rotation_entries
    statement = (
        sa.select(*(e.c[column] for column in HANDBOOK_ENTRY_COLUMNS))
        .where(e.c.rotation_id.in_(rotation_ids))
        .order_by(e.c.occurred_on, e.c.event_version)
    )
    return _grouped(_fetch(engine, statement), "rotation_id", rotation_ids)


def assessments_by_trainee(engine: sa.Engine, ids: Sequence[str]) -> list[list[Row]]:
    return _children(engine, t.assessments, "trainee_id", ids, "occurred_on", "event_version")


def certificates_by_trainee(engine: sa.Engine, ids: Sequence[str]) -> list[list[Row]]:
    return _children(engine, t.certificates, "trainee_id", ids, "kind")


def versions_by_trainee(engine: sa.Engine, ids: Sequence[str]) -> list[list[Row]]:
    """Each trainee's versions, oldest first: the audit rows without their data."""
    a = t.audit_events
    statement = (
        sa.select(a.c.trainee_id, a.c.version, a.c.position, a.c.type, a.c.occurred_on,
                  a.c.recorded_at, a.c.actor)
        .where(a.c.trainee_id.in_(ids))
        .order_by(a.c.position)
    )
    return _grouped(_fetch(engine, statement), "trainee_id", ids)


def events_page(
    engine: sa.Engine,
    *,
    after_position: int,
    limit: int,
    trainee_id: str | None = None,
    types: Sequence[str] | None = None,
    base_id: str | None = None,
    up_to_position: int | None = None,
) -> list[Row]:
    """Projected events after a position, in commit order.

    The projector writes audit rows in log order and commits each batch with its tracking
    record, so a reader that resumes after the last position it saw never skips an event
    and never sees one twice, whatever gaps the id sequence has.
    """
    table = t.audit_events
    statement = (
        sa.select(table)
        .where(table.c.position > after_position)
        .order_by(table.c.position)
        .limit(limit)
    )
    if trainee_id is not None:
        statement = statement.where(table.c.trainee_id == trainee_id)
    if types:
        statement = statement.where(table.c.type.in_(list(types)))
    if up_to_position is not None:
        statement = statement.where(table.c.position <= up_to_position)
    if base_id is not None:
        of_base = sa.select(t.trainees.c.id).where(t.trainees.c.base_id == base_id)
        statement = statement.where(table.c.trainee_id.in_(of_base))
    return _fetch(engine, statement)


def exam_sittings(engine: sa.Engine) -> tuple[list[Sitting], list[Sitting]]:
    """Every completion-exam and licensing-exam sitting, with the trainee's base,
    specialty and university, for the R14 quality figures."""
    trainees, assessments, records = t.trainees, t.assessments, t.academic_records
    who = (trainees.c.id, trainees.c.base_id, trainees.c.specialty, trainees.c.university)
    completion = _fetch(
        engine,
        sa.select(*who, assessments.c.occurred_on, assessments.c.passed, assessments.c.ratings)
        .join(assessments, assessments.c.trainee_id == trainees.c.id)
        .where(assessments.c.kind == AssessmentKind.COMPLETION_EXAM.value),
    )
    licence = _fetch(
        engine,
        sa.select(*who, records.c.occurred_on, records.c.passed)
        .join(records, records.c.trainee_id == trainees.c.id)
        .where(records.c.kind == "LicensingExamRecorded"),
    )
    return [_sitting(row) for row in completion], [_sitting(row) for row in licence]


def _sitting(row: Row) -> Sitting:
    parts = row.get("ratings") or {}
    return Sitting(
        trainee_id=row["id"],
        base_id=row["base_id"],
        specialty=row["specialty"],
        university=row["university"],
        year=row["occurred_on"].year,
        passed=bool(row["passed"]),
        theory_passed=parts.get("theory"),
    )
