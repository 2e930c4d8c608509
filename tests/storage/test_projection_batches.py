"""The projector's batches: the read models do not depend on how the log is cut into
batches, a batch costs the same statements however many events and trainees it holds,
and a rebuild that is interrupted leaves nothing stale once any projector runs again."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from itertools import zip_longest
from typing import Any

import pytest
import sqlalchemy as sa

from domain import commands as c
from projections import tables as t
from service import bootstrap
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.history import enroll
from tests.rich_history import rich_history
from tests.scenarios import ENROLLED_ON, SPECIALTY

TRAINEES = 4


def every_row(services: bootstrap.Services) -> dict[str, list[tuple[Any, ...]]]:
    with services.engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(t.all_rows_query(table))]
                for table in t.READ_MODEL_TABLES}


def interleaved_records(services: bootstrap.Services, clock: FixedClock) -> list[uuid.UUID]:
    """Whole "5+3" records of several trainees, their commands taking turns, each
    projected as the API projects it (after every write); one entry of each is corrected
    twice and signed again, so a recording collects two corrections."""
    histories = [_with_corrections(services, serial) for serial in range(TRAINEES)]
    for turn in zip_longest(*(h.steps for h in histories)):
        for step in turn:
            if step is not None:
                clock.advance(minutes=1)
                outcome = step[1]()
                services.projector.catch_up(until=getattr(outcome, "notification_id", None))
    return [h.trainee_id for h in histories]


def _with_corrections(services: bootstrap.Services, serial: int) -> Any:
    rich = rich_history(services)
    trainee, run = rich.trainee_id, services.records.execute
    rich.steps[0] = ("enroll", lambda: enroll(
        services, trainee_id=trainee, national_id=f"P-BATCHES-{serial:04d}",
        specialty=SPECIALTY, enrolled_on=ENROLLED_ON, cohort=2023))
    entry, _, tutor = rich.entries[0]
    signed = next(n for n, (name, _) in enumerate(rich.steps) if name == "sign CASE 0")
    corrections = [
        ("correct", lambda: run(c.CorrectRotationEntry(
            trainee, entry, "CASE", date(2023, 9, 5), "a case, corrected", "wrong date"),
            system("trainee"))),
        ("correct again", lambda: run(c.CorrectRotationEntry(
            trainee, entry, "CASE", date(2023, 9, 6), "a case, corrected twice", "still wrong"),
            system("trainee"))),
        ("sign again", lambda: run(c.SignRotationEntry(trainee, entry, tutor), system(tutor))),
    ]
    rich.steps[signed + 1:signed + 1] = corrections
    return rich


def empty_read_models(services: bootstrap.Services) -> None:
    """As a new deployment finds them: no rows, nothing projected."""
    projector = services.projector
    with services.engine.begin() as connection:
        for table in reversed(t.READ_MODEL_TABLES):
            connection.execute(table.delete())
        tracking = projector.tracking.tracking_table
        connection.execute(tracking.delete().where(tracking.c.application_name == projector.name))
    projector.reached = 0


@pytest.fixture
def projected(services: bootstrap.Services, clock: FixedClock) -> dict[str, list[Any]]:
    interleaved_records(services, clock)
    rows = every_row(services)
    assert len(rows["rm_trainees"]) == TRAINEES
    assert len(rows["rm_audit_events"]) > 100  # PostgreSQL COPYs a 500-event batch's rows
    corrected_by = [row[-1] for row in rows["rm_audit_events"] if row[-1]]
    assert sorted(map(len, corrected_by)) == [1] * TRAINEES + [2] * TRAINEES  # and retractions
    assert rows["rm_summaries_due"] == []
    return rows


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_any_batch_size_projects_the_same_rows(
    services: bootstrap.Services, projected: dict[str, list[Any]], batch_size: int
) -> None:
    empty_read_models(services)
    services.projector.batch_size = batch_size
    assert services.projector.catch_up() == services.projector.head()
    assert every_row(services) == projected
    services.projector.rebuild()
    assert every_row(services) == projected


@pytest.mark.parametrize("stop_after", ["the first batch", "the last events"])
def test_an_interrupted_rebuild_is_finished_by_the_next_catch_up(
    services: bootstrap.Services, settings: Settings, clock: FixedClock,
    projected: dict[str, list[Any]], stop_after: str,
) -> None:
    services.projector.batch_size = 5  # rebuild batches of 50 events
    head = services.projector.head()

    class Interrupted(Exception):
        pass

    def stop(processed: int, reached: int) -> None:
        if stop_after == "the first batch" or reached == head:
            raise Interrupted

    with pytest.raises(Interrupted):
        services.projector.rebuild(progress=stop)
    interrupted = every_row(services)
    assert interrupted["rm_summaries_due"] != []  # the summaries it deferred
    assert interrupted != projected
    if stop_after == "the last events":
        assert interrupted["rm_audit_events"] == projected["rm_audit_events"]
    restarted = bootstrap.build(settings, clock=clock)  # another process takes over
    try:
        assert restarted.projector.catch_up() == head - interrupted["rm_audit_events"][-1][0]
        assert every_row(restarted) == projected
    finally:
        restarted.close()


def test_a_projector_running_between_a_rebuilds_batches_leaves_no_summary_stale(
    services: bootstrap.Services, settings: Settings, clock: FixedClock,
    projected: dict[str, list[Any]],
) -> None:
    other = bootstrap.build(settings, clock=clock)
    try:
        services.projector.batch_size = 3  # rebuild batches of 30 events
        other.projector.batch_size = 40
        services.projector.rebuild(progress=lambda *_: other.projector.catch_up())
        assert every_row(services) == projected
    finally:
        other.close()


# ---------------------------------------------------------------------------------------
# What one batch costs


@pytest.fixture
def statements(services: bootstrap.Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object) -> None:
        # What the statement does, without the parameter lists that grow with a batch.
        seen.append(re.split(r"\b(?:WHERE|VALUES)\b", str(args[2]))[0])

    sa.event.listen(services.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(services.engine, "before_cursor_execute", count)


def trainees_with_a_rotation(
    services: bootstrap.Services, count: int, entries: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Trainees alike, each with a rotation holding `entries` signed entries, projected."""
    made = []
    for _ in range(count):
        trainee, rotation = enroll(services, national_id=f"S-{uuid.uuid4().hex[:16]}"), uuid.uuid4()
        services.records.execute(c.ScheduleRotation(
            trainee, rotation, "cardiology", 1, date(2026, 1, 1), date(2026, 12, 1),
            tutor_id="dr-a"), system("base"))
        for n in range(entries):
            record_and_sign(services, trainee, rotation, n)
        made.append((trainee, rotation))
    services.projector.catch_up()
    return made


