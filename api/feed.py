"""The event feed as plain JSON over HTTP, for registries without a GraphQL client.

    GET /feed/events?after=<cursor>&limit=100&types=LicenceGranted,DegreeAwarded&baseId=...

returns `{"items": [...], "nextCursor": "...", "hasMore": false}`: the same events, order
and cursors as `Query.events`. Keep `nextCursor` and pass it back as `after`; a reader
that does so from the start sees every committed event once, in commit order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.errors import page_size, parse_id
from domain.errors import DomainError
from projections import queries
from service import positions
from service.bootstrap import Services
from service.feed import feed_item


def feed_router(services: Services) -> APIRouter:
    router = APIRouter()

    # A sync route: FastAPI runs it in its thread pool, off the event loop.
    @router.get("/feed/events")
    def events(
        after: str | None = None,
        limit: int = 100,
        types: str | None = Query(None, description="comma-separated event types"),
        trainee_id: str | None = Query(None, alias="traineeId"),
        base_id: str | None = Query(None, alias="baseId"),
    ) -> Any:
        try:
            size = page_size(limit, default=100, limit=1000, argument="limit")
            trainee = None if trainee_id is None else str(parse_id(trainee_id, "traineeId"))
            rows = queries.events_page(
                services.engine,
                after_position=positions.decode(after),
                limit=size + 1,
                trainee_id=trainee,
                types=[name.strip() for name in types.split(",") if name.strip()]
                if types else None,
                base_id=base_id,
            )
        except DomainError as error:
            return JSONResponse(
                {"error": {"code": error.code, "message": str(error)}}, status_code=400
            )
        items = [feed_item(row) for row in rows[:size]]
        return {
            "items": items,
            "nextCursor": items[-1]["position"] if items else after,
            "hasMore": len(rows) > size,
        }

    return router
