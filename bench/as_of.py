"""As-of replay of one long trainee, with and without persisted view snapshots, beside
the raw rows and the library's in-memory load.

`python -m bench.as_of [--quick]` runs it alone (on a fresh scratch database, like
`python -m bench.run`, which also runs it). One trainee gets `events` events through
`services.records.execute(...)`, one command per transaction, the clock a minute further
for each, so every event has its own recorded time. One replay of the whole stream then
takes the view snapshots (projections.view_snapshots, every replay.CHECKPOINT_EVERY
events), as the first replay of a long record does. Then, at several moments of that
history, `projections.replay.replay(records, id, as_of=...)` is timed:

- cold: every process cache cleared first, as in a new process: the stored rows are read
  from PostgreSQL and their chained hashes recomputed; with snapshots, those that pass
  their checks are loaded and only the events after the last one below the moment are
  decoded and applied with the live handlers; without (`snapshots=False`, the replay
  before snapshots), every event up to the moment is. The two alternate, moment by
  moment, so that both see the same load on a shared machine;
- the worst moment: one event before the last snapshot, so that the most rows are
  loaded and CHECKPOINT_EVERY - 1 events applied after them;
- another moment: after one cold replay of the whole stream, a moment not asked before
  (it starts from the nearest checkpoint image in memory);
- warm: the same moment again (the view is cached; one indexed SELECT finds no new event).

Baselines, in the same run: a plain SELECT of the same stored rows over psycopg2, and
loading the aggregate from the eventsourcing library's in-memory (POPO) store holding
the same stored events. Nothing is asserted about speed.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg2
import sqlalchemy as sa

from bench import dataset
from domain import commands as c
from projections import replay, view_snapshots
from service import bootstrap
from service.clock import Clock, FixedClock
from service.principals import system
from service.records import TraineeRecords
from service.regulations import load_regulations
from service.settings import Settings

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # after the rotation, so no date is future
STEP = timedelta(minutes=1)
MOMENTS = (0.25, 0.5, 0.75, 1.0)  # where in the history the as-of points fall
RAW_SELECT = ("SELECT id, originator_id, originator_version, topic, state "
              "FROM dualtrack_events WHERE originator_id = %s ORDER BY originator_version")


@dataclass(frozen=True)
class AsOfFigures:
    events: int
    build_seconds: float
    cold: dict[float, float]  # seconds with snapshots, by where in the history the moment is
    cold_without: dict[float, float]  # the same without snapshots
    worst: float  # seconds with snapshots at the worst moment (see the module's docstring)
    worst_without: float
    snapshots: int  # snapshots of the trainee
    snapshot_bytes: int  # their sealed parts together
    taking: float  # seconds of the replay that took them
    another: list[float]
    warm: list[float]
    raw_select: float  # median seconds
    popo_load: float  # median seconds
    raw_rows: int

    @property
    def cold_median(self) -> float:
        return statistics.median(self.cold.values())

    @property
    def cold_without_median(self) -> float:
        return statistics.median(self.cold_without.values())


def build_trainee(settings: Settings, events: int) -> tuple[uuid.UUID, list[datetime]]:
    """One trainee with exactly `events` events: enrollment, a rotation, then entries
    recorded and signed in turn. Returns its id and each event's recorded time."""
    clock = FixedClock(START)
    services = bootstrap.build(settings, clock=clock)
    try:
        records = services.records
        enrollment = dataset.enroll_command(dataset.fresh_serial())
        trainee_id = records.enroll(enrollment, system("bench")).trainee_id
        times = [clock.now()]
        rotation = uuid.uuid4()

        def run(command: object, actor: str) -> None:
            clock.advance(minutes=STEP.total_seconds() / 60)
            records.execute(command, system(actor))
            times.append(clock.now())

        run(c.ScheduleRotation(trainee_id, rotation, "cardiology", 1, dataset.ROTATION_START,
                               dataset.ROTATION_END, tutor_id="dr-bench"), "bench")
        entry = None
        for n in range(events - 2):
            if entry is None:
                command = dataset.entry_command(trainee_id, rotation, n)
                entry = command.entry_id
                run(command, "trainee")
            else:
                run(c.SignRotationEntry(trainee_id, entry, "dr-bench"), "dr-bench")
                entry = None
        return trainee_id, times
    finally:
        services.close()


