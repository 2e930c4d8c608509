"""Records a publication (a review or case analysis counts for R10)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def record_publication(
    info: Info, trainee_id: strawberry.ID, kind: str, title: str, published_on: date
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordPublication(
            trainee_id=parse_id(trainee_id, "traineeId"),
            publication_id=uuid4(),
            kind=kind,
            title=title,
            published_on=published_on,
        ),
    )
