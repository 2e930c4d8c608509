"""The Subscription root: every event in commit order, caught up from a position, then live.

A subscriber reads projected events after its position but never beyond the position the
read models had reached when it looked (rows and tracking commit together, so everything
up to there is visible, and nothing is half-visible). It then waits for the read models
to move on (projections.progress) and reads again. So no event is skipped or repeated,
whatever gaps the id sequence has, and a client that reconnects with the last position
it received resumes exactly there.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial

import strawberry

from api.personal import with_personal_fields
from api.types import Event, Info
from projections import queries
from service import access, positions

PAGE = 500
WAKE_AT_LEAST_EVERY = 5.0  # seconds: a subscriber re-reads even if no wake-up came


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Catch-up from after, then live: every event in commit order, none "
        "skipped, none twice."
    )
    async def events(
        self,
        info: Info,
        after: str | None = None,
        types: list[str] | None = None,
        base_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        services = context.services
        base = access.check_feed(context.principal, None if base_id is None else str(base_id))
        scanned = positions.decode(after)
        while True:
            reached = await info.context.run(services.projector.position)
            while scanned < reached:
                rows = await info.context.run(partial(
                    queries.events_page, services.engine, after_position=scanned,
                    up_to_position=reached, limit=PAGE, types=types, base_id=base,
                ))
                shown = await context.run(partial(
                    with_personal_fields, services.records, context.principal, rows
                ))
                for row in shown:
                    yield Event.of(row)
                scanned = rows[-1]["position"] if len(rows) == PAGE else reached
            await services.progress.wait_beyond(scanned, WAKE_AT_LEAST_EVERY)
