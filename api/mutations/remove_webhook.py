"""Removes an endpoint: nothing is sent to it again; its delivery log is kept."""

from __future__ import annotations

from functools import partial

import strawberry

from api.idempotency import idempotency_of
from api.types import Info
from api.webhooks import WebhookEndpoint, parse_endpoint_id


async def remove_webhook(info: Info, id: strawberry.ID) -> WebhookEndpoint:
    context = info.context
    endpoint = await context.run(
        partial(context.services.webhooks.remove, parse_endpoint_id(id), context.principal,
                idempotency_of(info))
    )
    return WebhookEndpoint.of(endpoint)
