"""Group commit: concurrent commands share one transaction, each decided on its own.

Any thread may submit a job (a command, bound to its caller). One submitting thread at a
time is the *leader*: it takes every job queued so far, decides each in turn against its
own trainee, and appends all their events in one transaction (service.appender). The
other submitters wait meanwhile and queue up; when the leader is done, the next waiting
thread leads the jobs that queued during that commit. A lone writer therefore leads its
own job at once, with no hand-over, and a busy service commits many jobs per flush.

Each job succeeds or fails alone:
- a job the domain refuses fails with its own error; the others are still committed;
- a job whose trainee another writer changed meanwhile (the append finds its stream
  stale) is decided again on the trainee's new state, in the next round, a bounded
  number of times, and only then refused with Conflict: never dropped silently (so is
  a job that must wait for another job of its round to commit: DecideAgain);
- if the transaction itself fails (the database is down), every job in it fails with
  that error, and nothing of it was written.
A job is acknowledged (its submit returns) only after its transaction committed.

The trainees a leader decides on are kept between batches in a write cache, holding
exactly their committed state: decisions run on the cached object itself (no copy),
which is dropped whenever what was decided on it is not committed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.errors import Conflict
from service.appender import Appended, EventAppender, StreamWrite, unwritable

R = TypeVar("R")
# The log position of a stream's event at a version, once appended.
PositionOf = Callable[[UUID, int], int]
# What a decided job reports, once its events have positions.
Report = Callable[[PositionOf], R]
Load = Callable[[UUID], Aggregate | None]
Encode = Callable[[Any], StoredEvent]
Snapshot = Callable[[Aggregate], StoredEvent]

DEFAULT_MAX_BATCH = 256


class DecideAgain(Exception):
    """Raised by a job that depends on what another job of the same round has decided but
    not yet committed (the receipt of the same idempotency key): it is decided again in
    the next round, on committed state."""


class Work:
    """The aggregates one round of a batch decides on, each loaded once.

    Jobs ask it for aggregates (`get`) and hand it the ones they create (`create`); the
    round then writes every aggregate that gained events, expecting the version it had
    when it was loaded (0 for new ones).
    """

    def __init__(self, load: Callable[[UUID], Aggregate | None], exists: Callable[[UUID], bool]):
        self._load, self._exists = load, exists
        self.aggregates: dict[UUID, Aggregate] = {}
        self.expected: dict[UUID, int] = {}

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id not in self.aggregates:
            loaded = self._load(aggregate_id)
            if loaded is None:
                return None
            self.aggregates[aggregate_id] = loaded
            self.expected[aggregate_id] = loaded.version
        return self.aggregates[aggregate_id]

    def create(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            if aggregate.id in self.aggregates:
                raise Conflict(f"{type(aggregate).__name__} {aggregate.id} already exists")
            self.aggregates[aggregate.id] = aggregate
            self.expected[aggregate.id] = 0

    def created_in_this_round(self, aggregate_id: UUID) -> bool:
        return self.expected.get(aggregate_id) == 0

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether the stream is stored, or created earlier in this round."""
        return aggregate_id in self.aggregates or self._exists(aggregate_id)

    def mark(self) -> dict[UUID, int]:
        return {id_: len(a.pending_events) for id_, a in self.aggregates.items()}

    def changed_since(self, mark: dict[UUID, int]) -> frozenset[UUID]:
        """The aggregates that gained events (or were created) since `mark`."""
        return frozenset(
            id_ for id_, a in self.aggregates.items() if len(a.pending_events) > mark.get(id_, 0)
        )

    def discard(self, ids: frozenset[UUID]) -> None:
        for id_ in ids:
            self.aggregates.pop(id_, None)
            self.expected.pop(id_, None)


