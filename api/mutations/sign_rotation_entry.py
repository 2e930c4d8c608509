"""The rotation's tutor signs a handbook entry (R8)."""

from __future__ import annotations

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def sign_rotation_entry(
    info: Info, trainee_id: strawberry.ID, entry_id: strawberry.ID, tutor_id: strawberry.ID
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.SignRotationEntry(
            trainee_id=parse_id(trainee_id, "traineeId"),
            entry_id=parse_id(entry_id, "entryId"),
            tutor_id=str(tutor_id),
        ),
    )
