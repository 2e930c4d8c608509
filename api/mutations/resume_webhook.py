"""Resumes a paused endpoint: delivery continues from its cursor, nothing skipped."""

from __future__ import annotations

from functools import partial

import strawberry

from api.idempotency import idempotency_of
from api.types import Info
from api.webhooks import WebhookEndpoint, parse_endpoint_id


async def resume_webhook(info: Info, id: strawberry.ID) -> WebhookEndpoint:
    context = info.context
    endpoint = await context.run(
        partial(context.services.webhooks.resume, parse_endpoint_id(id), context.principal,
                idempotency_of(info))
    )
    return WebhookEndpoint.of(endpoint)
