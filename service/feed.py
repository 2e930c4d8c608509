"""The one shape in which registries receive an event, however they consume: the JSON
feed, the GraphQL subscription (as the Event type), webhooks and the NATS relay.

An event is identified by its id (stable forever: the same event delivered twice carries
the same id, so a receiver de-duplicates on it) and ordered by its position in the log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from service import positions

CLOUDEVENTS_TYPE_PREFIX = "cn.dualtrack.event."
CLOUDEVENTS_SOURCE = "urn:dualtrack:log"


def feed_item(row: dict[str, Any]) -> dict[str, Any]:
    """An rm_audit_events row as registries see it, JSON-ready, in the GraphQL names."""
    return {
        "position": positions.encode(row["position"]),
        "id": row["event_id"],
        "type": row["type"],
        "traineeId": row["trainee_id"],
        "version": row["version"],
        "occurredOn": _iso(row["occurred_on"]),
        "recordedAt": _iso(_utc(row["recorded_at"])),
        "actor": row["actor"],
        "data": row["data"],
        "hash": row["hash"],
    }


def cloud_event(row: dict[str, Any], source: str = CLOUDEVENTS_SOURCE) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode JSON envelope of one event.

    `position` and `hash` are extension attributes: a receiver orders by position and can
    check the event's hash against `verifyIntegrity` or an evidence bundle.
    """
    item = feed_item(row)
    return {
        "specversion": "1.0",
        "id": item["id"],
        "source": source,
        "type": CLOUDEVENTS_TYPE_PREFIX + item["type"],
        "subject": item["traineeId"],
        "time": item["recordedAt"],
        "datacontenttype": "application/json",
        "position": item["position"],
        "hash": item["hash"],
        "data": {
            "traineeId": item["traineeId"],
            "version": item["version"],
            "occurredOn": item["occurredOn"],
            "actor": item["actor"],
            **item["data"],
        },
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()
