"""Registers a registry's webhook endpoint; answers with its secret, shown only this once."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import strawberry

from api.idempotency import idempotency_of
from api.types import Info
from api.webhooks import RegisteredWebhook, WebhookEndpoint


async def register_webhook(
    info: Info,
    url: Annotated[str, strawberry.argument(
        description="https (plain http only to a loopback host).")],
    types: Annotated[list[str] | None, strawberry.argument(
        description="Event types to send (Event.type); empty or absent: every type.")] = None,
    base_id: Annotated[strawberry.ID | None, strawberry.argument(
        description="Only events of trainees of this training base.")] = None,
    description: str | None = None,
    from_position: Annotated[str | None, strawberry.argument(
        description="Deliver the events after this position (a cursor, as events(after:)); "
        "absent: only events recorded from now on.")] = None,
) -> RegisteredWebhook:
    context = info.context
    endpoint, secret = await context.run(partial(
        context.services.webhooks.register,
        url=url, types=types, base_id=base_id, description=description,
        from_position=from_position, by=context.principal, idempotency=idempotency_of(info),
    ))
    return RegisteredWebhook(endpoint=WebhookEndpoint.of(endpoint), secret=secret)