def record_and_sign(
    services: bootstrap.Services, trainee: uuid.UUID, rotation: uuid.UUID, n: int
) -> int:
    entry = uuid.uuid4()
    services.records.execute(c.RecordRotationEntry(
        trainee, entry, rotation, "CASE", date(2026, 1 + n % 10, 1 + n % 28), f"case {n}"),
        system("li"))
    return services.records.execute(c.SignRotationEntry(trainee, entry, "dr-a"),
                                    system("dr-a")).notification_id


def batch_statements(
    services: bootstrap.Services, statements: list[str],
    trainees: list[tuple[uuid.UUID, uuid.UUID]], n: int,
) -> list[str]:
    """The statements of the one batch that projects an entry recorded and signed for
    each of `trainees`."""
    last = max(record_and_sign(services, trainee, rotation, n) for trainee, rotation in trainees)
    statements.clear()
    assert services.projector.catch_up(until=last) == 2 * len(trainees)
    return list(statements)


def test_a_batch_costs_the_same_statements_however_many_events_and_trainees_it_holds(
    services: bootstrap.Services, statements: list[str]
) -> None:
    trainees = trainees_with_a_rotation(services, 12, entries=2)
    one = batch_statements(services, statements, trainees[:1], 2)
    assert len(one) < 30
    assert batch_statements(services, statements, trainees[1:3], 2) == one
    assert batch_statements(services, statements, trainees[3:], 2) == one


def test_a_long_record_costs_a_batch_no_more_statements(
    services: bootstrap.Services, statements: list[str]
) -> None:
    short = batch_statements(services, statements,
                             trainees_with_a_rotation(services, 1, entries=1), 1)
    long = batch_statements(services, statements,
                            trainees_with_a_rotation(services, 1, entries=60), 60)
    # The same statements, less the certificates' UPDATE when no verdict changed.
    left_out = [s for s in short if s not in long]
    assert len(left_out) <= 1 and all(s.startswith("UPDATE") and "rm_certificates" in s
                                      for s in left_out)
    assert [s for s in long if s not in short] == []
    assert len(long) <= len(short)


def test_a_write_already_projected_costs_no_statement(
    services: bootstrap.Services, statements: list[str]
) -> None:
    [(trainee, rotation)] = trainees_with_a_rotation(services, 1, entries=0)
    written = record_and_sign(services, trainee, rotation, 0)
    assert services.projector.catch_up(until=written) == 2
    statements.clear()
    assert services.projector.catch_up(until=written) == 0
    assert services.projector.catch_up(until=written - 1) == 0
    assert statements == []
