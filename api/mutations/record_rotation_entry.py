"""Records a handbook entry (case, procedure, duty shift, ...) in a rotation."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, EntryKind, Info
from domain import commands as c


async def record_rotation_entry(
    info: Info,
    trainee_id: strawberry.ID,
    rotation_id: strawberry.ID,
    kind: EntryKind,
    occurred_on: date,
    description: str,
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordRotationEntry(
            trainee_id=parse_id(trainee_id, "traineeId"),
            entry_id=uuid4(),
            rotation_id=parse_id(rotation_id, "rotationId"),
            kind=kind.value,
            occurred_on=occurred_on,
            description=description,
        ),
    )
