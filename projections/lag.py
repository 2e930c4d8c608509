"""How far the read models are behind the event log: the events recorded but not yet
projected, and how long the oldest of them has waited (0 when none waits).

Read from the projector's tracking record and the event table, so it tells the same
whichever process projects (the API inline, or `dualtrack project`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from projections.projector import Projector


@dataclass(frozen=True)
class Lag:
    position: int  # projected up to here
    events: int
    seconds: float


def projection_lag(projector: Projector, connection: sa.Connection, now: datetime) -> Lag:
    tracking = projector.tracking.tracking_table.c
    events = projector.records.events_table.c
    position = connection.execute(
        sa.select(sa.func.max(tracking.notification_id))
        .where(tracking.application_name == projector.name)
    ).scalar() or 0
    behind = connection.execute(
        sa.select(sa.func.count()).select_from(projector.records.events_table)
        .where(events.id > position)
    ).scalar() or 0
    if not behind:
        return Lag(position, 0, 0.0)
    oldest = connection.execute(
        sa.select(events.id, events.originator_id, events.originator_version, events.topic,
                  events.state)
        .where(events.id > position).order_by(events.id).limit(1)
    ).one()
    # The recording time is inside the (encrypted) event: one event is decoded.
    event = projector.records.mapper.to_domain_event(Notification(
        id=oldest.id, originator_id=oldest.originator_id,
        originator_version=oldest.originator_version, topic=oldest.topic,
        state=bytes(oldest.state),
    ))
    return Lag(position, int(behind), max(0.0, (now - event.timestamp).total_seconds()))
