"""Puts a dead letter back in its endpoint's queue: it is sent again now, with a new window."""

from __future__ import annotations

from functools import partial

import strawberry

from api.idempotency import idempotency_of
from api.types import Info
from api.webhooks import WebhookDelivery, parse_delivery_id


async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
    context = info.context
    delivery = await context.run(partial(
        context.services.webhooks.redeliver, parse_delivery_id(delivery_id), context.principal,
        idempotency_of(info),
    ))
    return WebhookDelivery.of(delivery)
