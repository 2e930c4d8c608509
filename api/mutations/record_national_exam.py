"""Records an equivalent-degree applicant's national foreign-language or subject exam (R11)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info, NationalExam
from domain import commands as c


async def record_national_exam(
    info: Info, trainee_id: strawberry.ID, exam: NationalExam, sitting_on: date, passed: bool
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordNationalExam(
            trainee_id=parse_id(trainee_id, "traineeId"),
            exam=exam.value,
            sitting_on=sitting_on,
            passed=passed,
        ),
    )
