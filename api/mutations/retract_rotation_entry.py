"""Retracts a handbook entry; the entry and its retraction both stay on record."""

from __future__ import annotations

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def retract_rotation_entry(
    info: Info, trainee_id: strawberry.ID, entry_id: strawberry.ID, reason: str
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RetractRotationEntry(
            trainee_id=parse_id(trainee_id, "traineeId"),
            entry_id=parse_id(entry_id, "entryId"),
            reason=reason,
        ),
    )
