"""A trainee's record exactly as it stood at any moment, computed from the stored events.

An auditor asks for a trainee as of a recorded time, or at a version of its stream. The
answer is never read from the current read models: the trainee's events are read from
the event store (`dualtrack_events`), decoded by the application's own mapper, and
applied with the very handlers the live projection uses (`projections.handlers.project`
and `projections.summary.refresh_trainee`), into a private in-memory SQLite database
made from the same table definitions. The rows read back from it form a `TraineeView`.
So there is one implementation of how events become rows; a read model that was emptied
or altered does not change the answer.

Events never change, so a view is a pure function of (trainee, version reached), and
views are kept in a bounded LRU under that key. The decoded stream of each recently
asked-about trainee is kept too (with its chained hashes), and only the events stored
since are read on the next request, so a repeated question costs one indexed SELECT.
A replay also keeps images of its scratch database every CHECKPOINT_EVERY events, so
another moment of the same trainee starts from the nearest image below it.

Speed: a first replay costs what the live projection costs for the same events, nearly
all of it SQLAlchemy building and executing the handlers' statements (see bench/as_of.py
and the README's "Replay any moment" for the figures).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from domain import events as e
from integrity.hashing import GENESIS, event_hash
from projections import queries
from projections import tables as t
from projections.handlers import Context, project
from projections.summary import refresh_trainee
from projections.trainee_view import FieldChange, Row, TraineeView, diff

__all__ = ["FieldChange", "TraineeView", "clear_cache", "diff", "latest_version", "replay"]


# The caches' bounds (a 3,000-event trainee's view holds some 4,500 rows, about 11 MB;
# its decoded stream about 6 MB; its checkpoint images about 18 MB).
VIEW_ROWS = 50_000  # rows of all cached views together
STREAM_EVENTS = 50_000  # events of all cached decoded streams together
CHECKPOINT_EVERY = 250  # events between checkpoint images of a replay
CHECKPOINT_BYTES = 64 * 2**20  # all checkpoint images together


# ---------------------------------------------------------------------------------------
# Replay


@dataclass(frozen=True)
class _Step:
    """One stored event of the stream, decoded once, with its chained hash."""

    notification: Notification
    event: Any
    hash: str


@dataclass
class _Stream:
    steps: list[_Step] = field(default_factory=list)
    last_hash: bytes = GENESIS

    @property
    def version(self) -> int:
        return self.steps[-1].notification.originator_version if self.steps else 0


K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """Least recently used first out, within a budget of `weigh`ed units."""

    def __init__(self, budget: int, weigh: Callable[[V], int]):
        self.budget, self.weigh = budget, weigh
        self.used = 0
        self.items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self.items.get(key)
        if found is None:
            return None
        self.items.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V) -> None:
        if key in self.items:
            self.used -= self.items.pop(key)[1]
        weight = max(1, self.weigh(value))
        if weight > self.budget:
            return
        self.items[key] = (value, weight)
        self.used += weight
        while self.used > self.budget:
            self.used -= self.items.popitem(last=False)[1][1]


class _Checkpoints:
    """Images of scratch databases part-way through a stream, so that asking for another
    moment of a trainee replays only the events after the nearest image, not all of them.

    An image is the database after the handlers applied the stream's first N events
    (before the per-trainee summary, which every view recomputes). Bounded in bytes; the
    trainee asked about longest ago loses its images first.
    """

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.images: OrderedDict[UUID, dict[int, bytes]] = OrderedDict()

    def nearest(self, trainee_id: UUID, version: int) -> tuple[int, bytes | None]:
        images = self.images.get(trainee_id, {})
        if images:
            self.images.move_to_end(trainee_id)
        below = [v for v in images if v <= version]
        return (max(below), images[max(below)]) if below else (0, None)

    def put(self, trainee_id: UUID, version: int, image: bytes) -> None:
        if len(image) > self.budget or version in self.images.get(trainee_id, {}):
            return
        self.images.setdefault(trainee_id, {})[version] = image
        self.used += len(image)
        self.images.move_to_end(trainee_id)
        while self.used > self.budget:
            oldest, dropped = next(iter(self.images.items()))
            if dropped:
                self.used -= len(dropped.pop(min(dropped)))
            if not dropped:
                del self.images[oldest]


_MISSING = object()


def _rows_of(view: Any) -> int:
    if not isinstance(view, TraineeView):
        return 1
    return (1 + len(view.tutors) + len(view.rotations) + len(view.assessments)
            + len(view.certificates) + len(view.audit)
            + sum(len(entries) for entries in view.entries.values()))


class _Replayer:
    """The caches of one application (its database, settings and regulations)."""

    def __init__(self, records: Any):
        self.records = records
        self.lock = threading.Lock()
        self.views: _LRU[tuple[UUID, int], Any] = _LRU(VIEW_ROWS, _rows_of)
        self.streams: _LRU[UUID, _Stream] = _LRU(STREAM_EVENTS, lambda s: len(s.steps))
        self.checkpoints = _Checkpoints(CHECKPOINT_BYTES)
        self.table = records.events_table
        self.late_after = timedelta(days=records.settings.late_entry_days)
        self.zone = records.settings.zone

    def stream(self, trainee_id: UUID) -> _Stream:
        """The trainee's decoded stream, brought up to date with what was stored since."""
        with self.lock:
            cached = self.streams.get(trainee_id)
        known = cached or _Stream()
        table = self.table
        statement = (
            sa.select(table.c.id, table.c.originator_id, table.c.originator_version,
                      table.c.topic, table.c.state)
            .where(table.c.originator_id == trainee_id,
                   table.c.originator_version > known.version)
            .order_by(table.c.originator_version)
        )
        with self.records.recorder.datastore.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if not rows and cached is not None:
            return cached
        steps, previous = list(known.steps), known.last_hash
        to_domain_event = self.records.mapper.to_domain_event
        for position, originator_id, version, topic, state in rows:
            notification = Notification(
                id=position, originator_id=originator_id, originator_version=version,
                topic=topic, state=bytes(state),
            )
            previous = event_hash(previous, originator_id, version, topic, notification.state)
            steps.append(_Step(notification, to_domain_event(notification), previous.hex()))
        grown = _Stream(steps, previous)
        with self.lock:
            current = self.streams.get(trainee_id)
            if current is None or current.version < grown.version:
                self.streams.put(trainee_id, grown)
        return grown

    def view(self, trainee_id: UUID, steps: list[_Step]) -> TraineeView | None:
        key = (trainee_id, len(steps))
        with self.lock:
            cached = self.views.get(key)
        if cached is not None:
            return None if cached is _MISSING else cached  # type: ignore[no-any-return]
        built = self.build(trainee_id, steps)
        with self.lock:
            self.views.put(key, _MISSING if built is None else built)
        return built

    def build(self, trainee_id: UUID, steps: list[_Step]) -> TraineeView | None:
        """Applies the steps with the live handlers, from the nearest checkpoint on."""
        if not steps or not isinstance(steps[0].event, e.TraineeEnrolled):
            return None  # not a trainee's stream (a national-ID claim, say)
        with self.lock:
            start, image = self.checkpoints.nearest(trainee_id, len(steps))
        with _scratch_database(image) as (engine, raw):
            for first in range(start, len(steps), CHECKPOINT_EVERY):
                last = min(first + CHECKPOINT_EVERY, len(steps))
                with Session(engine) as session, session.begin():
                    for step in steps[first:last]:
                        context = Context(session, step.notification, self.late_after,
                                          self.zone, step.hash)
                        project(context, step.event)
                if last % CHECKPOINT_EVERY == 0:
                    image = raw.serialize()
                    with self.lock:
                        self.checkpoints.put(trainee_id, last, image)
            with Session(engine) as session, session.begin():
                refresh_trainee(session, str(trainee_id), self.records.regime_of_row)
            return _read_view(engine, str(trainee_id))