class _WriteCache:
    """Committed aggregates, least recently used first out. Only the leader touches it."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.items: OrderedDict[UUID, Aggregate] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        found = self.items.get(aggregate_id)
        if found is not None:
            self.items.move_to_end(aggregate_id)
        return found

    def put(self, aggregate: Aggregate) -> None:
        if self.maxsize <= 0:
            return
        self.items[aggregate.id] = aggregate
        self.items.move_to_end(aggregate.id)
        while len(self.items) > self.maxsize:
            self.items.popitem(last=False)

    def evict(self, aggregate_id: UUID) -> None:
        self.items.pop(aggregate_id, None)


class _Submitted(Generic[R]):
    """A job and its outcome; `wake` is set when it is settled, or when its thread is
    to lead the next batch."""

    __slots__ = ("job", "settled", "result", "error", "wake")

    def __init__(self, job: Callable[[Work], Report[R]]):
        self.job = job
        self.settled = False
        self.result: R | None = None
        self.error: BaseException | None = None
        self.wake = threading.Event()

    def succeed(self, result: R) -> None:
        self.result, self.settled = result, True
        self.wake.set()

    def fail(self, error: BaseException) -> None:
        self.error, self.settled = error, True
        self.wake.set()

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


@dataclass(frozen=True)
class _Decided(Generic[R]):
    submitted: _Submitted[R]
    report: Report[R]
    streams: frozenset[UUID]


class GroupCommitter(Generic[R]):
    def __init__(
        self,
        appender: EventAppender,
        *,
        load: Load,
        exists: Callable[[UUID], bool],
        encode: Encode,
        snapshot: Snapshot | None = None,
        snapshot_interval: int = 0,
        attempts: int = 5,
        cache_size: int = 1000,
        max_batch: int = DEFAULT_MAX_BATCH,
    ):
        self.appender = appender
        self._load_from_store, self._exists = load, exists
        self._encode, self._snapshot = encode, snapshot
        self.snapshot_interval = snapshot_interval
        self.attempts = attempts
        self.max_batch = max_batch
        self._cache = _WriteCache(cache_size)
        self._queue: list[_Submitted[R]] = []
        self._leading = False
        self._lock = threading.Lock()
        # Counted for tests and benchmarks: transactions appended, jobs committed, jobs
        # decided again because another writer changed their trainee meanwhile.
        self.batches = 0
        self.committed = 0
        self.redecided = 0

    @property
    def queued(self) -> int:
        """Jobs waiting for a leader."""
        with self._lock:
            return len(self._queue)

    def submit(self, job: Callable[[Work], Report[R]]) -> R:
        """Decides and commits the job, with whatever else is queued; returns its report
        once committed, or raises its own refusal.

        Each waiting thread is woken only for its own job: when it is settled, or when
        the leader before hands it the lead (the first job still queued leads next)."""
        submitted = _Submitted(job)
        with self._lock:
            self._queue.append(submitted)
            leading = not self._leading
            self._leading = True
        while True:
            if not leading:
                submitted.wake.wait()
                submitted.wake.clear()
                if submitted.settled:
                    return submitted.outcome()
            with self._lock:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self._commit(batch)
            except BaseException as error:  # settle the batch, never leave a waiter hanging
                for waiting in batch:
                    if not waiting.settled:
                        waiting.fail(error)
                if not isinstance(error, Exception):
                    raise
            finally:
                self._pass_lead()
            if submitted.settled:
                return submitted.outcome()
            leading = False

    def _pass_lead(self) -> None:
        """Lets the first job still queued lead the next batch."""
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        if successor is not None:
            successor.wake.set()

    def _commit(self, batch: list[_Submitted[R]]) -> None:
        remaining = batch
        for _ in range(self.attempts):
            remaining = self._round(remaining)
            if not remaining:
                return
        for submitted in remaining:
            submitted.fail(Conflict(
                f"the trainee was changed by others {self.attempts} times while this command "
                "was decided; nothing was recorded, try again"
            ))

    def _round(self, jobs: Sequence[_Submitted[R]]) -> list[_Submitted[R]]:
        """Decides the jobs and appends their events; returns the jobs to decide again."""
        work = Work(self._load, self._exists)
        decided: list[_Decided[R]] = []
        redo: list[_Submitted[R]] = []
        for submitted in jobs:
            mark = work.mark()
            try:
                report = submitted.job(work)
            except Exception as error:
                half_decided = work.changed_since(mark)
                if half_decided:
                    # Those aggregates hold events of a refused decision: forget them, and
                    # decide again the jobs that had decided on them (and on what they touched).
                    tainted = unwritable(half_decided, [d.streams for d in decided])
                    self._forget(work, tainted)
                    redo += [d.submitted for d in decided if d.streams & tainted]
                    decided = [d for d in decided if not d.streams & tainted]
                if isinstance(error, DecideAgain):
                    redo.append(submitted)
                    self.redecided += 1
                else:
                    submitted.fail(error)
                continue
            decided.append(_Decided(submitted, report, work.changed_since(mark)))
        if not decided:
            return redo
        try:
            writes = self._writes(work)
            appended = self.appender.append(writes, together=[d.streams for d in decided])
        except BaseException:
            for aggregate_id in work.aggregates:
                self._cache.evict(aggregate_id)
            raise
        self._settle(work, decided, appended, redo)
        return redo

    def _settle(
        self, work: Work, decided: list[_Decided[R]], appended: Appended,
        redo: list[_Submitted[R]],
    ) -> None:
        for aggregate_id, aggregate in work.aggregates.items():
            if aggregate_id in appended.skipped:
                self._cache.evict(aggregate_id)
            else:
                self._cache.put(aggregate)
        if appended.positions:
            self.batches += 1
        position_of = _positions(appended)
        for d in decided:
            if d.streams & appended.skipped:
                redo.append(d.submitted)
                self.redecided += 1
                continue
            try:
                d.submitted.succeed(d.report(position_of))
                self.committed += 1
            except Exception as error:  # a report that cannot be made is the job's own error
                d.submitted.fail(error)

    def _writes(self, work: Work) -> list[StreamWrite]:
        writes = []
        for aggregate_id, aggregate in work.aggregates.items():
            new_events = aggregate.collect_events()
            if not new_events:
                continue
            expected = work.expected[aggregate_id]
            writes.append(StreamWrite(
                aggregate_id, expected, [self._encode(event) for event in new_events],
                self._snapshot_of(aggregate, expected),
            ))
        return writes

    def _snapshot_of(self, aggregate: Aggregate, expected: int) -> StoredEvent | None:
        """A snapshot whenever the new events cross a multiple of the interval."""
        interval = self.snapshot_interval
        if self._snapshot is None or interval <= 0:
            return None
        if aggregate.version // interval == expected // interval:
            return None
        return self._snapshot(aggregate)

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        return self._cache.get(aggregate_id) or self._load_from_store(aggregate_id)

    def _forget(self, work: Work, ids: frozenset[UUID]) -> None:
        work.discard(ids)
        for aggregate_id in ids:
            self._cache.evict(aggregate_id)


def _positions(appended: Appended) -> PositionOf:
    def position_of(stream: UUID, version: int) -> int:
        return appended.positions[(stream, version)]

    return position_of
