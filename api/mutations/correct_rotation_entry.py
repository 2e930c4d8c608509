"""Corrects a handbook entry's content. The recorded entry and the correction both stay on
record, side by side in the audit trail; the corrected entry must be signed again."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, EntryKind, Info
from domain import commands as c


async def correct_rotation_entry(
    info: Info,
    trainee_id: strawberry.ID,
    entry_id: strawberry.ID,
    kind: EntryKind,
    occurred_on: date,
    description: str,
    reason: str,
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.CorrectRotationEntry(
            trainee_id=parse_id(trainee_id, "traineeId"),
            entry_id=parse_id(entry_id, "entryId"),
            kind=kind.value,
            occurred_on=occurred_on,
            description=description,
            reason=reason,
        ),
    )
