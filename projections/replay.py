"""A trainee's record exactly as it stood at any moment, computed from the stored events.

An auditor asks for a trainee as of a recorded time, or at a version of its stream. The
answer is never read from the current read models: the trainee's events are read from
the event store (`dualtrack_events`), their chained hashes recomputed from the stored
bytes, decoded by the application's own mapper, and applied with the very handlers the
live projection uses (`projections.handlers.project` and
`projections.summary.refresh_trainee`), into a private in-memory SQLite database made
from the same table definitions. The rows read back from it form a `TraineeView`. So
there is one implementation of how events become rows; a read model that was emptied or
altered does not change the answer.

Snapshots (projections.view_snapshots): every CHECKPOINT_EVERY events a replay persists
what the handlers changed in its scratch database since the previous snapshot, with the
recorded times of those events, sealed and bound to the chained event hash there. A
later replay, in any process, checks each snapshot against the hashes it recomputed from
the stored events, loads the chain of those that pass, and decodes and applies only the
events after the last one below the moment asked; the recorded times inside the
snapshots place an as-of cut without decoding the events they cover. A snapshot that
fails a check is logged, counted and ignored, and the events are replayed instead.

In-process caches: views by (trainee, version reached) in a bounded LRU; each recently
asked-about trainee's stream of stored events with their chained hashes (and those
events decoded so far), so that only events stored since are read on the next request;
and images of the scratch database at each snapshot version, so that another moment of
the same trainee starts from the nearest image below it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from sqlalchemy.orm import Session

from domain import events as e
from integrity.hashing import GENESIS
from projections import queries, scratch, scratch_reads, snapshot_rows
from projections import tables as t
from projections import view_snapshots as vs
from projections.handlers import Context, project
from projections.scratch import ChainedHash, scratch_database
from projections.summary import refresh_trainee
from projections.trainee_view import FieldChange, Row, TraineeView, diff

__all__ = ["FieldChange", "TraineeView", "clear_cache", "diff", "latest_version", "replay",
           "stats"]

logger = logging.getLogger("dualtrack.replay")

# The caches' bounds (a 3,000-event trainee's view holds some 4,500 rows, about 11 MB;
# its decoded stream about 6 MB; its checkpoint images, one every CHECKPOINT_EVERY events,
# some 65 MB together, so the budget keeps its higher ones: lower moments load snapshots).
VIEW_ROWS = 50_000  # rows of all cached views together
STREAM_EVENTS = 50_000  # events of all cached streams together
# Events between snapshots (persisted) and checkpoint images (in memory): at most this
# many less one are decoded and applied by a replay that finds them.
CHECKPOINT_EVERY = 50
CHECKPOINT_BYTES = 64 * 2**20  # all checkpoint images together
WRITES_PAUSE_SECONDS = 300  # after snapshots could not be stored

# What replays did in this process: "events decoded" (the costly step snapshots save).
stats: Counter[str] = Counter()


# ---------------------------------------------------------------------------------------
# Replay


class _Step:
    """One stored event of the stream with its chained hash; decoded when first needed,
    and its recorded time known once decoded or read from a snapshot that passed."""

    __slots__ = ("originator_id", "position", "version", "topic", "state", "hash", "event",
                 "recorded")

    def __init__(self, originator_id: UUID, position: int, version: int, topic: str,
                 state: bytes, hash: str):
        self.originator_id, self.position, self.version = originator_id, position, version
        self.topic, self.state, self.hash = topic, state, hash
        self.event: Any = None
        self.recorded: int | None = None  # microseconds since the epoch

    @property
    def notification(self) -> Notification:
        return Notification(id=self.position, originator_id=self.originator_id,
                            originator_version=self.version, topic=self.topic,
                            state=self.state)


@dataclass
class _Stream:
    trainee_id: UUID
    steps: list[_Step]
    last_hash: bytes = GENESIS
    # The snapshots that passed their checks, chained from version 0; None: not read yet.
    chain: list[vs.Header] | None = None

    @property
    def version(self) -> int:
        return len(self.steps)


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
    """The caches and snapshots of one application (its database, settings, regulations)."""

    def __init__(self, records: Any):
        # Weakly: the replayers are kept in a WeakKeyDictionary by application, and a value
        # that held its key would keep the application, its engine and its pooled
        # connections alive for as long as the process.
        self.application = weakref.ref(records)
        self.lock = threading.Lock()
        self.views: _LRU[tuple[UUID, int], Any] = _LRU(VIEW_ROWS, _rows_of)
        self.streams: _LRU[UUID, _Stream] = _LRU(STREAM_EVENTS, lambda s: len(s.steps))
        self.checkpoints = _Checkpoints(CHECKPOINT_BYTES)
        table = records.events_table
        # Plain SQL: the rows as the driver gives them, without a row object per event.
        self.select_stream = sa.text(
            f"SELECT id, originator_version, topic, state FROM {table.name} "
            "WHERE originator_id = :originator_id AND originator_version > :after "
            "ORDER BY originator_version"
        ).bindparams(sa.bindparam("originator_id", type_=table.c.originator_id.type))
        self.engine = records.recorder.datastore.engine
        self.late_after = timedelta(days=records.settings.late_entry_days)
        self.zone = records.settings.zone
        self.writes_resume_at = 0.0
        cipher_key = records.env.get("CIPHER_KEY")
        self.snapshots = vs.Snapshots(self.engine, cipher_key, self.late_after, self.zone) \
            if cipher_key else None  # without the key, no snapshot could be sealed or checked

    @property
    def records(self) -> Any:
        records = self.application()
        if records is None:
            raise RuntimeError("the application of this replayer was closed and collected")
        return records

    # -- the stored events ------------------------------------------------------------

    def stream(self, trainee_id: UUID) -> _Stream:
        """The trainee's stored events, brought up to date with what was stored since,
        each with its chained hash recomputed from the stored bytes. Nothing is decoded."""
        with self.lock:
            cached = self.streams.get(trainee_id)
        known = cached or _Stream(trainee_id, [])
        with self.engine.connect() as connection:
            rows = connection.execute(self.select_stream, {
                "originator_id": trainee_id, "after": known.version,
            }).all()
        if not rows and cached is not None:
            return cached
        steps, previous = list(known.steps), known.last_hash
        chained = ChainedHash(trainee_id)
        for position, version, topic, state in rows:
            state = bytes(state)
            previous = chained(previous, version, topic, state)
            steps.append(_Step(trainee_id, position, version, topic, state, previous.hex()))
        # Snapshots are read again: others may have been taken since the stream grew.
        grown = _Stream(trainee_id, steps, previous)
        with self.lock:
            current = self.streams.get(trainee_id)
            if current is None or current.version < grown.version:
                self.streams.put(trainee_id, grown)
        return grown

    def decoded(self, step: _Step) -> Any:
        event = step.event
        if event is None:
            event = self.records.mapper.to_domain_event(step.notification)
            step.recorded = vs.micros(event.timestamp)
            step.event = event
            stats["events decoded"] += 1
        return event

    def reached(self, stream: _Stream, as_of: datetime, limit: int, snapshots: bool) -> int:
        """How many of the first `limit` events come before the first one recorded after
        `as_of`. Recorded times come from the snapshots where they cover the events."""
        if snapshots:
            self.chain(stream)
        threshold = vs.micros(as_of)
        for index, step in enumerate(stream.steps[:limit]):
            if step.recorded is None:
                self.decoded(step)
            if step.recorded > threshold:  # type: ignore[operator]
                return index
        return limit

    # -- snapshots ----------------------------------------------------------------------

    def chain(self, stream: _Stream) -> list[vs.Header]:
        """The stream's snapshots that pass their checks, chained from version 0; their
        recorded times are given to the events they cover."""
        if not self.snapshots:
            return []
        if stream.chain is not None:
            return stream.chain
        chain: list[vs.Header] = []
        for stored in self.snapshots.headed(stream.trainee_id):
            header = stored.header
            end = chain[-1].version if chain else 0
            if header.version > stream.version:
                break  # taken after this stream was read; the next request sees it
            try:
                recorded = self.snapshots.check(stored, end, stream.steps[header.version - 1].hash)
            except vs.Discontinuous:
                continue
            except vs.Rejected as why:
                vs.reject(header, why)
                break
            for step, when in zip(stream.steps[end:header.version], recorded, strict=True):
                if step.recorded is None:
                    step.recorded = when
            chain.append(header)
        stream.chain = chain
        return chain

    def load(self, stream: _Stream, headers: list[vs.Header], raw: sqlite3.Connection) -> int:
        """Fills the empty scratch database from the snapshots, in order, up to the first
        whose changes do not open (the chain is cut there). Returns the version reached."""
        reached = 0
        assert self.snapshots
        for header, opened in self.snapshots.deltas(stream.trainee_id, headers):
            try:
                if isinstance(opened, vs.Rejected):
                    raise opened
                try:
                    snapshot_rows.load_changes(raw, opened)
                except snapshot_rows.Malformed as malformed:
                    raise vs.Rejected("malformed", str(malformed)) from None
            except vs.Rejected as why:
                vs.reject(header, why)
                with self.lock:
                    if stream.chain:
                        stream.chain = [h for h in stream.chain
                                        if h.version < header.version]
                break
            reached = header.version
            vs.count("used")
        return reached

    def persist(self, stream: _Stream, taken: list[vs.Written]) -> None:
        """Stores the snapshots a replay took; a failure costs only speed, so it is logged."""
        assert self.snapshots
        if time.monotonic() < self.writes_resume_at:
            return
        try:
            written = self.snapshots.write(taken, self.records.clock.now())
        except sa.exc.SQLAlchemyError as error:
            # A read-only replica, say: not tried again for a while, nor logged each time.
            self.writes_resume_at = time.monotonic() + WRITES_PAUSE_SECONDS
            vs.count("write failed")
            logger.warning("view snapshots of trainee %s not stored (%s); none is stored by "
                           "this process for %d s", stream.trainee_id, type(error).__name__,
                           WRITES_PAUSE_SECONDS,
                           extra={"trainee_id": str(stream.trainee_id),
                                  "error": type(error).__name__})
            return
        vs.count("written", len(taken))
        vs.count("bytes written", written)
        with self.lock:
            chain = stream.chain or []
            if (chain[-1].version if chain else 0) == taken[0].header.base_version:
                stream.chain = [*chain, *(snapshot.header for snapshot in taken)]

    # -- views --------------------------------------------------------------------------

    def view(self, stream: _Stream, reached: int, snapshots: bool) -> TraineeView | None:
        key = (stream.trainee_id, reached)
        with self.lock:
            cached = self.views.get(key)
        if cached is not None:
            return None if cached is _MISSING else cached  # type: ignore[no-any-return]
        if not _enrolls(stream.steps[0]):
            built = None  # not a trainee's stream (a national-ID claim, say)
        else:
            built = self.build(stream, reached, snapshots)
        with self.lock:
            self.views.put(key, _MISSING if built is None else built)
        return built

    def build(self, stream: _Stream, reached: int, snapshots: bool) -> TraineeView | None:
        """Applies the events with the live handlers, from the nearest checkpoint image or
        snapshot below `reached` on, taking snapshots at the versions it passes."""
        trainee_id, steps = stream.trainee_id, stream.steps
        with self.lock:
            start, image = self.checkpoints.nearest(trainee_id, reached)
        below = [h for h in self.chain(stream) if h.version <= reached] if snapshots else []
        from_snapshots = bool(below) and below[-1].version > start
        taken: list[vs.Written] = []
        with scratch_database(None if from_snapshots else image) as (engine, raw):
            if from_snapshots:
                loaded = self.load(stream, below, raw)
                if loaded > start:
                    start = loaded
                else:  # the image is further on after all
                    scratch.restore(raw, image)
            chain = (stream.chain or []) if snapshots else []
            # Snapshots are taken only where the chain ends, so that they continue it, and
            # only by a replay that passes the version of the next.
            passes = (start // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY <= reached
            sealing = self.snapshots if (
                snapshots and passes and start == (chain[-1].version if chain else 0)
                and time.monotonic() >= self.writes_resume_at) else None
            state = snapshot_rows.read_state(raw) if sealing else None
            base = position = start
            while position < reached:
                boundary = (position // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
                last = min(boundary, reached)
                with Session(engine) as session, session.begin():
                    for step in steps[position:last]:
                        event = self.decoded(step)
                        context = Context(session, step.notification, self.late_after,
                                          self.zone, step.hash)
                        project(context, event)
                position = last
                if last < boundary:
                    break
                with self.lock:
                    self.checkpoints.put(trainee_id, last, raw.serialize())
                if sealing and state is not None:
                    now = snapshot_rows.read_state(raw)
                    changed = snapshot_rows.changes(state, now)
                    taken.append(vs.Written(
                        vs.Header(trainee_id, last, base, sealing.format, steps[last - 1].hash),
                        [step.recorded for step in steps[base:last]],  # type: ignore[misc]
                        snapshot_rows.encode_changes(changed),
                    ))
                    state, base = now, last
            with Session(engine) as session, session.begin():
                refresh_trainee(session, str(trainee_id), self.records.regime_of_row)
            view = scratch_reads.read_view(raw, str(trainee_id))
        if taken:
            self.persist(stream, taken)
        return view


def _enrolls(step: _Step) -> bool:
    """Whether the event enrolls a trainee, told by its stored topic (as the mapper
    resolves it), without decoding it."""
    kind = resolve_topic(step.topic)
    return isinstance(kind, type) and issubclass(kind, e.TraineeEnrolled)


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
    """Forgets every cached view, stream and checkpoint image of this application
    (benchmarks); persisted snapshots stay."""
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
    snapshots: bool = True,
) -> TraineeView | None:
    """The trainee as the record stood at `as_of` (recorded time) and/or at `version`.

    Events are applied in stream order, stopping before the first one recorded after
    `as_of` or beyond `version`. None when no event qualifies (not yet enrolled then, or
    an unknown trainee). `snapshots=False` neither uses nor takes persisted snapshots
    (the benchmark's baseline); the answer is the same.
    """
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError("as_of must be an aware datetime")
    replayer = _replayer(records)
    stream = replayer.stream(trainee_id)
    reached = stream.version if version is None else max(0, min(version, stream.version))
    if as_of is not None:
        reached = replayer.reached(stream, as_of, reached, snapshots)
    return replayer.view(stream, reached, snapshots) if reached else None


def take_snapshots(records: Any, trainee_id: UUID) -> int:
    """Replays the trainee to its latest version, so that every snapshot up to it is
    taken (`dualtrack snapshot-views`). Returns how many it wrote."""
    replayer = _replayer(records)
    stream = replayer.stream(trainee_id)
    chain = replayer.chain(stream)
    if stream.version // CHECKPOINT_EVERY * CHECKPOINT_EVERY <= (chain[-1].version if chain
                                                                 else 0):
        return 0  # every snapshot up to the latest version is there already
    if not _enrolls(stream.steps[0]):
        return 0
    replayer.build(stream, stream.version, snapshots=True)
    return len(stream.chain or []) - len(chain)


def verify_snapshots(records: Any, trainee_id: UUID) -> list[int]:
    """The versions at which the trainee's snapshots (those that pass their checks) hold
    other rows or recorded times than replaying its events gives. None, unless someone
    who holds the key forged one, or the handlers changed and PROJECTION_FORMAT was not
    bumped (`dualtrack snapshot-views --verify`)."""
    clear_cache(records)
    replayer = _replayer(records)
    stream = replayer.stream(trainee_id)
    chain = replayer.chain(stream)
    told = [step.recorded for step in stream.steps]  # from the snapshots' timelines
    loaded: dict[int, bytes] = {}
    with scratch_database(None) as (_, raw):
        assert replayer.snapshots or not chain
        for header, opened in replayer.snapshots.deltas(trainee_id, chain) if chain else ():
            try:
                if isinstance(opened, vs.Rejected):
                    raise opened
                snapshot_rows.load_changes(raw, opened)
            except (vs.Rejected, snapshot_rows.Malformed):
                break  # the chain ends here; replays start from the events after it
            loaded[header.version] = _digest(snapshot_rows.read_state(raw))
    differing = []
    with scratch_database(None) as (engine, raw):
        position = 0
        for header in chain[:len(loaded)]:
            with Session(engine) as session, session.begin():
                for step in stream.steps[position:header.version]:
                    project(Context(session, step.notification, replayer.late_after,
                                    replayer.zone, step.hash), replayer.decoded(step))
            position = header.version
            span = slice(header.base_version, header.version)
            recorded = [step.recorded for step in stream.steps[span]]
            if (_digest(snapshot_rows.read_state(raw)) != loaded[header.version]
                    or recorded != told[span]):
                differing.append(header.version)
    clear_cache(records)
    return differing


def _digest(state: snapshot_rows.State) -> bytes:
    return hashlib.sha256(repr(state).encode()).digest()
