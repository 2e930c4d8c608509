"""The composition root: builds the one set of services a process runs with."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from projections.projector import Projector
from service.clock import Clock
from service.forms import load_forms
from service.records import Outcome, TraineeRecords
from service.regulations import load_regulations
from service.settings import ConfigurationError, Settings


@dataclass
class Services:
    settings: Settings
    records: TraineeRecords
    projector: Projector

    @property
    def engine(self) -> sa.Engine:
        return self.records.recorder.datastore.engine

    def after_write(self, outcome: Outcome) -> None:
        """Makes a command's effect visible in the read models before it is acknowledged."""
        if self.settings.projection_mode == "inline":
            self.projector.catch_up(until=outcome.notification_id)
        else:
            self.projector.wait_for(
                outcome.notification_id, self.settings.read_your_writes_timeout
            )

    def close(self) -> None:
        self.records.close()
        self.engine.dispose()


def build(settings: Settings, clock: Clock | None = None) -> Services:
    records = TraineeRecords(
        settings,
        forms=load_forms(),
        regulations=load_regulations(settings.regulations_dir),
        clock=clock or Clock(),
    )
    check_database(records, settings)
    return Services(
        settings=settings,
        records=records,
        projector=Projector(records),
    )


class DatabaseUnavailable(ConfigurationError):
    pass


def check_database(records: TraineeRecords, settings: Settings) -> None:
    """Fails with one line if the database cannot be reached or was never migrated."""
    engine = records.recorder.datastore.engine
    try:
        with engine.connect() as connection:
            migrated = sa.inspect(connection).has_table("dualtrack_events")
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise DatabaseUnavailable(
            f"cannot reach the database {settings.describe_database()}: {reason}"
        ) from None
    if not migrated:
        raise DatabaseUnavailable(
            f"the database {settings.describe_database()} has no dualtrack tables; "
            "run `dualtrack migrate` first"
        )