_empty_image: bytes | None = None


@contextmanager
def _scratch_database(
    image: bytes | None,
) -> Iterator[tuple[sa.Engine, sqlite3.Connection]]:
    """A private in-memory SQLite database for one replay: every read-model table, empty
    or as a checkpoint image left it. One connection (StaticPool), closed afterwards."""
    global _empty_image
    raw = sqlite3.connect(":memory:", check_same_thread=False)
    if image is None and _empty_image is None:
        engine = sa.create_engine("sqlite://", poolclass=StaticPool, creator=lambda: raw)
        t.metadata.create_all(engine)
        _empty_image = raw.serialize()
    else:
        raw.deserialize(image or _empty_image)  # type: ignore[arg-type]
        engine = sa.create_engine("sqlite://", poolclass=StaticPool, creator=lambda: raw)
    try:
        yield engine, raw
    finally:
        engine.dispose()
        raw.close()


def _frozen(rows: list[dict[str, Any]]) -> tuple[Row, ...]:
    return tuple(MappingProxyType(row) for row in rows)


def _read_view(engine: sa.Engine, trainee_id: str) -> TraineeView | None:
    """Reads the rows back with the live read-model queries, so they come in the live order."""
    [trainee] = queries.trainees_by_id(engine, [trainee_id])
    if trainee is None:
        return None
    [rotations] = queries.rotations_by_trainee(engine, [trainee_id])
    rotation_ids = [row["id"] for row in rotations]
    entries = queries.entries_by_rotation(engine, rotation_ids) if rotation_ids else []
    [tutors] = queries.tutors_by_trainee(engine, [trainee_id])
    [assessments] = queries.assessments_by_trainee(engine, [trainee_id])
    [certificates] = queries.certificates_by_trainee(engine, [trainee_id])
    with engine.connect() as connection:
        audit = [dict(row) for row in connection.execute(
            sa.select(t.audit_events)
            .where(t.audit_events.c.trainee_id == trainee_id)
            .order_by(t.audit_events.c.position)
        ).mappings()]
    return TraineeView(
        trainee=MappingProxyType(trainee),
        tutors=_frozen(tutors),
        rotations=_frozen(rotations),
        entries=MappingProxyType(
            {rid: _frozen(rows) for rid, rows in zip(rotation_ids, entries, strict=True)}
        ),
        assessments=_frozen(assessments),
        certificates=_frozen(certificates),
        audit=_frozen(audit),
    )


