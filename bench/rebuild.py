"""`dualtrack rebuild` of whatever log is in the database, beside the library's in-memory
replay of the same stored events.

`measure(settings, dsn)` times `projector.rebuild()` (empty every read model, project
the whole log in batches, refresh the summaries it deferred) and, as the baseline, an
eventsourcing POPO application (PERSISTENCE_MODULE=eventsourcing.popo, the same cipher
and transcoder, no snapshots, no aggregate cache) holding the same stored events, timing
`repository.get` of every aggregate: decoding and replaying each event in memory, with
no database at all. On a large log the baseline replays whole streams of the aggregates
stored first, up to `baseline_events` events (its rate per event does not depend on how
many it replays; holding millions of events in memory would).

`python -m bench.rebuild [--quick]` runs it alone on a scratch database, after building
a cohort like `python -m bench.run`'s bulk import and projecting it once (so the ledger
has sealed every event, as it has on a live deployment). Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import psycopg2
from eventsourcing.persistence import StoredEvent

from bench import dataset
from service import bootstrap
from service.clock import Clock
from service.records import TraineeRecords
from service.regulations import load_regulations
from service.settings import Settings

BASELINE_EVENTS = 200_000
# `python -m bench.rebuild` builds its own log: a cohort of trainees of a rotation and
# ENTRIES_EACH entries, saved SAVE_BATCH trainees at a time.
FULL_COHORT, QUICK_COHORT, ENTRIES_EACH, SAVE_BATCH = 200, 10, 48, 20
EVENTS_BY_STREAM = """
    SELECT originator_id, originator_version, topic, state FROM dualtrack_events
    WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version
"""
FIRST_STREAMS = """
    SELECT originator_id, count(*) FROM dualtrack_events GROUP BY originator_id
    ORDER BY min(id)
"""


@dataclass(frozen=True)
class RebuildFigures:
    events: int  # events the rebuild projected
    seconds: float
    trainees: int  # read-model rows of trainees afterwards
    baseline_events: int  # events the in-memory baseline replayed
    baseline_seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def baseline_per_second(self) -> float:
        return self.baseline_events / self.baseline_seconds

    @property
    def ratio(self) -> float:
        return self.events_per_second / self.baseline_per_second


def measure(
    settings: Settings, dsn: str, baseline_events: int = BASELINE_EVENTS,
    batch_size: int | None = None,
) -> RebuildFigures:
    """Rebuilds the read models of the log in the database, then replays (up to
    `baseline_events` of) the same stored events in the library's in-memory store."""
    services = bootstrap.build(settings)
    try:
        if batch_size is not None:
            services.projector.batch_size = batch_size
        started = time.perf_counter()
        events = services.projector.rebuild()
        seconds = time.perf_counter() - started
        with services.engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM rm_trainees").scalar()
    finally:
        services.close()
    replayed, replay_seconds = in_memory_replay(settings, dsn, baseline_events)
    return RebuildFigures(events=events, seconds=seconds, trainees=int(count or 0),
                          baseline_events=replayed, baseline_seconds=replay_seconds)


def in_memory_replay(settings: Settings, dsn: str, limit: int) -> tuple[int, float]:
    """(events, seconds): `repository.get` of every aggregate of the first streams, up to
    `limit` events, from a POPO application holding their stored events."""
    streams, stored = _stored_streams(dsn, limit)
    memory = TraineeRecords(
        settings, forms={}, regulations=load_regulations(settings.regulations_dir),
        clock=Clock(), env={"AGGREGATE_CACHE_MAXSIZE": "", "IS_SNAPSHOTTING_ENABLED": "no",
                            "PERSISTENCE_MODULE": "eventsourcing.popo"},
    )
    try:
        memory.recorder.insert_events(stored)  # type: ignore[arg-type]
        started = time.perf_counter()
        for originator_id, version in streams.items():
            loaded = memory.repository.get(originator_id)
            if loaded.version != version:
                raise RuntimeError(f"the POPO store loaded {originator_id} at v{loaded.version}")
        return len(stored), time.perf_counter() - started
    finally:
        memory.close()


def _stored_streams(dsn: str, limit: int) -> tuple[dict[UUID, int], list[StoredEvent]]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(FIRST_STREAMS)
            chosen: list[str] = []
            total = 0
            for originator_id, count in cursor:
                if total and total + count > limit:
                    break
                chosen.append(str(originator_id))
                total += count
            cursor.execute(EVENTS_BY_STREAM, (chosen,))
            stored = [StoredEvent(originator_id=UUID(str(originator_id)),
                                  originator_version=version, topic=topic, state=bytes(state))
                      for originator_id, version, topic, state in cursor]
    finally:
        connection.close()
    versions: dict[UUID, int] = {}
    for event in stored:
        versions[event.originator_id] = event.originator_version  # type: ignore[index]
    return versions, stored


def rows(figures: RebuildFigures) -> list[tuple[str, float, str, float, str, str]]:
    """(measure, ours, unit, theirs, unit, baseline) rows for the benchmark's table."""
    return [(
        f"rebuild read models ({figures.events:,} events)", figures.events_per_second,
        "events/s", figures.baseline_per_second, "events/s",
        f"library POPO in-memory replay of {figures.baseline_events:,} of them",
    )]


def notes(figures: RebuildFigures) -> list[str]:
    return [
        f"rebuild: {figures.events:,} events, {figures.trainees:,} trainees in "
        f"{figures.seconds:.1f} s (TRUNCATE, batches of the projector's batch size x10 "
        "sealed and committed with their tracking record, summaries deferred to the end); "
        f"baseline: repository.get of every aggregate holding {figures.baseline_events:,} "
        f"stored events, in {figures.baseline_seconds:.2f} s",
    ]


def build_cohort(records: TraineeRecords, cohort: int, entries_each: int, batch: int) -> int:
    """The bulk import of bench.run: `cohort` trainees built in memory, saved `batch` at a
    time; returns the number of events stored."""
    events = 0
    serials = range(1, cohort + 1)
    for first in range(0, len(serials), batch):
        built = [dataset.trainee_with_entries(records, serial, entries_each)
                 for serial in serials[first:first + batch]]
        events += len(records.save(*[a for trainee, claim, _ in built for a in (trainee, claim)]))
    return events


def main(argv: list[str] | None = None) -> int:
    from bench.run import SNAPSHOT_INTERVAL, dsn, print_machine, scratch_database
    from service import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--cohort", type=int, help=f"trainees (default {FULL_COHORT})")
    parser.add_argument("--entries", type=int,
                        help=f"entries per trainee (default {ENTRIES_EACH})")
    args = parser.parse_args(argv)
    cohort = args.cohort or (QUICK_COHORT if args.quick else FULL_COHORT)
    entries = args.entries if args.entries is not None else ENTRIES_EACH
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL,
                            token_secret=secrets.token_urlsafe(48))
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            print_machine(services.engine)
            stored = build_cohort(services.records, cohort, entries, SAVE_BATCH)
            started = time.perf_counter()
            projected = services.projector.catch_up()
            catching_up = time.perf_counter() - started
        finally:
            services.close()
        figures = measure(settings, dsn(url))
    print(f"built {cohort:,} trainees, {stored:,} events; first catch-up (sealing each "
          f"event): {projected:,} events in {catching_up:.1f} s "
          f"({projected / catching_up:,.0f} events/s)")
    for name, ours, unit, theirs, their_unit, baseline in rows(figures):
        print(f"{name} | {ours:,.0f} {unit} | {theirs:,.0f} {their_unit} ({baseline}) | "
              f"{ours / theirs:.2f}x")
    for note in notes(figures):
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
