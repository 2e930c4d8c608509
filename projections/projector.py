"""Runs the read-model projection over the event log, exactly once.

Each batch of events is sealed in the integrity ledger, applied to the read models, and
the position reached is recorded in the library's tracking table, all in one transaction:
a crash leaves all or none. Any process
may run a batch (the API after its own write, the `dualtrack project` worker, a
rebuild): on PostgreSQL a transaction-scoped advisory lock lets one at a time in, and
the tracking record refuses a position that was already projected.

A batch is one unit of work (projections.batch): the handlers' rows are written with a
few set-wise statements at its end, and the summaries of the trainees it touched are
recomputed together, so a batch costs about the same number of statements whether it
holds one event or five hundred.

A rebuild empties the read models (TRUNCATE on PostgreSQL) and projects the whole log
in batches REBUILD_BATCH_FACTOR times larger, leaving every trainee's summary for its
end: each batch marks the trainees it touched in rm_summaries_due, in the transaction
that writes its rows, and any later batch (the rebuild's last ones, or whichever
projector runs next if the rebuild was interrupted) refreshes the trainees it finds
marked and unmarks them, so no summary is left stale.

`reached` is the position this process last saw the read models reach, so that the
request threads that call `catch_up(until=...)` after a write the first of them already
projected return without a query.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy.orm import Session

from domain.facts import TrainingFacts
from domain.regulations import Regime
from projections import bulk
from projections import tables as t
from projections.batch import Batch
from projections.handlers import Context, corrected_entry, project, trainee_of
from projections.progress import CHANNEL as PROGRESS_CHANNEL
from projections.shadows import ShadowTrainees
from service.connections import unbounded
from service.ledger import Ledger
from service.records import TraineeRecords

TRACKING_TABLE = "projection_tracking"
ADVISORY_LOCK_KEY = 0x64756174  # "duat"
SQLITE_POLL_SECONDS = 0.2
# A rebuild's batches are this many times the size of catch-up's.
REBUILD_BATCH_FACTOR = 10
# Due summaries refreshed per batch (a batch refreshes the trainees it touched as well).
SUMMARIES_PER_BATCH = 1000

Progress = Callable[[int, int], None]


class ProjectionRaced(Exception):
    """Another projector recorded a position this batch was projecting (nothing is kept)."""


@dataclass(frozen=True)
class _Outcome:
    events: int
    reached: int
    more_due: bool  # more summaries are due than this batch refreshed


class Projector:
    def __init__(self, records: TraineeRecords, ledger: Ledger, batch_size: int = 500):
        self.records = records
        self.ledger = ledger
        self.datastore = records.recorder.datastore
        self.tracking = SQLAlchemyTrackingRecorder(
            self.datastore, tracking_table_name=TRACKING_TABLE
        )
        self.late_after = timedelta(days=records.settings.late_entry_days)
        self.zone = records.settings.zone
        self.batch_size = batch_size
        self._in_process = threading.Lock()
        self._is_postgres = self.datastore.engine.dialect.name == "postgresql"
        # The position this process last saw the read models reach: request threads that
        # find their write already projected return without asking the database.
        self.reached = 0
        self.shadows = ShadowTrainees(
            self._load_trainee, records.settings.projection_cache_trainees
        )
        # Told the position reached after each committed batch (live readers wait on it).
        self.on_advanced: list[Callable[[int], None]] = []
        # A rebuild's batches and summary refreshes are long by design: they run without
        # the service's statement timeout (service.connections).
        self._unbounded = False

    @property
    def name(self) -> str:
        return self.records.name

    def _load_trainee(self, trainee_id: UUID, version: int) -> Any:
        try:
            return self.records.repository.get(trainee_id, version=version)
        except AggregateNotFoundError:
            return None

    @property
    def rebuild_batch_size(self) -> int:
        return self.batch_size * REBUILD_BATCH_FACTOR

    def regime_of(self, trainee: Any) -> Regime:
        """The standard and policy a trainee's read-model row was enrolled under."""
        return self.records.regime_of_row(trainee)

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.name) or 0

    def head(self) -> int:
        return self.records.recorder.max_notification_id() or 0

    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Projects every recorded event (or at least those up to `until`)."""
        # Every request thread of a group commit calls this after the same batch: the
        # first projects it, the others find it projected without a query.
        if until is not None and self.reached >= until:
            return 0
        with self._in_process:
            if until is not None and self.reached >= until:
                return 0  # another thread projected it while this one waited
            return self._run(until, progress, self.batch_size, defer_summaries=False)

    def wait_for(self, notification_id: int, timeout: float) -> None:
        """Read-your-writes for the worker mode: wait for the worker, then help it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.position() >= notification_id:
                return
            time.sleep(0.01)
        self.catch_up(until=notification_id)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empties every read model and projects the whole log again."""
        with self._in_process:
            self._unbounded = True
            try:
                with self.datastore.transaction(commit=True) as session:
                    self.serialise(session)
                    unbounded(session)
                    self._empty_read_models(session)
                    self.reached = 0
                processed = self._run(
                    None, progress, self.rebuild_batch_size, defer_summaries=True)
                # Refreshes the deferred summaries (and projects whatever arrived meanwhile).
                return self._run(None, progress, self.batch_size, defer_summaries=False,
                                 processed=processed)
            finally:
                self._unbounded = False

    def _empty_read_models(self, session: Session) -> None:
        if self._is_postgres:
            names = ", ".join(table.name for table in t.READ_MODEL_TABLES)
            session.execute(sa.text(f"TRUNCATE {names}"))
        else:
            for table in reversed(t.READ_MODEL_TABLES):
                session.execute(table.delete())
        session.execute(
            self.tracking.tracking_table.delete().where(
                self.tracking.tracking_table.c.application_name == self.name
            )
        )

    def _run(
        self, until: int | None, progress: Progress | None, size: int, defer_summaries: bool,
        processed: int = 0,
    ) -> int:
        """Projects batches of `size` events until the log (or `until`) is reached and no
        summary is due; returns `processed` plus the events projected."""
        while True:
            outcome = self._project_batch(size, defer_summaries)
            processed += outcome.events
            if outcome.events:
                for listener in self.on_advanced:
                    listener(outcome.reached)
                if progress is not None:
                    progress(processed, outcome.reached)
            if outcome.more_due:
                continue
            # A batch short of `size` found the end of the log: stop without asking again.
            drained = outcome.events < size and until is None
            if drained or outcome.events == 0 or (
                until is not None and outcome.reached >= until
            ):
                return processed

    def run_forever(self, stop: threading.Event, on_batch: Progress | None = None) -> None:
        """Keeps the read models current until `stop` is set."""
        wake = self._listen() if self._is_postgres else None
        try:
            while not stop.is_set():
                self.catch_up(progress=on_batch)
                if wake is None:
                    stop.wait(SQLITE_POLL_SECONDS)
                else:
                    wake(1.0)
        finally:
            if wake is not None:
                wake.close()  # type: ignore[attr-defined]

    def _project_batch(self, size: int, defer_summaries: bool) -> _Outcome:
        with self.datastore.transaction(commit=True) as session:
            self.serialise(session)
            if self._unbounded:
                unbounded(session)
            start, any_due = self._tracked(session)
            self.reached = start
            notifications = self._notifications(session, start, size)
            due = self._due(session) if any_due and not defer_summaries else []
            more_due = len(due) > SUMMARIES_PER_BATCH
            due = due[:SUMMARIES_PER_BATCH]
            if not notifications and not due:
                return _Outcome(0, start, False)
            batch = Batch(session)
            try:
                facts = self._apply(batch, notifications, shadows=not defer_summaries)
                if defer_summaries:
                    touched = list(batch.touched)
                    batch.flush()
                    bulk.insert_missing(session, t.summaries_due,
                                        [{"trainee_id": i} for i in touched])
                else:
                    batch.finish(self.regime_of, also=due, facts=facts)
                    bulk.delete(session, t.summaries_due, due)
            except BaseException:
                # The shadows were advanced with a batch that is not committed.
                self.shadows.forget(batch.touched)
                raise
            if not notifications:
                return _Outcome(0, start, more_due)
            reached = notifications[-1].id
            self._track(session, start, reached)
            if self._is_postgres:
                # Heard by other processes' live readers only once this batch commits.
                session.execute(
                    sa.text("SELECT pg_notify(:channel, :reached)"),
                    {"channel": PROGRESS_CHANNEL, "reached": str(reached)},
                )
        self.reached = reached
        return _Outcome(len(notifications), reached, more_due)

    def _apply(
        self, batch: Batch, notifications: list[Notification], shadows: bool
    ) -> dict[str, TrainingFacts]:
        """Seals the events and runs their handlers into the batch; returns the facts of
        the trainees whose shadows the events brought up to date (if `shadows`)."""
        if not notifications:
            return {}
        session = batch.session
        hashes = self.ledger.seal_and_checkpoint(session, notifications, self.records.clock.now())
        events = [self.records.mapper.to_domain_event(n) for n in notifications]
        batch.look_ahead(
            (i for i in map(trainee_of, events) if i is not None),
            (i for i in map(corrected_entry, events) if i is not None),
        )
        for notification, event in zip(notifications, events, strict=True):
            project(Context(session, notification, self.late_after, self.zone,
                            hashes[notification.id], batch), event)
        return self.shadows.advance(events) if shadows else {}

    def _notifications(self, session: Session, start: int, limit: int) -> list[Notification]:
        """The stored events after `start`, as the library's select_notifications gives
        them, read without building an ORM object per row."""
        c = self.records.events_table.c
        rows = session.execute(
            sa.select(c.id, c.originator_id, c.originator_version, c.topic, c.state)
            .where(c.id > start).order_by(c.id).limit(limit)
        )
        return [
            Notification(id=position, originator_id=originator_id,
                         originator_version=version, topic=topic, state=bytes(state))
            for position, originator_id, version, topic, state in rows
        ]

    def _tracked(self, session: Session) -> tuple[int, bool]:
        """The position projected so far, and whether any summaries are due."""
        c = self.tracking.tracking_table.c
        position, any_due = session.execute(sa.select(
            sa.select(sa.func.max(c.notification_id))
            .where(c.application_name == self.name).scalar_subquery(),
            sa.exists(sa.select(t.summaries_due.c.trainee_id)),
        )).one()
        return position or 0, bool(any_due)

    def _track(self, session: Session, start: int, reached: int) -> None:
        """Records the position reached, refusing it if another projector moved on from
        `start` meanwhile (the library's tracking table: one row per application)."""
        table = self.tracking.tracking_table
        moved = session.execute(
            table.update()
            .where(table.c.application_name == self.name, table.c.notification_id == start)
            .values(notification_id=reached)
        ).rowcount
        if moved == 1:
            return
        if start != 0:
            raise ProjectionRaced(f"the tracking record left position {start}")
        session.execute(table.insert().values(application_name=self.name,
                                              notification_id=reached))

    def _due(self, session: Session) -> list[str]:
        c = t.summaries_due.c
        return list(session.execute(
            sa.select(c.trainee_id).order_by(c.trainee_id).limit(SUMMARIES_PER_BATCH + 1)
        ).scalars())

    def serialise(self, session: Session) -> None:
        """One projector at a time, across processes. SQLite: a write that changes nothing
        takes the database's write lock before the tracking record is read (a projector
        of another process, such as a worker beside the server, would otherwise project
        the same events from the same snapshot of the file)."""
        if self._is_postgres:
            session.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        else:
            table = self.tracking.tracking_table
            session.execute(table.update().where(sa.false()).values(notification_id=0))

    def _listen(self) -> _Listener:
        return _Listener(self.datastore.engine, self.records.recorder.channel_name)


class _Listener:
    """Wakes the worker when PostgreSQL announces new events (LISTEN/NOTIFY)."""

    def __init__(self, engine: sa.Engine, channel: str):
        self.connection = engine.raw_connection()
        self.connection.set_isolation_level(0)  # autocommit, so notifications arrive
        cursor = self.connection.cursor()
        cursor.execute(f"LISTEN {channel}")
        cursor.close()

    def __call__(self, timeout: float) -> None:
        driver = self.connection.driver_connection
        if select.select([driver], [], [], timeout)[0]:
            driver.poll()
            driver.notifies.clear()

    def close(self) -> None:
        self.connection.close()
