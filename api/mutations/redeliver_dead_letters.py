"""Puts every dead letter of an endpoint back in its queue; answers how many."""

from __future__ import annotations

from functools import partial

import strawberry

from api.idempotency import idempotency_of
from api.types import Info
from api.webhooks import parse_endpoint_id


async def redeliver_dead_letters(info: Info, endpoint_id: strawberry.ID) -> int:
    context = info.context
    return await context.run(partial(  # type: ignore[no-any-return]
        context.services.webhooks.redeliver_dead_letters,
        parse_endpoint_id(endpoint_id, "endpointId"),
        context.principal,
        idempotency_of(info),
    ))
