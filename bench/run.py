"""`python -m bench.run [--quick]`: dualtrack's figures beside raw PostgreSQL, in one run.

It creates a database of its own on the server named by DUALTRACK_BENCH_POSTGRES_URL
(default: the local server of the `test` database), migrates it, and drops it at the
end. It prints a machine line and a table of figures with their baselines and ratios;
it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from bench import as_of, baselines, dataset, http_api
from service import bootstrap, migrate
from service.clock import Clock
from service.principals import system
from service.records import TraineeRecords
from service.regulations import load_regulations
from service.settings import Settings, normalise_database_url

SERVER_VARIABLE = "DUALTRACK_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SNAPSHOT_INTERVAL = 100
NO_SNAPSHOTS = {"IS_SNAPSHOTTING_ENABLED": "no"}


@dataclass(frozen=True)
class Sizes:
    commands: int  # single commands, one transaction each
    cohort: int  # trainees in the bulk import
    entries_each: int  # handbook entries per imported trainee (+ enroll + rotation)
    import_batch: int  # trainees per records.save(...)
    long_history: int  # events in the one long stream
    loads: int  # loads of it, for a median
    queries: int  # handbook queries over HTTP, for p50/p99
    as_of_history: int  # events of the trainee replayed as of past moments


FULL = Sizes(commands=1000, cohort=200, entries_each=48, import_batch=20,
             long_history=3000, loads=9, queries=200, as_of_history=3000)
QUICK = Sizes(commands=40, cohort=10, entries_each=8, import_batch=5,
              long_history=300, loads=3, queries=10, as_of_history=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL,
                            token_secret=secrets.token_urlsafe(48))
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            print_machine(services.engine)
            Report(sizes, services, dsn(url)).run()
        finally:
            services.close()
    return 0


class Report:
    def __init__(self, sizes: Sizes, services: bootstrap.Services, dsn: str):
        self.sizes, self.services, self.dsn = sizes, services, dsn
        self.rows: list[tuple[str, str, str, str]] = []
        self.notes: list[str] = []

    def run(self) -> None:
        self.single_commands()
        self.bulk_import()
        trainee_id, entries = self.long_history_loads()
        self.handbook_over_http(trainee_id, entries)
        self.as_of_replay()
        self.verify_whole_log()
        self.print_table()

    def print_table(self) -> None:
        header = ("measure", "dualtrack", "baseline", "ratio")
        table = [header, *self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        def line(cells: tuple[str, ...]) -> str:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            return " | ".join(padded).rstrip()

        print(line(header))
        print("-+-".join("-" * width for width in widths))
        for row in self.rows:
            print(line(row))
        for note in self.notes:
            print(f"note: {note}")

    def add(self, measure: str, ours: float, our_unit: str, theirs: float, their_unit: str,
            baseline: str) -> None:
        self.rows.append((measure, f"{ours:,.1f} {our_unit}",
                          f"{theirs:,.1f} {their_unit} ({baseline})", f"{ours / theirs:.2f}x"))

    # 1. One command per transaction, one thread.
    def single_commands(self) -> None:
        records = self.services.records
        trainee, claim, rotation = dataset.trainee_with_entries(records, 0, 0)
        records.save(trainee, claim)
        records.get_trainee(trainee.id)  # warm: the service's cache holds its trainees
        started = time.perf_counter()
        for n in range(self.sizes.commands):
            records.execute(dataset.entry_command(trainee.id, rotation, n), system("bench"))
        ours = self.sizes.commands / (time.perf_counter() - started)
        width = baselines.stored_event_width(self.dsn)
        raw = baselines.single_row_commits(self.dsn, self.sizes.commands, payload_size=width)
        self.add("single-command append (1 thread)", ours, "cmd/s", raw, "rows/s",
                 "raw INSERT+COMMIT")
        self.notes.append(f"raw rows carry {width} bytes of state, the stored events' average")

    # 2. A cohort built in memory through the domain, saved in batches.
    def bulk_import(self) -> None:
        records = self.services.records
        events, elapsed = 0, 0.0
        serials = range(1, self.sizes.cohort + 1)
        for first in range(0, len(serials), self.sizes.import_batch):
            built = [dataset.trainee_with_entries(records, serial, self.sizes.entries_each)
                     for serial in serials[first:first + self.sizes.import_batch]]
            aggregates = [a for trainee, claim, _ in built for a in (trainee, claim)]
            started = time.perf_counter()
            events += len(records.save(*aggregates))
            elapsed += time.perf_counter() - started
        width = baselines.stored_event_width(self.dsn)
        batch_rows = events // max(1, -(-self.sizes.cohort // self.sizes.import_batch))
        raw = baselines.multi_row_inserts(self.dsn, events, payload_size=width, batch=batch_rows)
        self.add("bulk import of a cohort", events / elapsed, "events/s", raw, "rows/s",
                 "raw execute_values")
        self.notes.append(
            f"bulk import: {self.sizes.cohort} trainees, {events:,} events, "
            f"{self.sizes.import_batch} trainees per records.save(); raw: {batch_rows} rows "
            "per INSERT+COMMIT")

    # 3. One long stream, loaded cold: from the latest snapshot, by full replay, in memory.
    def long_history_loads(self) -> tuple[uuid.UUID, int]:
        records, settings = self.services.records, self.services.settings
        n = self.sizes.long_history
        entries = n - 2  # enroll + one rotation + the entries
        trainee, claim, _ = dataset.trainee_with_entries(records, 10**6, entries)
        records.save(trainee, claim)
        cold = uncached_records(settings)
        replaying = uncached_records(settings, **NO_SNAPSHOTS)
        memory = uncached_records(settings, PERSISTENCE_MODULE="eventsourcing.popo",
                                  **NO_SNAPSHOTS)
        try:
            snapshots = cold.snapshots.get(trainee.id) if cold.snapshots else []
            snapshot_versions = sorted(s.originator_version for s in snapshots)
            check_version(cold.repository.get(trainee.id), n)
            check_version(replaying.repository.get(trainee.id), n)
            with_snapshots = median_seconds(lambda: cold.repository.get(trainee.id),
                                            self.sizes.loads)
            replayed = median_seconds(lambda: replaying.repository.get(trainee.id),
                                      self.sizes.loads)
            copy, copy_claim, _ = dataset.trainee_with_entries(memory, 10**6, entries)
            memory.save(copy, copy_claim)
            check_version(memory.repository.get(copy.id), n)
            in_memory = median_seconds(lambda: memory.repository.get(copy.id), self.sizes.loads)
        finally:
            for app in (cold, replaying, memory):
                app.close()
        label = f"{n:,}-event trainee"
        self.add(f"load {label}, snapshots", with_snapshots * 1e3, "ms", replayed * 1e3, "ms",
                 "full replay from PostgreSQL")
        self.add(f"load {label}, full replay", replayed * 1e3, "ms", in_memory * 1e3, "ms",
                 "library POPO in-memory replay")
        latest = snapshot_versions[-1] if snapshot_versions else "-"
        self.notes.append(
            f"loads: median of {self.sizes.loads}, no aggregate cache; snapshot every "
            f"{SNAPSHOT_INTERVAL} events, latest at v{latest} of v{n} "
            f"({len(snapshot_versions)} stored)")
        return trainee.id, entries

    # 4. The handbook over HTTP beside a raw SELECT of the rows it is made from.
    def handbook_over_http(self, trainee_id: uuid.UUID, entries: int) -> None:
        self.services.projector.catch_up()
        raw, raw_entries = baselines.handbook_rows_latencies(self.dsn, str(trainee_id),
                                                             self.sizes.queries)
        try:
            auditor = http_api.auditor_headers(self.services.settings)
            with http_api.running_server(self.services) as url, \
                    httpx.Client(base_url=url, timeout=60, headers=auditor) as client:
                query = http_api.handbook_client(client, trainee_id)
                returned = query()  # warm up, and check the answer is the whole handbook
                if returned != entries:
                    raise RuntimeError(f"the handbook returned {returned} entries, not {entries}")
                ours = timings(query, self.sizes.queries)
        except http_api.ApiUnavailable as why:
            print(f"handbook query over HTTP: not measured, api.app is not importable ({why})")
            for label in ("p50", "p99"):
                self.rows.append((f"handbook query over HTTP {label}", "not measured",
                                  f"{percentile(raw, 0.5 if label == 'p50' else 0.99) * 1e3:,.1f}"
                                  " ms (raw SELECT of the rows)", "-"))
            return
        for label, pick in (("p50", 0.5), ("p99", 0.99)):
            self.add(f"handbook query over HTTP {label}", percentile(ours, pick) * 1e3, "ms",
                     percentile(raw, pick) * 1e3, "ms", "raw SELECT of the rows")
        self.notes.append(
            f"handbook: {self.sizes.queries} sequential queries, {entries:,} entries each; raw "
            f"SELECT of rm_rotations + rm_rotation_entries ({raw_entries:,} rows) over psycopg2")


    # 5. One trainee as it stood at past moments, replayed from its events (bench/as_of.py).
    def as_of_replay(self) -> None:
        figures = as_of.measure(self.services.settings, self.dsn, self.sizes.as_of_history,
                                self.sizes.loads)
        for row in as_of.rows(figures):
            self.add(*row)
        self.notes.extend(as_of.notes(figures))


    # 6. Seal every stored event, then check the whole log against its seals and checkpoints.
    def verify_whole_log(self) -> None:
        evidence, projector = self.services.evidence, self.services.projector
        started = time.perf_counter()
        projected = projector.catch_up()
        projecting = time.perf_counter() - started
        started = time.perf_counter()
        report = evidence.verify()
        verifying = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"the benchmark's own log does not verify: {report.problem}")
        raw, rows = baselines.read_every_event(self.dsn)
        self.add("verify the whole log (dualtrack verify)", report.checked / verifying,
                 "events/s", rows / raw, "rows/s", "raw SELECT of every event row")
        if projected:
            self.notes.append(
                f"projection with sealing: {projected:,} events in {projecting:.1f}s "
                f"({projected / projecting:,.0f} events/s), before verify")


def uncached_records(settings: Settings, **env: str) -> TraineeRecords:
    """Records that load every trainee afresh (no aggregate cache), from the store `env` names."""
    return TraineeRecords(settings, forms={}, regulations=load_regulations(), clock=Clock(),
                          env={"AGGREGATE_CACHE_MAXSIZE": ""} | env)


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


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    return statistics.median(timings(work, repeats))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))
    return ordered[min(len(ordered), rank) - 1]


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


def print_machine(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        version = connection.execute(sa.text("SHOW server_version")).scalar()
        fsync = connection.execute(sa.text("SHOW fsync")).scalar()
        commit = connection.execute(sa.text("SHOW synchronous_commit")).scalar()
    print(f"machine: nproc {nproc()}, Python {platform.python_version()}, PostgreSQL {version} "
          f"on {engine.url.host} (fsync {fsync}, synchronous_commit {commit})", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
