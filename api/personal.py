"""Personal fields (name, national ID) are not in the projected events that feed
registries; a caller whose token carries the personal_data scope gets them back,
decrypted from the event store (README, Personal data)."""

from __future__ import annotations

from typing import Any

from service.principals import PERSONAL_DATA_SCOPE, Principal
from service.records import TraineeRecords

# The events whose stored form holds personal fields.
PERSONAL_EVENT_TYPES = frozenset({"TraineeEnrolled"})


def with_personal_fields(
    records: TraineeRecords, principal: Principal, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if PERSONAL_DATA_SCOPE not in principal.scopes:
        return rows
    return [
        {**row, "data": {**row["data"], **records.personal_fields(row["trainee_id"])}}
        if row["type"] in PERSONAL_EVENT_TYPES and row["trainee_id"] else row
        for row in rows
    ]