def measure(settings: Settings, dsn: str, events: int, repeats: int) -> AsOfFigures:
    started = time.perf_counter()
    trainee_id, times = build_trainee(settings, events)
    build_seconds = time.perf_counter() - started
    moments = {where: times[max(0, round(where * len(times)) - 1)] for where in MOMENTS}
    last_snapshot = len(times) // replay.CHECKPOINT_EVERY * replay.CHECKPOINT_EVERY
    worst_moment = times[max(0, last_snapshot - 2)]  # one event before the last snapshot
    records = uncached_records(settings)
    try:
        def at(moment: datetime, snapshots: bool = True) -> Callable[[], object]:
            return lambda: check(replay.replay(records, trainee_id, as_of=moment,
                                               snapshots=snapshots), moment, times)

        replay.clear_cache(records)
        taking = seconds(at(times[-1]))
        snapshots, snapshot_bytes = stored_snapshots(records, trainee_id)

        def cold_pair(moment: datetime) -> tuple[float, float]:
            """Median seconds with and without snapshots, every cache cleared before each."""
            with_, without = [], []
            for _ in range(repeats):
                for snapshotted, samples in ((True, with_), (False, without)):
                    replay.clear_cache(records)
                    samples.append(seconds(at(moment, snapshotted)))
            return statistics.median(with_), statistics.median(without)

        cold, cold_without = {}, {}
        for where, moment in moments.items():
            cold[where], cold_without[where] = cold_pair(moment)
        worst, worst_without = cold_pair(worst_moment)
        replay.clear_cache(records)
        at(times[-1])()
        between = [times[round(i * len(times) / (repeats + 1))] for i in range(1, repeats + 1)]
        another = [seconds(at(moment)) for moment in between]
        warm = [seconds(at(moment)) for moment in [*moments.values(), *between] * repeats]
        stored = records.recorder.select_events(trainee_id)
    finally:
        records.close()
    raw_select, raw_rows = raw_select_seconds(dsn, trainee_id, repeats)
    return AsOfFigures(
        events=len(times), build_seconds=build_seconds, cold=cold, cold_without=cold_without,
        worst=worst, worst_without=worst_without, snapshots=snapshots,
        snapshot_bytes=snapshot_bytes, taking=taking, another=another, warm=warm,
        raw_select=raw_select, raw_rows=raw_rows,
        popo_load=popo_load_seconds(settings, stored, trainee_id, repeats),
    )


def check(view: replay.TraineeView | None, moment: datetime, times: list[datetime]) -> None:
    expected = sum(1 for recorded in times if recorded <= moment)
    if view is None or view.version != expected:
        raise RuntimeError(f"as of {moment} replayed to version "
                           f"{None if view is None else view.version}, not {expected}")


def stored_snapshots(records: TraineeRecords, trainee_id: uuid.UUID) -> tuple[int, int]:
    """How many view snapshots the trainee has, and their sealed bytes together."""
    s = view_snapshots.view_snapshots.c
    with records.recorder.datastore.engine.connect() as connection:
        count, size = connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(
                sa.func.sum(sa.func.length(s.timeline) + sa.func.length(s.delta)), 0))
            .where(s.trainee_id == str(trainee_id))
        ).one()
    return int(count), int(size)


def raw_select_seconds(dsn: str, trainee_id: uuid.UUID, repeats: int) -> tuple[float, int]:
    """The median seconds of a plain SELECT of the trainee's stored event rows."""
    samples, count = [], 0
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            for _ in range(max(repeats, 5)):
                started = time.perf_counter()
                cursor.execute(RAW_SELECT, (str(trainee_id),))
                count = len(cursor.fetchall())
                connection.commit()
                samples.append(time.perf_counter() - started)
    finally:
        connection.close()
    return statistics.median(samples), count


