"""The event feed as plain JSON over HTTP, for registries without a GraphQL client.

    GET /feed/events?after=<cursor>&limit=100&types=LicenceGranted,DegreeAwarded&baseId=...
    Authorization: Bearer <token>

returns `{"items": [...], "nextCursor": "...", "hasMore": false}`: the same events, order
and cursors as `Query.events`. Keep `nextCursor` and pass it back as `after`; a reader
that does so from the start sees every committed event once, in commit order. A registry
reads its own base's events only (service.access).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from api.context import bearer_token
from api.errors import page_size, parse_id
from api.personal import with_personal_fields
from domain.errors import DomainError, InvalidCommand
from domain.guards import unstorable
from projections import queries
from projections.scopes import trainee_scopes
from service import access, positions
from service.bootstrap import Services
from service.feed import feed_item
from service.principals import Forbidden, Unauthenticated
from service.tokens import TokenVerifier

STATUS = {Unauthenticated: 401, Forbidden: 403}


def feed_router(services: Services, tokens: TokenVerifier) -> APIRouter:
    router = APIRouter()

    # A sync route: FastAPI runs it in its thread pool, off the event loop.
    @router.get("/feed/events")
    def events(
        after: str | None = None,
        limit: int = 100,
        types: str | None = Query(None, description="comma-separated event types"),
        trainee_id: str | None = Query(None, alias="traineeId"),
        base_id: str | None = Query(None, alias="baseId"),
        authorization: str | None = Header(None),
    ) -> Any:
        try:
            principal = tokens.verify(bearer_token(authorization))
            for name, value in (("after", after), ("types", types), ("traineeId", trainee_id),
                                ("baseId", base_id)):
                if value is not None and unstorable(value):
                    raise InvalidCommand(f"{name} holds a NUL character or an unpaired surrogate")
            size = page_size(limit, default=100, limit=1000, argument="limit")
            trainee = None if trainee_id is None else str(parse_id(trainee_id, "traineeId"))
            if trainee is None:
                base_id = access.check_feed(principal, base_id)
            else:
                [scope] = trainee_scopes(services.engine, [trainee])
                if scope is not None:
                    access.check_read(principal, scope)
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
                {"error": {"code": error.code, "message": str(error)}},
                status_code=STATUS.get(type(error), 400),
            )
        items = [
            feed_item(row)
            for row in with_personal_fields(services.records, principal, rows[:size])
        ]
        return {
            "items": items,
            "nextCursor": items[-1]["position"] if items else after,
            "hasMore": len(rows) > size,
        }

    return router
