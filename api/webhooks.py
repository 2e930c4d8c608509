"""Webhooks over GraphQL: the types, the queries, and what the mutations share.

An endpoint's secret is returned once, by registerWebhook, and never again: no type here
other than RegisteredWebhook carries it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry

from api.errors import page_size, parse_id
from api.types import Info
from domain.errors import InvalidCommand
from service import access, positions
from service.webhooks import registry as r


@strawberry.enum(description="ACTIVE: delivering. PAUSED: deliveries wait (the cursor "
                 "stays). REMOVED: never delivered to again.")
class WebhookState(enum.Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    REMOVED = "REMOVED"


@strawberry.enum(description="PENDING: not yet acknowledged (retried, or waiting behind an "
                 "earlier event of its trainee). DELIVERED: the receiver answered 2xx. DEAD: "
                 "failed for the whole retry window; redeliver it with redeliverWebhook.")
class WebhookDeliveryState(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"


@strawberry.type(description="A change made to an endpoint: who did it and when.")
class WebhookChange:
    action: str = strawberry.field(
        description="REGISTERED, PAUSED, RESUMED, REMOVED or REDELIVERED."
    )
    actor: str
    at: datetime
    detail: str | None


@strawberry.type(description="How many of an endpoint's deliveries are in each state.")
class WebhookDeliveryCounts:
    pending: int
    delivered: int
    dead: int


@strawberry.type(description="A registry's webhook endpoint (its secret is never shown here).")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    types: list[str] = strawberry.field(description="The event types sent; empty: all.")
    base_id: strawberry.ID | None = strawberry.field(
        description="Only events of trainees of this training base; null: every base."
    )
    description: str | None
    state: WebhookState
    cursor: str = strawberry.field(
        description="The log position up to which every event has been delivered, queued "
        "for retry, or passed over as not matching (as Event.position)."
    )
    registered_at: datetime
    registered_by: str
    changed_at: datetime
    changed_by: str

    @classmethod
    def of(cls, endpoint: r.Endpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.id),
            url=endpoint.url,
            types=list(endpoint.types),
            base_id=None if endpoint.base_id is None else strawberry.ID(endpoint.base_id),
            description=endpoint.description,
            state=WebhookState(endpoint.state),
            cursor=positions.encode(endpoint.position),
            registered_at=endpoint.registered_at,
            registered_by=endpoint.registered_by,
            changed_at=endpoint.changed_at,
            changed_by=endpoint.changed_by,
        )

    @strawberry.field(description="Every change made to the endpoint, oldest first.")
    async def history(self, info: Info) -> list[WebhookChange]:
        changes = await info.context.run(
            partial(info.context.services.webhooks.history, str(self.id))
        )
        return [WebhookChange(action=c.action, actor=c.actor, at=c.at, detail=c.detail)
                for c in changes]

    @strawberry.field(description="How many deliveries are pending, delivered and dead.")
    async def delivery_counts(self, info: Info) -> WebhookDeliveryCounts:
        counts = await info.context.run(
            partial(info.context.services.webhooks.counts, str(self.id))
        )
        return WebhookDeliveryCounts(
            pending=counts["PENDING"], delivered=counts["DELIVERED"], dead=counts["DEAD"]
        )


@strawberry.type(description="A new endpoint and its signing secret.")
class RegisteredWebhook:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The Standard Webhooks secret (whsec_ + base64 of the key). Shown this "
        "once: keep it; it is never returned again."
    )


@strawberry.type(description="One event's delivery to one endpoint.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(
        description="The event's id, sent as the webhook-id header on every attempt."
    )
    position: str
    event_type: str
    trainee_id: strawberry.ID | None
    state: WebhookDeliveryState
    attempts: int
    enqueued_at: datetime
    first_attempt_at: datetime | None = strawberry.field(
        description="The first attempt since it was queued (or requeued); the retry window "
        "runs from here."
    )
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None

    @classmethod
    def of(cls, delivery: r.Delivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(delivery.id)),
            endpoint_id=strawberry.ID(delivery.endpoint_id),
            event_id=strawberry.ID(delivery.event_id),
            position=positions.encode(delivery.position),
            event_type=delivery.event_type,
            trainee_id=None if delivery.trainee_id is None else strawberry.ID(delivery.trainee_id),
            state=WebhookDeliveryState(delivery.state),
            attempts=delivery.attempts,
            enqueued_at=delivery.enqueued_at,
            first_attempt_at=delivery.first_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            dead_at=delivery.dead_at,
        )


@strawberry.type
class WebhookDeliveryConnection:
    items: list[WebhookDelivery]
    has_more: bool
    next_cursor: str | None = strawberry.field(
        description="Pass back as `after` for the next page (a log position)."
    )


def parse_endpoint_id(value: str, argument: str = "id") -> str:
    return str(parse_id(value, argument))


def parse_delivery_id(value: str) -> int:
    raw = str(value).strip()
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidCommand(f"deliveryId is not a delivery id: {value!r}")
    return int(raw)


# -- queries ------------------------------------------------------------------------------



async def webhooks(
    info: Info,
    include_removed: Annotated[bool, strawberry.argument(
        description="Also list removed endpoints.")] = False,
) -> list[WebhookEndpoint]:
    base_id = access.webhooks_visible_to(info.context.principal)
    found = await info.context.run(
        partial(info.context.services.webhooks.endpoints, include_removed)
    )
    return [
        WebhookEndpoint.of(endpoint)
        for endpoint in found
        if base_id is None or endpoint.base_id == base_id
    ]


async def webhook(info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
    found = await info.context.run(partial(
        info.context.services.webhooks.endpoint_for,
        parse_endpoint_id(id), info.context.principal, write=False,
    ))
    return None if found is None else WebhookEndpoint.of(found)


async def webhook_deliveries(
    info: Info,
    endpoint_id: strawberry.ID,
    status: Annotated[WebhookDeliveryState | None, strawberry.argument(
        description="Only deliveries in this state.")] = None,
    first: int | None = 50,
    after: Annotated[str | None, strawberry.argument(
        description="A position (nextCursor, or an event's position).")] = None,
) -> WebhookDeliveryConnection:
    principal = info.context.principal  # credentials are checked before anything else
    size = page_size(first, default=50)
    found = await info.context.run(partial(
        info.context.services.webhooks.deliveries,
        _endpoint(endpoint_id),
        by=principal,
        state=None if status is None else status.value,
        after_position=positions.decode(after),
        limit=size + 1,
    ))
    items = [WebhookDelivery.of(delivery) for delivery in found[:size]]
    return WebhookDeliveryConnection(
        items=items,
        has_more=len(found) > size,
        next_cursor=items[-1].position if items else after,
    )


def _endpoint(value: str) -> str:
    return parse_endpoint_id(value, "endpointId")
