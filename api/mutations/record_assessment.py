"""Records a process assessment or exam (Mini-CEX and DOPS against their forms)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import strawberry
from strawberry.scalars import JSON

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import AssessmentKind, CommandResult, Info
from domain import commands as c


async def record_assessment(
    info: Info,
    trainee_id: strawberry.ID,
    kind: AssessmentKind,
    occurred_on: date,
    assessor_id: strawberry.ID | None = None,
    rotation_id: strawberry.ID | None = None,
    overall: int | None = None,
    passed: bool | None = None,
    ratings: JSON | None = None,
) -> CommandResult:
    ratings_value: Any = ratings
    return await run_command(
        info,
        lambda: c.RecordAssessment(
            trainee_id=parse_id(trainee_id, "traineeId"),
            assessment_id=uuid4(),
            kind=kind.value,
            occurred_on=occurred_on,
            assessor_id=None if assessor_id is None else str(assessor_id),
            rotation_id=None if rotation_id is None else parse_id(rotation_id, "rotationId"),
            overall=overall,
            passed=passed,
            ratings=ratings_value,
        ),
    )
