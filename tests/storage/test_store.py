"""The event store on each backend: round trips, snapshots, conflicts, refusals."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from eventsourcing.application import project_aggregate

from domain import commands as c
from domain.errors import Conflict, InvalidCommand
from domain.events import RotationEntryRecorded
from service.bootstrap import Services
from service.principals import system
from tests.history import enroll, realistic


def count(services: Services, table: str) -> int:
    with services.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())


def test_a_trainee_loads_from_its_snapshot_as_it_would_from_a_full_replay(
    services: Services,
) -> None:
    history = realistic(services)
    records = services.records
    loaded = records.get_trainee(history.trainee_id)
    replayed = project_aggregate(None, records.events.get(history.trainee_id))
    assert loaded.version == 28 and count(services, "dualtrack_snapshots") == 2
    assert loaded.__dict__ == replayed.__dict__
    rotation = loaded.rotations[str(history.rotations[0])]
    assert type(rotation["start_on"]) is date and rotation["completed_on"] == date(2025, 3, 1)


def test_concurrent_commands_on_one_trainee_are_applied_or_refused_never_lost(
    services: Services,
) -> None:
    t = enroll(services)
    rotation = uuid.uuid4()
    services.records.execute(c.ScheduleRotation(t, rotation, "cardiology", 1, date(2025, 1, 1),
                                                date(2025, 6, 1), tutor_id="dr"), system("base"))
    outcomes: list[str] = []

    def write(n: int) -> None:
        for k in range(5):
            try:
                services.records.execute(c.RecordRotationEntry(
                    t, uuid.uuid4(), rotation, "CASE", date(2025, 2, 1), f"{n}-{k}"), system("li"))
                outcomes.append("applied")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 40
    stored = list(services.records.events.get(t))
    recorded = [e for e in stored if isinstance(e, RotationEntryRecorded)]
    assert len(recorded) == outcomes.count("applied") > 0
    assert [e.originator_version for e in stored] == list(range(1, len(stored) + 1))


def test_a_refused_command_writes_nothing(services: Services) -> None:
    t = enroll(services)
    before = count(services, "dualtrack_events")
    with pytest.raises(InvalidCommand, match="must be after startOn"):
        services.records.execute(c.ScheduleRotation(t, uuid.uuid4(), "cardiology", 1,
                                                    date(2025, 6, 1), date(2025, 1, 1)),
                                 system("base"))
    with pytest.raises(Conflict, match="already enrolled"):
        enroll(services)
    assert count(services, "dualtrack_events") == before
