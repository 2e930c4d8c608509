"""`python -m bench.run [--quick] [--sizes N,N]`: dualtrack beside its peers, as history grows.

It creates a database of its own on the server named by DUALTRACK_BENCH_POSTGRES_URL
(default: the local server of the `test` database), migrates it, fills it with a
synthetic province (bench/province.py, loaded through the same import pipeline as
`dualtrack import`) up to the first size, measures every figure, grows the province to
the next size and measures them all again, then drops the database. It prints one table:
figure, events in the store, our value, the peer's (measured in the same run, on the same
machine), the ratio, and the machine. It asserts nothing about speed.

The ratio is always our speed relative to the peer's, so that above 1 is faster: for
rates ours over the peer's, for times the peer's over ours.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench import (
    as_of,
    baselines,
    dataset,
    group_commit,
    http_figures,
    importing,
    province,
    rebuild,
)
from service import bootstrap, importer, migrate
from service.clock import Clock
from service.records import TraineeRecords
from service.regulations import load_regulations
from service.settings import Settings, normalise_database_url

SERVER_VARIABLE = "DUALTRACK_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SNAPSHOT_INTERVAL = 100
NO_SNAPSHOTS = {"IS_SNAPSHOTTING_ENABLED": "no"}
EVENTS_EACH = 1500  # events per trainee of the synthetic province


@dataclass(frozen=True)
class Sizes:
    stores: tuple[int, ...]  # events in the store at which every figure is measured
    commands: int  # commands per group-commit figure
    long_history: int  # events of the one long trainee (handbook, loads, as-of)
    loads: int  # loads of it, for a median
    queries: int  # handbook queries over HTTP, per side
    http_commands: int  # entries per client per round over HTTP
    import_trainees: int  # trainees of the bulk-import figure
    rebuild_baseline: int  # events the library's in-memory replay replays


FULL = Sizes(stores=(100_000, 3_000_000), commands=2000, long_history=3000, loads=9,
             queries=100, http_commands=100, import_trainees=40, rebuild_baseline=200_000)
QUICK = Sizes(stores=(3_000, 9_000), commands=80, long_history=300, loads=3, queries=10,
              http_commands=10, import_trainees=4, rebuild_baseline=3_000)


@dataclass
class Table:
    machine: str
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    store: int = 0

    def add(self, measure: str, ours: float, unit: str, theirs: float, their_unit: str,
            peer: str) -> None:
        faster = theirs / ours if unit == "ms" else ours / theirs
        self.rows.append((measure, f"{self.store:,}", f"{ours:,.1f} {unit}",
                          f"{theirs:,.1f} {their_unit} ({peer})", f"{faster:.2f}x"))

    def add_formatted(self, measure: str, ours: str, theirs: str, ratio: str) -> None:
        self.rows.append((measure, f"{self.store:,}", ours, theirs, ratio))

    def note(self, text: str) -> None:
        self.notes.append(f"[{self.store:,} events] {text}")

    def print(self) -> None:
        header = ("figure", "store", "dualtrack", "peer", "ratio", "machine")
        table = [header, *(row + (self.machine,) for row in self.rows)]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]

        def line(cells: tuple[str, ...]) -> str:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            return " | ".join(padded).rstrip()

        print(line(header))
        print("-+-".join("-" * width for width in widths))
        for row in table[1:]:
            print(line(row))
        for note in self.notes:
            print(f"note: {note}")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--sizes", help="events in the store at which to measure, e.g. "
                        "100000,3000000 (default: those of the chosen run)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        stores = tuple(int(size.replace("_", "")) for size in args.sizes.split(","))
        sizes = Sizes(**{**sizes.__dict__, "stores": stores})
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL,
                            token_secret=secrets.token_urlsafe(48))
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            machine = describe_machine(services.engine)
            print(f"machine: {machine}", flush=True)
            Report(sizes, settings, services, dsn(url), Table(short_machine(services.engine))
                   ).run()
        finally:
            services.close()
    return 0


class Report:
    def __init__(self, sizes: Sizes, settings: Settings, services: bootstrap.Services,
                 dsn: str, table: Table):
        self.sizes, self.settings, self.services, self.dsn = sizes, settings, services, dsn
        self.table = table
        self.long_trainee: uuid.UUID | None = None
        self.writers: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.grown = 0  # province trainees so far

    def run(self) -> None:
        for store in self.sizes.stores:
            self.grow_to(store)
            self.table.store = self.events_stored()
            say(f"filling the raw baselines' table like the store ({self.table.store:,} rows)")
            filled = baselines.fill_like_store(self.dsn)
            self.table.note(f"raw baselines insert into a table already holding {filled:,} "
                            "rows, as the event store does")
            say(f"measuring at {self.table.store:,} events")
            self.group_commit()
            self.over_http()
            self.long_history_loads()
            self.as_of_replay()
            self.bulk_import()
            self.rebuild()
            self.verify_whole_log()
        self.table.print()

    # Growth: the synthetic province, imported, then projected.
    def grow_to(self, store: int) -> None:
        missing = store - self.events_stored()
        trainees = max(0, -(-missing // EVENTS_EACH))
        if not trainees:
            return
        say(f"growing the province by {trainees:,} trainees of {EVENTS_EACH:,} events")
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "province.jsonl"
            province.write_cohort_file(path, trainees, EVENTS_EACH, first=self.grown + 1)
            self.grown += trainees
            started = time.perf_counter()
            summary = importer.import_file(self.services.records, str(path), jobs=nproc(),
                                           say=say)
            imported = time.perf_counter() - started
        if summary.rejected:
            raise RuntimeError(f"the synthetic province did not import: {summary}")
        started = time.perf_counter()
        projected = self.services.projector.catch_up()
        projecting = time.perf_counter() - started
        self.table.store = self.events_stored()
        self.table.note(
            f"province grown by {summary.events:,} events ({trainees:,} trainees) in "
            f"{imported:.0f} s ({summary.events / imported:,.0f} events/s), then "
            f"{projected:,} events projected in {projecting:.0f} s "
            f"({projected / max(projecting, 1e-9):,.0f} events/s, sealed in the ledger)")

    def events_stored(self) -> int:
        with self.services.engine.connect() as connection:
            return int(connection.execute(sa.text(
                "SELECT count(*) FROM dualtrack_events")).scalar() or 0)

    # 1. Commands, one writer and eight, beside raw single-row commits.
    def group_commit(self) -> None:
        say("group commit")
        figures = group_commit.measure(self.services, self.dsn, self.sizes.commands)
        for row in group_commit.rows(figures):
            self.table.add(*row)
        for note in group_commit.notes(figures):
            self.table.note(note)

    # 2. The HTTP path beside a plain FastAPI + SQLAlchemy peer.
    def over_http(self) -> None:
        say("over HTTP")
        if not self.writers:
            self.writers = [self._writer() for _ in range(8)]
        trainee = self._long_trainee()
        self.services.projector.catch_up()
        handbook = http_figures.handbook_figures(
            self.services, trainee, self.sizes.long_history - 2, self.sizes.queries)
        commands = http_figures.command_figures(
            self.services, self.writers, clients=8, count=self.sizes.http_commands, rounds=2)
        for row in http_figures.rows(handbook, commands):
            self.table.add_formatted(*row)
        for note in http_figures.notes(handbook, commands):
            self.table.note(note)

    def _writer(self) -> tuple[uuid.UUID, uuid.UUID]:
        records = self.services.records
        trainee, claim, rotation = dataset.trainee_with_entries(records, dataset.fresh_serial(), 0)
        records.save(trainee, claim)
        return trainee.id, rotation

    def _long_trainee(self) -> uuid.UUID:
        """One trainee with a long record (a rotation and its entries), made once."""
        if self.long_trainee is None:
            records = self.services.records
            trainee, claim, _ = dataset.trainee_with_entries(
                records, dataset.fresh_serial(), self.sizes.long_history - 2)
            records.save(trainee, claim)
            self.long_trainee = trainee.id
        return self.long_trainee

    # 3. The long trainee loaded cold: from its latest snapshot, by full replay, in memory.
    def long_history_loads(self) -> None:
        say("long-history loads")
        trainee = self._long_trainee()
        n = self.sizes.long_history
        cold = uncached_records(self.settings)
        replaying = uncached_records(self.settings, **NO_SNAPSHOTS)
        memory = uncached_records(self.settings, PERSISTENCE_MODULE="eventsourcing.popo",
                                  **NO_SNAPSHOTS)
        try:
            check_version(cold.repository.get(trainee), n)
            check_version(replaying.repository.get(trainee), n)
            with_snapshots = median_seconds(lambda: cold.repository.get(trainee),
                                            self.sizes.loads)
            replayed = median_seconds(lambda: replaying.repository.get(trainee),
                                      self.sizes.loads)
            memory.recorder.insert_events(cold.recorder.select_events(trainee))
            check_version(memory.repository.get(trainee), n)
            in_memory = median_seconds(lambda: memory.repository.get(trainee), self.sizes.loads)
        finally:
            for app in (cold, replaying, memory):
                app.close()
        label = f"load a {n:,}-event trainee"
        self.table.add(f"{label}, from its snapshot", with_snapshots * 1e3, "ms",
                       replayed * 1e3, "ms", "full replay from PostgreSQL")
        self.table.add(f"{label}, full replay", replayed * 1e3, "ms", in_memory * 1e3, "ms",
                       "library POPO in-memory replay")

    # 4. The long trainee as it stood at past moments (bench/as_of.py).
    def as_of_replay(self) -> None:
        say("as-of replay")
        figures = as_of.measure(self.settings, self.dsn, self.sizes.long_history,
                                self.sizes.loads)
        for row in as_of.rows(figures):
            self.table.add(*row)
        for note in as_of.notes(figures):
            self.table.note(note)

    # 5. `dualtrack import` of a synthetic cohort beside raw multi-row INSERT.
    def bulk_import(self) -> None:
        say("bulk import")
        figures = importing.measure(self.settings, self.dsn, self.sizes.import_trainees,
                                    EVENTS_EACH)
        for row in importing.rows(figures):
            self.table.add(*row)
        for note in importing.notes(figures):
            self.table.note(note)
        self.services.projector.catch_up()

    # 6. `dualtrack rebuild` of the whole store beside the library's in-memory replay.
    def rebuild(self) -> None:
        say("rebuild")
        figures = rebuild.measure(self.settings, self.dsn,
                                  baseline_events=self.sizes.rebuild_baseline)
        for row in rebuild.rows(figures):
            self.table.add(*row)
        for note in rebuild.notes(figures):
            self.table.note(note)

    # 7. Check the whole log against its seals and checkpoints.
    def verify_whole_log(self) -> None:
        say("verify")
        self.services.projector.catch_up()
        started = time.perf_counter()
        report = self.services.evidence.verify()
        verifying = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"the benchmark's own log does not verify: {report.problem}")
        raw, rows = baselines.read_every_event(self.dsn)
        self.table.add("verify the whole log (dualtrack verify)", report.checked / verifying,
                       "events/s", rows / raw, "rows/s", "raw SELECT of every event row")


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def uncached_records(settings: Settings, **env: str) -> TraineeRecords:
    """Records that load every trainee afresh, from the store `env` names."""
    return TraineeRecords(settings, forms={}, regulations=load_regulations(), clock=Clock(),
                          env=env)


def check_version(aggregate: object, expected: int) -> None:
    version = getattr(aggregate, "version", None)
    if version != expected:
        raise RuntimeError(f"loaded the long trainee at version {version}, not {expected}")


def timings(work: Callable[[], object], repeats: int) -> list[float]:
    result = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        result.append(time.perf_counter() - started)
    return result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))
    return ordered[min(len(ordered), rank) - 1]


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    return statistics.median(timings(work, repeats))


@contextmanager
def scratch_database() -> Iterator[str]:
    server = sa.make_url(normalise_database_url(os.environ.get(SERVER_VARIABLE, DEFAULT_SERVER)))
    name = f"dualtrack_bench_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


def dsn(url: str) -> str:
    """The libpq URL psycopg2 takes, from the SQLAlchemy one."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _server_facts(engine: sa.Engine) -> tuple[str, str, str]:
    with engine.connect() as connection:
        version = connection.execute(sa.text("SHOW server_version")).scalar()
        fsync = connection.execute(sa.text("SHOW fsync")).scalar()
        commit = connection.execute(sa.text("SHOW synchronous_commit")).scalar()
    return str(version).split()[0], str(fsync), str(commit)


def describe_machine(engine: sa.Engine) -> str:
    version, fsync, commit = _server_facts(engine)
    return (f"nproc {nproc()}, Python {platform.python_version()}, PostgreSQL {version} on "
            f"{engine.url.host} (fsync {fsync}, synchronous_commit {commit})")


def short_machine(engine: sa.Engine) -> str:
    version, fsync, _ = _server_facts(engine)
    return f"{nproc()} cores, PG {version}, fsync {fsync}"


def print_machine(engine: sa.Engine) -> None:
    print(f"machine: {describe_machine(engine)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
