"""What every mutation does: run the command as the caller (under the request's
idempotency key, if any), off the event loop, make it readable, report. Whether the
caller may is decided by the application (service.access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.idempotency import idempotency_of
from api.types import CommandResult, Info
from domain.commands import EnrollTrainee
from service import positions


async def run_command(info: Info, build: Callable[[], Any]) -> CommandResult:
    context = info.context
    principal = context.principal
    services = context.services
    idempotency = idempotency_of(info)

    def work() -> CommandResult:
        command = build()
        if isinstance(command, EnrollTrainee):
            outcome = services.records.enroll(command, principal, idempotency)
        else:
            outcome = services.records.execute(command, principal, idempotency)
        services.after_write(outcome)
        return CommandResult(
            position=positions.encode(outcome.notification_id),
            trainee_id=str(outcome.trainee_id),  # type: ignore[arg-type]
            id=None if outcome.subject_id is None else str(outcome.subject_id),  # type: ignore[arg-type]
        )

    return await context.run(work)  # type: ignore[no-any-return]
