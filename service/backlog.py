"""What the registries have still to receive: for each consumer of the log (a webhook
endpoint, `dualtrack relay`), the projected events beyond its stored position; and for
each webhook endpoint, its deliveries waiting for a retry.

A consumer passes events its filters do not want too, so its backlog is the events it
has yet to look at, not all to be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from service.webhooks import tables as w

# Owned by migration 0004 (service.relay writes it); described here only to be read.
consumer_positions = sa.table(
    "consumer_positions", sa.column("consumer", sa.String), sa.column("position", sa.BigInteger)
)
WEBHOOK_CONSUMER = "webhook:{}"


@dataclass(frozen=True)
class Backlog:
    events: dict[str, int] = field(default_factory=dict)  # by consumer
    pending_deliveries: dict[str, int] = field(default_factory=dict)  # by endpoint id

    @property
    def total_events(self) -> int:
        return sum(self.events.values())


def delivery_backlog(connection: sa.Connection, events: sa.Table, projected: int) -> Backlog:
    def behind(position: sa.ColumnElement[int]) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count()).select_from(events)
            .where(events.c.id > position, events.c.id <= projected).scalar_subquery()
        )

    endpoints, deliveries = w.endpoints.c, w.deliveries.c
    pending = (
        sa.select(sa.func.count()).select_from(w.deliveries)
        .where(deliveries.endpoint_id == endpoints.id, deliveries.state == w.PENDING)
        .scalar_subquery()
    )
    by_endpoint = connection.execute(
        sa.select(endpoints.id, behind(endpoints.position), pending)
        .where(endpoints.state != w.REMOVED)
    ).all()
    relays = connection.execute(
        sa.select(consumer_positions.c.consumer, behind(consumer_positions.c.position))
    ).all()
    return Backlog(
        events={WEBHOOK_CONSUMER.format(endpoint): count for endpoint, count, _ in by_endpoint}
        | {consumer: count for consumer, count in relays},
        pending_deliveries={endpoint: waiting for endpoint, _, waiting in by_endpoint},
    )
