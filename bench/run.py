"""`python -m bench.run [--quick]`: dualtrack's figures beside raw PostgreSQL, in one run.

It creates a database of its own on the server named by DUALTRACK_BENCH_POSTGRES_URL
(default: the local `test` database's server) and drops it afterwards. It prints
figures and ratios; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import sqlalchemy as sa
import uvicorn
from eventsourcing.application import project_aggregate

from api.app import create_app
from bench import baselines, dataset
from service import bootstrap, migrate
from service.clock import Clock
from service.records import TraineeRecords
from service.settings import Settings, normalise_database_url

HANDBOOK = """query($t: ID!) { trainee(id: $t) { name stage
  handbook { clinicalMonths complete missing
    rotations { id department entries { id kind occurredOn description signedBy late retracted } }
    assessments { id kind overall passed } }
  certificates { kind state unmet } } }"""


@dataclass(frozen=True)
class Sizes:
    commands: int
    cohort: int
    entries_each: int
    long_history: int
    loads: int
    queries: int


FULL = Sizes(commands=1000, cohort=200, entries_each=48, long_history=3000, loads=7, queries=50)
QUICK = Sizes(commands=40, cohort=10, entries_each=8, long_history=300, loads=3, queries=5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    sizes = QUICK if parser.parse_args().quick else FULL
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=100)
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            print_machine(services.engine)
            Report(sizes, services, dsn(url)).run()
        finally:
            services.close()


class Report:
    def __init__(self, sizes: Sizes, services: bootstrap.Services, dsn: str):
        self.sizes, self.services, self.dsn = sizes, services, dsn
        self.rows: list[tuple[str, str, str, str]] = []

    def run(self) -> None:
        self.single_commands()
        self.bulk_import()
        trainee_id = self.long_history_loads()
        self.handbook_over_http(trainee_id)
        widths = [max(len(row[i]) for row in self.rows) for i in range(4)]
        for row in [("measure", "dualtrack", "baseline", "ratio"), *self.rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))

    def add(self, measure: str, ours: float, theirs: float, unit: str, baseline: str) -> None:
        self.rows.append((measure, f"{ours:,.1f} {unit}", f"{theirs:,.1f} {unit} ({baseline})",
                          f"{ours / theirs:.2f}x"))

    def single_commands(self) -> None:
        records = self.services.records
        trainee, claim, rotation = dataset.trainee_with_entries(records, 0, 0)
        records.save(trainee, claim)
        started = time.perf_counter()
        for n in range(self.sizes.commands):
            records.execute(dataset.entry_command(trainee.id, rotation, n), "bench")
        ours = self.sizes.commands / (time.perf_counter() - started)
        raw = baselines.single_row_commits(self.dsn, self.sizes.commands, payload_size=400)
        self.add("single-command append (1 writer)", ours, raw, "cmd/s", "raw INSERT+COMMIT")

    def bulk_import(self) -> None:
        records = self.services.records
        batch, events, elapsed = 20, 0, 0.0
        for first in range(1, self.sizes.cohort + 1, batch):
            built = [dataset.trainee_with_entries(records, serial, self.sizes.entries_each)
                     for serial in range(first, min(first + batch, self.sizes.cohort + 1))]
            aggregates = [a for trainee, claim, _ in built for a in (trainee, claim)]
            started = time.perf_counter()
            events += len(records.save(*aggregates))
            elapsed += time.perf_counter() - started
        raw = baselines.multi_row_inserts(self.dsn, events, payload_size=400, batch=1000)
        self.add("bulk import of a cohort", events / elapsed, raw, "events/s",
                 "raw multi-row INSERT")

    def long_history_loads(self) -> uuid.UUID:
        records = self.services.records
        trainee, claim, _ = dataset.trainee_with_entries(
            records, 10**6, self.sizes.long_history - 2)
        records.save(trainee, claim)
        cold = uncached_records(self.services.settings)
        with_snapshots = median_seconds(lambda: cold.repository.get(trainee.id), self.sizes.loads)
        replayed = median_seconds(
            lambda: project_aggregate(None, cold.events.get(trainee.id)), self.sizes.loads)
        cached = median_seconds(lambda: records.repository.get(trainee.id), self.sizes.loads)
        cold.close()
        memory = uncached_records(self.services.settings, PERSISTENCE_MODULE="eventsourcing.popo",
                                  IS_SNAPSHOTTING_ENABLED="no")
        copy, copy_claim, _ = dataset.trainee_with_entries(
            memory, 10**6, self.sizes.long_history - 2)
        memory.save(copy, copy_claim)
        in_memory = median_seconds(lambda: memory.repository.get(copy.id), self.sizes.loads)
        n = f"{self.sizes.long_history:,}"
        self.add(f"load {n}-event trainee, snapshots (ms)", with_snapshots * 1e3,
                 replayed * 1e3, "ms", "full replay")
        self.add(f"load {n}-event trainee, full replay (ms)", replayed * 1e3,
                 in_memory * 1e3, "ms", "library in-memory store")
        self.add(f"load {n}-event trainee, cached (ms)", cached * 1e3,
                 with_snapshots * 1e3, "ms", "snapshot load")
        return trainee.id

    def handbook_over_http(self, trainee_id: uuid.UUID) -> None:
        self.services.projector.catch_up()
        with running_server(self.services) as url, httpx.Client(base_url=url, timeout=60) as client:
            def query() -> None:
                answer = client.post("/graphql", json={"query": HANDBOOK,
                                                       "variables": {"t": str(trainee_id)}})
                assert "errors" not in answer.json(), answer.text
            query()
            ours = timings(query, self.sizes.queries)
        raw = baselines.handbook_rows_latencies(self.dsn, str(trainee_id), self.sizes.queries)
        for label, pick in (("p50", 0.5), ("p99", 0.99)):
            self.add(f"handbook query over HTTP {label} (ms)", percentile(ours, pick) * 1e3,
                     percentile(raw, pick) * 1e3, "ms", "raw SELECT of the rows")


def uncached_records(settings: Settings, **env: str) -> TraineeRecords:
    """Records that load every trainee afresh, from the store named by `env`."""
    return TraineeRecords(settings, forms={}, clock=Clock(),
                          env={"AGGREGATE_CACHE_MAXSIZE": ""} | env)


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
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def running_server(services: bootstrap.Services) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def scratch_database() -> Iterator[str]:
    server = sa.make_url(normalise_database_url(
        os.environ.get("DUALTRACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")))
    name = f"dualtrack_bench_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def print_machine(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        version = connection.execute(sa.text("SHOW server_version")).scalar()
        fsync = connection.execute(sa.text("SHOW fsync")).scalar()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {version} on loopback (fsync {fsync})")


if __name__ == "__main__":
    main()
