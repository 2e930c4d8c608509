"""Runs the read-model projection over the event log, exactly once.

Each batch of events is sealed in the integrity ledger, applied to the read models, and
the position reached is recorded in the library's tracking table, all in one transaction:
a crash leaves all or none. Any process
may run a batch (the API after its own write, the `dualtrack project` worker, a
rebuild): on PostgreSQL a transaction-scoped advisory lock lets one at a time in, and
the tracking record refuses a position that was already projected.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Tracking
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy.orm import Session

from domain.regulations import Regime
from projections import tables as t
from projections.handlers import Context, project
from projections.progress import CHANNEL as PROGRESS_CHANNEL
from projections.summary import refresh_trainee
from service.ledger import Ledger
from service.records import TraineeRecords

TRACKING_TABLE = "projection_tracking"
ADVISORY_LOCK_KEY = 0x64756174  # "duat"
SQLITE_POLL_SECONDS = 0.2

Progress = Callable[[int, int], None]


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
        # Told the position reached after each committed batch (live readers wait on it).
        self.on_advanced: list[Callable[[int], None]] = []

    @property
    def name(self) -> str:
        return self.records.name

    def regime_of(self, trainee: Any) -> Regime:
        """The standard and policy a trainee's read-model row was enrolled under."""
        return self.records.regime_of_row(trainee)

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.name) or 0

    def head(self) -> int:
        return self.records.recorder.max_notification_id() or 0

    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Projects every recorded event (or at least those up to `until`)."""
        if until is not None and self.position() >= until:
            return 0
        processed = 0
        with self._in_process:
            while True:
                count, reached = self._project_batch()
                processed += count
                if count:
                    for listener in self.on_advanced:
                        listener(reached)
                if progress is not None and count:
                    progress(processed, reached)
                if count == 0 or (until is not None and reached >= until):
                    return processed

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
            with self.datastore.transaction(commit=True) as session:
                self.serialise(session)
                for table in reversed(t.READ_MODEL_TABLES):
                    session.execute(table.delete())
                session.execute(
                    self.tracking.tracking_table.delete().where(
                        self.tracking.tracking_table.c.application_name == self.name
                    )
                )
        return self.catch_up(progress=progress)

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

    def _project_batch(self) -> tuple[int, int]:
        with self.datastore.transaction(commit=True) as session:
            self.serialise(session)
            start = self.position()
            notifications = self.records.recorder.select_notifications(
                start=start, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return 0, start
            hashes = self.ledger.seal(session, notifications)
            touched: set[str] = set()
            for notification in notifications:
                event = self.records.mapper.to_domain_event(notification)
                context = Context(
                    session, notification, self.late_after, self.zone, hashes[notification.id]
                )
                trainee_id = project(context, event)
                if trainee_id is not None:
                    touched.add(trainee_id)
            for trainee_id in sorted(touched):
                refresh_trainee(session, trainee_id, self.regime_of)
            reached = notifications[-1].id
            self.ledger.maybe_checkpoint(session, self.records.clock.now())
            self.tracking._insert_tracking(session, Tracking(self.name, reached))
            if self._is_postgres:
                # Heard by other processes' live readers only once this batch commits.
                session.execute(
                    sa.text("SELECT pg_notify(:channel, :reached)"),
                    {"channel": PROGRESS_CHANNEL, "reached": str(reached)},
                )
            return len(notifications), reached

    def serialise(self, session: Session) -> None:
        if self._is_postgres:
            session.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )

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
