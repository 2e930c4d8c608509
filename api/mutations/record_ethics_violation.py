"""Records an ethics violation (R13: a confirmed one vetoes the evaluation)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def record_ethics_violation(
    info: Info, trainee_id: strawberry.ID, occurred_on: date, description: str, confirmed: bool
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordEthicsViolation(
            trainee_id=parse_id(trainee_id, "traineeId"),
            violation_id=uuid4(),
            occurred_on=occurred_on,
            description=description,
            confirmed=confirmed,
        ),
    )
