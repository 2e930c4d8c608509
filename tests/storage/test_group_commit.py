"""Group commit on each backend: commands that queue up while a transaction commits share
the next one, each is decided on its own, and none is lost (service.group_commit)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from domain import commands as c
from domain.errors import InvalidCommand, NotFound
from domain.events import RotationEntryRecorded
from service import bootstrap
from service.bootstrap import Services
from service.group_commit import GroupCommitter
from service.principals import system
from service.records import Outcome
from service.settings import Settings
from tests.history import enroll

WAIT_SECONDS = 10.0


def with_rotation(services: Services, national_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    trainee = enroll(services, national_id=national_id)
    rotation = uuid.uuid4()
    services.records.execute(
        c.ScheduleRotation(trainee, rotation, "cardiology", 1, date(2025, 1, 1),
                           date(2025, 6, 1), tutor_id="dr"),
        system("base"),
    )
    return trainee, rotation


def entry(trainee: uuid.UUID, rotation: uuid.UUID, day: date = date(2025, 2, 1)) -> Any:
    return c.RecordRotationEntry(trainee, uuid.uuid4(), rotation, "CASE", day, "a case")


def recorded_entries(services: Services, trainee: uuid.UUID) -> list[uuid.UUID]:
    events = services.records.events.get(trainee)
    return [uuid.UUID(str(e.entry_id)) for e in events if isinstance(e, RotationEntryRecorded)]


def positions(services: Services) -> list[tuple[uuid.UUID, int, int]]:
    table = services.records.events_table
    with services.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.originator_id, table.c.originator_version, table.c.id)
            .order_by(table.c.id)
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


class Gate:
    """Holds the leader inside a first job, so that the commands submitted meanwhile
    queue up and are committed together in the next batch."""

    def __init__(self, committer: GroupCommitter[Outcome]):
        self.committer = committer
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._lead)

    def _lead(self) -> None:
        def blocking_job(work: object) -> Callable[[object], None]:
            self.entered.set()
            self.release.wait(WAIT_SECONDS)
            return lambda position_of: None

        self.committer.submit(blocking_job)  # type: ignore[arg-type]

    def __enter__(self) -> Gate:
        self.thread.start()
        assert self.entered.wait(WAIT_SECONDS)
        return self

    def wait_for_queue(self, length: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.committer.queued < length:
            assert time.monotonic() < deadline, "the commands never queued"
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(WAIT_SECONDS)


def run_batched(services: Services, commands: list[Any]) -> dict[int, Outcome | Exception]:
    committer = services.records.committer
    results: dict[int, Outcome | Exception] = {}

    def run(n: int, command: Any) -> None:
        try:
            results[n] = services.records.execute(command, system("li"))
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n, cmd)) for n, cmd in enumerate(commands)]
    with Gate(committer) as gate:
        for thread in threads:
            thread.start()
        gate.wait_for_queue(len(commands))
    for thread in threads:
        thread.join(WAIT_SECONDS)
    return results


def test_commands_queued_during_a_commit_share_the_next_transaction(services: Services) -> None:
    trainees = [with_rotation(services, f"11010119990101{n:04d}") for n in range(4)]
    committer = services.records.committer
    batches = committer.batches
    commands = [entry(t, r) for t, r in trainees for _ in range(2)]
    results = run_batched(services, commands)
    assert all(isinstance(result, Outcome) for result in results.values()), results
    assert committer.batches == batches + 1
    ours = {results[n].notification_id for n in range(len(commands))}  # type: ignore[union-attr]
    assert len(ours) == len(commands)
    assert max(ours) - min(ours) == len(commands) - 1  # one flush: consecutive positions
    for trainee, _ in trainees:
        assert len(recorded_entries(services, trainee)) == 2


def test_a_batch_with_one_refused_command_commits_the_others(services: Services) -> None:
    trainee, rotation = with_rotation(services, "110101199901011111")
    other, other_rotation = with_rotation(services, "110101199901012222")
    refused = entry(trainee, rotation, day=date(2030, 1, 1))  # after the rotation ends
    missing = entry(uuid.uuid4(), rotation)  # no such trainee
    commands = [entry(trainee, rotation), refused, entry(other, other_rotation), missing,
                entry(trainee, rotation)]
    before = len(positions(services))
    results = run_batched(services, commands)
    assert isinstance(results[1], InvalidCommand)
    assert isinstance(results[3], NotFound)
    applied = [results[n] for n in (0, 2, 4)]
    assert all(isinstance(result, Outcome) for result in applied), results
    assert len(positions(services)) == before + 3
    assert set(recorded_entries(services, trainee)) == {commands[0].entry_id,
                                                         commands[4].entry_id}
    assert recorded_entries(services, other) == [commands[2].entry_id]


def test_a_command_on_a_trainee_changed_elsewhere_is_decided_again(
    services: Services, settings: Settings, clock: object
) -> None:
    trainee, rotation = with_rotation(services, "110101199901013333")
    services.records.execute(entry(trainee, rotation), system("li"))  # cached here now
    elsewhere = bootstrap.build(settings, clock=clock)  # type: ignore[arg-type]
    try:
        elsewhere.records.execute(entry(trainee, rotation), system("li"))
        elsewhere.records.execute(entry(trainee, rotation), system("li"))
    finally:
        elsewhere.close()
    committer = services.records.committer
    redone = committer.redecided
    late = entry(trainee, rotation)
    outcome = services.records.execute(late, system("li"))
    assert committer.redecided == redone + 1
    entries = recorded_entries(services, trainee)
    assert len(entries) == 4 and entries[-1] == late.entry_id
    versions = [version for stream, version, _ in positions(services) if stream == trainee]
    assert versions == list(range(1, len(versions) + 1))
    assert outcome.notification_id == positions(services)[-1][2]


def test_a_batch_where_one_trainee_was_changed_elsewhere_commits_the_others_first(
    services: Services, settings: Settings, clock: object
) -> None:
    stale, stale_rotation = with_rotation(services, "110101199901014444")
    fresh, fresh_rotation = with_rotation(services, "110101199901015555")
    elsewhere = bootstrap.build(settings, clock=clock)  # type: ignore[arg-type]
    try:
        elsewhere.records.execute(entry(stale, stale_rotation), system("li"))
    finally:
        elsewhere.close()
    commands = [entry(stale, stale_rotation), entry(fresh, fresh_rotation)]
    results = run_batched(services, commands)
    assert all(isinstance(result, Outcome) for result in results.values()), results
    stale_position = results[0].notification_id  # type: ignore[union-attr]
    fresh_position = results[1].notification_id  # type: ignore[union-attr]
    assert fresh_position < stale_position  # the current one went first, alone
    assert len(recorded_entries(services, stale)) == 2


def test_two_enrollments_of_one_national_id_in_a_batch_enroll_one(services: Services) -> None:
    committer = services.records.committer
    commands = [
        c.EnrollTrainee(
            trainee_id=uuid.uuid4(), name="Li Lei", national_id="110101199901016666",
            pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
            bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
            holds_residency_certificate=False, licensed_at_enrollment=False,
            specialty="internal medicine", base_id="base-1", university="PKU",
            cohort=2024, enrolled_on=date(2024, 9, 1),
        )
        for _ in range(2)
    ]
    results: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            results[n] = services.records.enroll(commands[n], system("registrar"))
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    with Gate(committer) as gate:
        for thread in threads:
            thread.start()
        gate.wait_for_queue(2)
    for thread in threads:
        thread.join(WAIT_SECONDS)
    kinds = sorted(type(result).__name__ for result in results.values())
    assert kinds == ["Conflict", "Outcome"]


@pytest.mark.parametrize("writers", [8])
def test_concurrent_writers_here_and_elsewhere_lose_nothing(
    services: Services, settings: Settings, clock: object, writers: int
) -> None:
    trainees = [with_rotation(services, f"11010119990102{n:04d}") for n in range(3)]
    elsewhere = bootstrap.build(settings, clock=clock)  # type: ignore[arg-type]
    applied: list[uuid.UUID] = []
    refused: list[Exception] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        app = services if n % 4 else elsewhere  # a quarter write from another "process"
        trainee, rotation = trainees[n % len(trainees)]
        for _ in range(6):
            command = entry(trainee, rotation)
            try:
                app.records.execute(command, system("li"))
                with lock:
                    applied.append(command.entry_id)
            except Exception as error:
                with lock:
                    refused.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elsewhere.close()
    assert all(type(error).__name__ == "Conflict" for error in refused), refused
    assert len(applied) + len(refused) == writers * 6
    stored = [e for t, _ in trainees for e in recorded_entries(services, t)]
    assert sorted(map(str, stored)) == sorted(map(str, applied))
    for trainee, _ in trainees:
        versions = [v for stream, v, _ in positions(services) if stream == trainee]
        assert versions == list(range(1, len(versions) + 1))
