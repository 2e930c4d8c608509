"""The Query root: trainees and the event feed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry

from api.as_of import TraineeChanges, trainee_as_of, trainee_changes
from api.errors import page_size, parse_id
from api.integrity import (
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    IntegrityReport,
    checkpoints,
    consistency_proof,
    inclusion_proof,
    verify_integrity,
)
from api.personal import with_personal_fields
from api.quality import QualityFigure, UniversityFigure, quality_figures, university_figures
from api.types import Event, EventConnection, Info, Trainee, TraineeConnection
from api.webhooks import (
    WebhookDeliveryConnection,
    WebhookEndpoint,
    webhook,
    webhook_deliveries,
    webhooks,
)
from domain.errors import InvalidCommand
from projections import queries
from service import access, positions
from service.principals import Role

LOOKUP_ROLES = frozenset({Role.BASE_ADMIN, Role.SCHOOL_ADMIN, Role.AUDITOR})
MAX_NATIONAL_ID = 32


async def event_page(
    info: Info, *, after: str | None, first: int | None, trainee_id: str | None = None,
    types: list[str] | None = None,
) -> EventConnection:
    """Events of one trainee the caller may read, or of the bases whose feed it may read."""
    context = info.context
    size = page_size(first, default=100)
    base_id = None
    if trainee_id is None:
        base_id = access.check_feed(context.principal, None)
    else:
        await context.readable_scope(UUID(trainee_id))
    rows = await context.run(
        partial(
            queries.events_page,
            context.services.engine,
            after_position=positions.decode(after),
            limit=size + 1,
            trainee_id=trainee_id,
            types=types,
            base_id=base_id,
        )
    )
    shown = await context.run(
        partial(with_personal_fields, context.services.records, context.principal, rows[:size])
    )
    items = [Event.of(row) for row in shown]
    has_more = len(rows) > size
    return EventConnection(
        items=items, has_more=has_more, next_cursor=items[-1].position if items else after
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="A trainee as recorded now, or as the record stood at asOf (recorded time)."
    )
    async def trainee(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: Annotated[datetime | None, strawberry.argument(
            description="A recorded time with its zone: the record computed from the events "
            "recorded up to then (null before enrollment).")] = None,
        version: Annotated[int | None, strawberry.argument(
            description="A version of the record, computed from its events up to it.")] = None,
    ) -> Trainee | None:
        trainee_id = parse_id(id, "id")
        if as_of is not None or version is not None:
            await info.context.readable_scope(trainee_id)
            return await trainee_as_of(info, trainee_id, as_of=as_of, version=version)
        info.context.authenticate()
        # Read while the scope is checked, one round trip instead of two; shown only if the
        # check passes.
        record = info.context.trainees.load(str(trainee_id))
        try:
            await info.context.readable_scope(trainee_id)
        except BaseException:
            # Left unawaited: its own failure (the same outage, say) is already reported.
            record.add_done_callback(_consume)
            raise
        row = await record
        return None if row is None else Trainee(row=row)

    @strawberry.field(
        description="The trainee enrolled under a national ID, found by a keyed digest: the "
        "ID itself is stored only encrypted (README, Personal data)."
    )
    async def trainee_by_national_id(self, info: Info, national_id: str) -> Trainee | None:
        context = info.context
        access.require_any(context.principal, LOOKUP_ROLES, "look trainees up by national ID")
        if not 0 < len(national_id.strip()) <= MAX_NATIONAL_ID:
            raise InvalidCommand(f"nationalId must be 1-{MAX_NATIONAL_ID} characters")
        trainee_id = await context.run(
            partial(context.services.records.find_by_national_id, national_id)
        )
        if trainee_id is None:
            return None
        await context.readable_scope(trainee_id)
        row = await context.trainees.load(str(trainee_id))
        return None if row is None else Trainee(row=row)

    trainee_changes: TraineeChanges = strawberry.field(
        resolver=trainee_changes,
        description="What changed in a trainee's record between two versions, computed from "
        "the events: the events between and every changed field.",
    )

    @strawberry.field
    async def trainees(
        self,
        info: Info,
        base_id: strawberry.ID | None = None,
        specialty: str | None = None,
        cohort: int | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> TraineeConnection:
        size = page_size(first, default=50)
        after_id = None if after is None else str(_trainee_cursor(after))
        visibility = access.visibility(info.context.principal)
        rows = await info.context.run(
            partial(
                queries.list_trainees,
                info.context.services.engine,
                base_id=base_id,
                specialty=specialty,
                cohort=cohort,
                after_id=after_id,
                limit=size + 1,
                visibility=visibility,
            )
        )
        items = [Trainee(row=row) for row in rows[:size]]
        return TraineeConnection(
            items=items,
            has_more=len(rows) > size,
            next_cursor=items[-1].row["id"] if items else after,
        )

    @strawberry.field(
        description="All events in commit order; after is an opaque cursor taken from "
        "Event.position."
    )
    async def events(
        self,
        info: Info,
        after: str | None = None,
        first: int | None = 100,
        trainee_id: strawberry.ID | None = None,
        types: list[str] | None = None,
    ) -> EventConnection:
        trainee = None if trainee_id is None else str(parse_id(trainee_id, "traineeId"))
        return await event_page(info, after=after, first=first, trainee_id=trainee, types=types)


    quality_figures: list[QualityFigure] = strawberry.field(
        resolver=quality_figures,
        description="R14: completion- and licence-exam candidates and pass rates per base, "
        "specialty and year, with the enrollment-cut warnings.",
    )
    verify_integrity: IntegrityReport = strawberry.field(
        resolver=verify_integrity,
        description="Recomputes the hash chain of one trainee's stream, or of the whole log.",
    )
    checkpoints: list[Checkpoint] = strawberry.field(
        resolver=checkpoints, description="Signed checkpoints of the log, newest first."
    )
    inclusion_proof: InclusionProof = strawberry.field(
        resolver=inclusion_proof,
        description="Proves the event at a position is in a signed checkpoint (the latest, "
        "or the one of treeSize).",
    )
    consistency_proof: ConsistencyProof = strawberry.field(
        resolver=consistency_proof,
        description="Proves the checkpoint of toSize (default: the latest) extends the one "
        "of fromSize.",
    )
    university_figures: list[UniversityFigure] = strawberry.field(
        resolver=university_figures,
        description="R14: licence-exam pass rates per university and year, with warnings.",
    )
    webhooks: list[WebhookEndpoint] = strawberry.field(
        resolver=webhooks, description="The registries' webhook endpoints (without secrets)."
    )
    webhook: WebhookEndpoint | None = strawberry.field(resolver=webhook)
    webhook_deliveries: WebhookDeliveryConnection = strawberry.field(
        resolver=webhook_deliveries,
        description="An endpoint's delivery log, in log order: attempts, last status or "
        "error, next attempt, state.",
    )


def _trainee_cursor(after: str) -> object:
    try:
        return parse_id(after, "after")
    except InvalidCommand:
        raise InvalidCommand(f"after is not a cursor this service issued: {after!r}") from None


def _consume(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
