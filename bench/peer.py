"""The peer the HTTP figures are measured against: a plain FastAPI + SQLAlchemy JSON service.

No GraphQL, no events, no access control: what a CRUD service over the same tables would be.
`GET /trainees/{id}/handbook` returns the rows dualtrack's handbook query returns (the
trainee's figures, its rotations with their entries, its assessments and certificates),
read from the same rm_* tables of the same database; `POST /entries` inserts one row shaped
like the rm_rotation_entries row a RotationEntryRecorded event makes, into a scratch table
of that shape (peer_entries), in a transaction of its own, and answers its id.

It is written the way FastAPI documents: sync endpoints (FastAPI runs them in its thread
pool), pydantic models for bodies and answers (so FastAPI serialises them with pydantic's
JSON encoder), SQLAlchemy Core statements over a pooled engine.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from projections import tables as t

peer_metadata = sa.MetaData()
# The same columns and indexes as the read model's entries, so an insert costs the same.
peer_entries = t.rotation_entries.to_metadata(peer_metadata, name="peer_entries")

Row = dict[str, Any]
LATE_AFTER = timedelta(days=14)  # the service's default timely window (R8)


class EntryIn(BaseModel):
    trainee_id: str
    rotation_id: str
    kind: str
    occurred_on: date
    description: str


class EntryOut(BaseModel):
    id: str


class EntryView(BaseModel):
    id: str
    kind: str
    occurred_on: date
    description: str
    signed_by: str | None
    late: bool
    retracted: bool


class RotationView(BaseModel):
    id: str
    department: str
    entries: list[EntryView]


class AssessmentView(BaseModel):
    id: str
    kind: str
    overall: int | None
    passed: bool


class CertificateView(BaseModel):
    kind: str
    state: str
    unmet: list[str]


class HandbookView(BaseModel):
    clinical_months: float
    complete: bool
    missing: list[str]
    rotations: list[RotationView]
    assessments: list[AssessmentView]
    certificates: list[CertificateView]


def create_peer_app(engine: sa.Engine) -> FastAPI:
    app = FastAPI(title="dualtrack peer", docs_url=None, redoc_url=None)
    trainees, rotations, entries = t.trainees, t.rotations, t.rotation_entries
    assessments, certificates = t.assessments, t.certificates

    @app.get("/trainees/{trainee_id}/handbook")
    def handbook(trainee_id: str) -> HandbookView:
        with engine.connect() as connection:
            trainee = connection.execute(
                sa.select(trainees.c.clinical_months, trainees.c.handbook_complete,
                          trainees.c.handbook_missing)
                .where(trainees.c.id == trainee_id)
            ).one_or_none()
            if trainee is None:
                raise HTTPException(status_code=404, detail="no such trainee")
            rotation_rows = _dicts(connection.execute(
                sa.select(rotations.c.id, rotations.c.department)
                .where(rotations.c.trainee_id == trainee_id)
                .order_by(rotations.c.start_on, rotations.c.id)
            ))
            entry_rows = _dicts(connection.execute(
                sa.select(entries.c.rotation_id, entries.c.id, entries.c.kind,
                          entries.c.occurred_on, entries.c.description, entries.c.signed_by,
                          entries.c.late, entries.c.retracted)
                .where(entries.c.trainee_id == trainee_id)
                .order_by(entries.c.occurred_on, entries.c.event_version)
            ))
            assessment_rows = _dicts(connection.execute(
                sa.select(assessments.c.id, assessments.c.kind, assessments.c.overall,
                          assessments.c.passed)
                .where(assessments.c.trainee_id == trainee_id)
                .order_by(assessments.c.occurred_on, assessments.c.event_version)
            ))
            certificate_rows = _dicts(connection.execute(
                sa.select(certificates.c.kind, certificates.c.state, certificates.c.unmet)
                .where(certificates.c.trainee_id == trainee_id)
                .order_by(certificates.c.kind)
            ))
        by_rotation: dict[str, list[Row]] = defaultdict(list)
        for row in entry_rows:
            by_rotation[row["rotation_id"]].append(row)
        return {  # type: ignore[return-value]  # FastAPI validates it into HandbookView
            "clinical_months": trainee.clinical_months,
            "complete": trainee.handbook_complete,
            "missing": trainee.handbook_missing,
            "rotations": [rotation | {"entries": by_rotation[rotation["id"]]}
                          for rotation in rotation_rows],
            "assessments": assessment_rows,
            "certificates": certificate_rows,
        }

    @app.post("/entries")
    def record_entry(entry: EntryIn) -> EntryOut:
        entry_id = str(uuid.uuid4())
        recorded_at = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(sa.insert(peer_entries).values(
                id=entry_id, trainee_id=entry.trainee_id, rotation_id=entry.rotation_id,
                event_version=0,  # no events here: the row is the record
                kind=entry.kind, occurred_on=entry.occurred_on, description=entry.description,
                recorded_at=recorded_at, late=recorded_at.date() - entry.occurred_on > LATE_AFTER,
                signed_by=None, signed_at=None, retracted=False, retraction_reason=None,
            ))
        return EntryOut(id=entry_id)

    return app


def _dicts(result: sa.CursorResult[Any]) -> list[Row]:
    """Rows as dicts, which pydantic validates fastest (SQLAlchemy's own Row._asdict and
    RowMapping build each row's keys anew, and from_attributes reads them one by one)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def peer_engine(url: sa.URL | str) -> sa.Engine:
    """The peer's own pool over the same database (SQLAlchemy's default pool)."""
    return sa.create_engine(url)


def create_peer_tables(engine: sa.Engine) -> None:
    peer_metadata.create_all(engine, checkfirst=True)


def drop_peer_tables(engine: sa.Engine) -> None:
    peer_metadata.drop_all(engine, checkfirst=True)