_replayers: weakref.WeakKeyDictionary[Any, _Replayer] = weakref.WeakKeyDictionary()
_replayers_lock = threading.Lock()


def _replayer(records: Any) -> _Replayer:
    with _replayers_lock:
        found = _replayers.get(records)
        if found is None:
            found = _replayers[records] = _Replayer(records)
        return found


def clear_cache(records: Any) -> None:
    """Forgets every cached view and decoded stream of this application (benchmarks)."""
    with _replayers_lock:
        _replayers.pop(records, None)


def latest_version(records: Any, trainee_id: UUID) -> int:
    """The version of the trainee's stream now; 0 if nothing was ever stored under the id."""
    return _replayer(records).stream(trainee_id).version


def replay(
    records: Any,
    trainee_id: UUID,
    *,
    as_of: datetime | None = None,
    version: int | None = None,
) -> TraineeView | None:
    """The trainee as the record stood at `as_of` (recorded time) and/or at `version`.

    Events are applied in stream order, stopping before the first one recorded after
    `as_of` or beyond `version`. None when no event qualifies (not yet enrolled then, or
    an unknown trainee).
    """
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError("as_of must be an aware datetime")
    replayer = _replayer(records)
    steps = replayer.stream(trainee_id).steps
    reached = _reached(steps, lambda step: (
        (as_of is not None and step.event.timestamp > as_of)
        or (version is not None and step.notification.originator_version > version)
    ))
    return replayer.view(trainee_id, steps[:reached]) if reached else None


def _reached(steps: list[_Step], beyond: Callable[[_Step], bool]) -> int:
    for index, step in enumerate(steps):
        if beyond(step):
            return index
    return len(steps)
