"""Auditors' questions about the past: a trainee as the record stood at a moment or a
version, and what changed between two versions. Both are computed from the stored events
(projections.replay), never from the current read models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from api.errors import page_size, parse_id
from api.types import Event, EventConnection, Info, Row, Trainee
from domain.errors import InvalidCommand, NotFound
from projections import replay
from service import positions

AS_OF_EXAMPLE = "2026-11-22T10:00:00+08:00"


class _Loaded:
    """A DataLoader's `load(key)`, answered from rows already at hand."""

    def __init__(self, by_key: Mapping[str, Sequence[Row]]):
        self.by_key = by_key

    async def load(self, key: str) -> list[Row]:
        return list(self.by_key.get(key, ()))


class ViewRows:
    """The row source of a Trainee as of a moment: the same `load(key)` calls the live
    DataLoaders of api.context.Context answer, answered from a replayed TraineeView."""

    def __init__(self, view: replay.TraineeView):
        one = view.id
        self.view = view
        self.tutors = _Loaded({one: view.tutors})
        self.rotations = _Loaded({one: view.rotations})
        self.entries = _Loaded(view.entries)
        self.assessments = _Loaded({one: view.assessments})
        self.certificates = _Loaded({one: view.certificates})
        self.versions = _Loaded({one: view.audit})

    def event_page(self, *, after: str | None, first: int | None) -> EventConnection:
        """The audit trail up to the view's version, paged like Query.events."""
        size = page_size(first, default=100)
        start = positions.decode(after)
        rows = [row for row in self.view.audit if row["position"] > start][: size + 1]
        items = [Event.of(dict(row)) for row in rows[:size]]
        return EventConnection(
            items=items, has_more=len(rows) > size,
            next_cursor=items[-1].position if items else after,
        )


def _view_at(
    records: Any, trainee_id: UUID, as_of: datetime | None, version: int | None
) -> replay.TraineeView | None:
    latest = replay.latest_version(records, trainee_id)
    if latest == 0 or replay.replay(records, trainee_id, version=1) is None:
        return None  # no trainee; a national-ID claim's stream is never told apart
    if version is not None and version > latest:
        raise InvalidCommand(
            f"version {version} is beyond the trainee's latest version {latest}"
        )
    return replay.replay(records, trainee_id, as_of=as_of, version=version)


async def trainee_as_of(
    info: Info, trainee_id: UUID, *, as_of: datetime | None, version: int | None
) -> Trainee | None:
    """The trainee as the record stood at `as_of` (recorded time) and/or `version`."""
    if as_of is not None and as_of.utcoffset() is None:
        raise InvalidCommand(
            f"asOf must name its time zone (an offset or Z), e.g. {AS_OF_EXAMPLE}; "
            f"got {as_of.isoformat()} without one"
        )
    if version is not None and version < 0:
        raise InvalidCommand(f"version must be 0 or more, got {version}")
    records = info.context.services.records
    view = await info.context.run(partial(_view_at, records, trainee_id, as_of, version))
    return None if view is None else Trainee(row=dict(view.trainee), source=ViewRows(view))


@strawberry.type(name="FieldChange", description="One field that differs between two "
                 "versions. A rotation, entry, assessment or certificate that was added "
                 "or removed is one change, with before or after null.")
class FieldChangeType:
    path: str = strawberry.field(
        description="Dotted, with collection members named by id, e.g. "
        "handbook.rotations[<id>].entries[<id>].signedBy or certificates[DEGREE].state."
    )
    before: JSON | None
    after: JSON | None


@strawberry.type(description="What changed in a trainee's record between two versions, "
                 "computed from the stored events.")
class TraineeChanges:
    from_version: int
    to_version: int
    events: list[Event] = strawberry.field(
        description="The events after fromVersion, up to and including toVersion."
    )
    changes: list[FieldChangeType]


def _changes(
    records: Any, trainee_id: UUID, from_version: int, to_version: int | None
) -> TraineeChanges:
    latest = replay.latest_version(records, trainee_id)
    if latest == 0 or replay.replay(records, trainee_id, version=1) is None:
        raise NotFound(f"id {trainee_id} names no trainee")
    to = latest if to_version is None else to_version
    if to > latest:
        raise InvalidCommand(f"toVersion {to} is beyond the trainee's latest version {latest}")
    if from_version > to:
        raise InvalidCommand(f"fromVersion {from_version} is after toVersion {to}")
    before = replay.replay(records, trainee_id, version=from_version) if from_version else None
    after = replay.replay(records, trainee_id, version=to) if to else None
    audit = () if after is None else after.audit
    return TraineeChanges(
        from_version=from_version,
        to_version=to,
        events=[Event.of(dict(row)) for row in audit if row["version"] > from_version],
        changes=[
            FieldChangeType(path=change.path, before=change.before, after=change.after)
            for change in replay.diff(_document(before), _document(after))
        ],
    )


def _document(view: replay.TraineeView | None) -> dict[str, Any] | None:
    return None if view is None else view.document()


async def trainee_changes(
    info: Info,
    id: strawberry.ID,
    from_version: Annotated[int, strawberry.argument(
        description="The version to compare from; 0 is before enrollment.")],
    to_version: Annotated[int | None, strawberry.argument(
        description="The version to compare to; the latest if not given.")] = None,
) -> TraineeChanges:
    trainee_id = parse_id(id, "id")
    if from_version < 0:
        raise InvalidCommand(f"fromVersion must be 0 or more, got {from_version}")
    if to_version is not None and to_version < 0:
        raise InvalidCommand(f"toVersion must be 0 or more, got {to_version}")
    await info.context.readable_scope(trainee_id)
    records = info.context.services.records
    return await info.context.run(  # type: ignore[no-any-return]
        partial(_changes, records, trainee_id, from_version, to_version)
    )