def popo_load_seconds(
    settings: Settings, stored: list[object], trainee_id: uuid.UUID, repeats: int
) -> float:
    """The median seconds to load the aggregate from the library's in-memory store, which
    holds the very same stored events."""
    memory = uncached_records(settings, PERSISTENCE_MODULE="eventsourcing.popo",
                              IS_SNAPSHOTTING_ENABLED="no")
    try:
        memory.recorder.insert_events(stored)  # type: ignore[arg-type]
        loaded = memory.repository.get(trainee_id)
        if loaded.version != len(stored):
            raise RuntimeError(f"the POPO store loaded version {loaded.version}")
        return statistics.median(
            seconds(lambda: memory.repository.get(trainee_id)) for _ in range(max(repeats, 3))
        )
    finally:
        memory.close()


def uncached_records(settings: Settings, **env: str) -> TraineeRecords:
    return TraineeRecords(settings, forms={}, regulations=load_regulations(), clock=Clock(),
                          env={"AGGREGATE_CACHE_MAXSIZE": ""} | env)


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def rows(figures: AsOfFigures) -> list[tuple[str, float, str, float, str, str]]:
    """(measure, ours, unit, theirs, unit, baseline) rows for the benchmark's table."""
    label = f"as-of {figures.events:,}-event trainee"
    raw = f"raw SELECT of its {figures.raw_rows:,} event rows"
    popo = "library POPO in-memory load"
    ms = 1e3
    without = "the same replay without snapshots"
    return [
        (f"{label}, cold, persisted snapshots", figures.cold_median * ms, "ms",
         figures.cold_without_median * ms, "ms", without),
        (f"{label}, cold, worst moment", figures.worst * ms, "ms", figures.worst_without * ms,
         "ms", without),
        (f"{label}, cold", figures.cold_median * ms, "ms", figures.raw_select * ms, "ms", raw),
        (f"{label}, cold", figures.cold_median * ms, "ms", figures.popo_load * ms, "ms", popo),
        (f"{label}, another moment", statistics.median(figures.another) * ms, "ms",
         figures.popo_load * ms, "ms", popo),
        (f"{label}, warm", statistics.median(figures.warm) * ms, "ms",
         figures.raw_select * ms, "ms", raw),
    ]


def notes(figures: AsOfFigures) -> list[str]:
    cold = ", ".join(
        f"{where:.0%} {value * 1e3:,.0f} ms (without {figures.cold_without[where] * 1e3:,.0f})"
        for where, value in figures.cold.items()
    )
    size = figures.snapshot_bytes
    each = size / figures.snapshots if figures.snapshots else 0
    return [
        f"as-of: built {figures.events:,} events through records.execute in "
        f"{figures.build_seconds:.1f} s; cold by moment in the history, with snapshots "
        f"(without): {cold}; worst moment {figures.worst * 1e3:,.0f} ms (without "
        f"{figures.worst_without * 1e3:,.0f}); another moment: median of "
        f"{len(figures.another)}, from the nearest checkpoint image; warm: median of "
        f"{len(figures.warm)}",
        f"as-of snapshots: {figures.snapshots} of the trainee, one every "
        f"{replay.CHECKPOINT_EVERY} events, {size / 1024:,.0f} KiB together ({each / 1024:,.1f} "
        f"KiB each, {size / max(1, figures.events):,.0f} bytes per event); the first replay, "
        f"which took them, {figures.taking:.2f} s",
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from bench.run import FULL, QUICK, SNAPSHOT_INTERVAL, dsn, scratch_database
    from service import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.as_of", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL)
        migrate.upgrade(settings)
        figures = measure(settings, dsn(url), sizes.long_history, sizes.loads)
    for measure_, ours, unit, theirs, their_unit, baseline in rows(figures):
        print(f"{measure_} | {ours:,.1f} {unit} | {theirs:,.1f} {their_unit} ({baseline}) | "
              f"{ours / theirs:.2f}x")
    for note in notes(figures):
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
