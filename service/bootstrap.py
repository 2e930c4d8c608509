"""The composition root: builds the one set of services a process runs with."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from integrity.checkpoints import CheckpointSigner, SigningKeyError
from projections.progress import ProjectionProgress
from projections.projector import Projector
from service.clock import Clock
from service.connections import harden
from service.evidence import Evidence
from service.forms import load_forms
from service.ledger import CheckpointPolicy, Ledger
from service.metrics import Metrics
from service.personal_data import KEY_VARIABLE
from service.records import Outcome, TraineeRecords
from service.regulations import load_regulations
from service.settings import DEFAULT_SIGNING_KEY_PATH, ConfigurationError, Settings
from service.webhooks.registry import Webhooks


@dataclass
class Services:
    settings: Settings
    records: TraineeRecords
    projector: Projector
    ledger: Ledger
    evidence: Evidence
    progress: ProjectionProgress
    webhooks: Webhooks
    metrics: Metrics = field(default_factory=Metrics)

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
        self.progress.close()
        self.records.close()
        self.engine.dispose()


def build(settings: Settings, clock: Clock | None = None) -> Services:
    records = TraineeRecords(
        settings,
        forms=load_forms(),
        regulations=load_regulations(settings.regulations_dir),
        clock=clock or Clock(),
    )
    harden(records.recorder.datastore.engine, settings)
    try:
        check_database(records, settings)
        check_cipher_key(records, settings)
    except ConfigurationError:
        records.close()
        records.recorder.datastore.engine.dispose()
        raise
    ledger = Ledger(
        signing_key(settings),
        settings.log_origin,
        CheckpointPolicy(
            every_events=settings.checkpoint_every_events,
            every=timedelta(seconds=settings.checkpoint_every_seconds),
        ),
    )
    projector = Projector(records, ledger)
    progress = ProjectionProgress(records.recorder.datastore.engine, projector.position)
    projector.on_advanced.append(progress.advanced)
    return Services(
        settings=settings,
        records=records,
        projector=projector,
        ledger=ledger,
        evidence=Evidence(projector, ledger),
        progress=progress,
        webhooks=Webhooks(
            records.recorder.datastore,
            records.clock,
            head=projector.head,
            allow_http=settings.webhook_allow_http,
        ),
    )


def signing_key(settings: Settings) -> CheckpointSigner:
    """The checkpoint-signing key. A newcomer's first start makes one at the default path;
    a key named by DUALTRACK_SIGNING_KEY_FILE must already exist."""
    path = Path(settings.signing_key_file)
    if not path.exists() and path == DEFAULT_SIGNING_KEY_PATH:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(SigningKeyError):  # another process made it first
            CheckpointSigner.generate().to_file(path)
    elif not path.exists():
        raise ConfigurationError(
            f"DUALTRACK_SIGNING_KEY_FILE={str(path)!r} does not exist; "
            "make one with `dualtrack keygen FILE`"
        )
    try:
        return CheckpointSigner.from_file(path)
    except SigningKeyError as error:
        raise ConfigurationError(f"DUALTRACK_SIGNING_KEY_FILE: {error}") from None


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


def check_cipher_key(records: TraineeRecords, settings: Settings) -> None:
    """Fails with one line if the stored events were encrypted with another key (or none),
    rather than with a stack trace on the first read.

    The oldest and the newest event are tried: one that opens shows the key is right, so
    a single altered row is left to `dualtrack verify` to report, not mistaken for this.
    """
    recorder, cipher = records.recorder, records.mapper.cipher
    newest = recorder.max_notification_id()
    if not newest or cipher is None:
        return
    sample = [*recorder.select_notifications(start=None, limit=1),
              *recorder.select_notifications(start=newest, limit=1)]
    for stored in sample:
        with contextlib.suppress(ValueError):
            cipher.decrypt(stored.state)
            return
    raise ConfigurationError(
        f"the events in {settings.describe_database()} were not encrypted with the key in "
        f"{KEY_VARIABLE} ({settings.cipher_key_file}); restore the key they were written "
        "with (without it they cannot be read)"
    )
