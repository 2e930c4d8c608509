"""Commands per second through group commit, beside raw single-row commits, in one run.

One writer: one thread executes entry commands on one trainee, each acknowledged after
its own commit. Eight writers: eight threads, one trainee each, in this process, so
commands that queue up while a transaction commits share the next one. Baselines: raw
psycopg2 INSERT+COMMIT of rows as wide as the stored events, from one thread and from
eight threads with a connection each (bench/baselines.py).

`python -m bench.group_commit [--quick]` runs it alone on a scratch database.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass

from bench import baselines, dataset
from service.bootstrap import Services
from service.principals import system

WRITERS = 8
ROUNDS = 3


@dataclass(frozen=True)
class GroupCommitFigures:
    one_writer: float  # commands/s
    writers: float  # commands/s with WRITERS threads
    per_batch: float  # commands per transaction with WRITERS threads
    raw_one: float  # rows/s
    raw_writers: float  # rows/s with WRITERS threads
    width: int  # bytes of state per raw row


def measure(services: Services, dsn: str, commands: int) -> GroupCommitFigures:
    records = services.records
    targets = []
    for _ in range(WRITERS):
        trainee, claim, rotation = dataset.trainee_with_entries(records, dataset.fresh_serial(), 0)
        records.save(trainee, claim)
        records.execute(dataset.entry_command(trainee.id, rotation, 0), system("bench"))
        targets.append((trainee.id, rotation))
    width = baselines.stored_event_width(dsn)
    # Ours and raw alternate, and each figure is the median of its rounds, so that a busy
    # moment of a shared machine does not fall on one side only.
    one, many, raw_one, raw_many, per_batch = [], [], [], [], []
    for _ in range(ROUNDS):
        # One writer takes the trainees in turn, as a ward's one tablet would: a single
        # trainee written thousands of times would grow past any real record.
        one.append(_run(services, [targets], commands))
        raw_one.append(baselines.single_row_commits(dsn, commands, payload_size=width))
        batches = records.committer.batches
        many.append(_run(services, [[target] for target in targets], commands))
        per_batch.append((commands // WRITERS * WRITERS)
                         / max(1, records.committer.batches - batches))
        raw_many.append(baselines.single_row_commits_threads(dsn, commands, width, WRITERS))
    median = statistics.median
    return GroupCommitFigures(
        one_writer=median(one), writers=median(many), per_batch=median(per_batch),
        raw_one=median(raw_one), raw_writers=median(raw_many), width=width,
    )


Target = tuple[uuid.UUID, uuid.UUID]


def _run(services: Services, threads_targets: list[list[Target]], commands: int) -> float:
    """Commands/s with a thread per list of targets, each thread taking its targets in
    turn, `commands` in all."""
    each = commands // len(threads_targets)
    failures: list[BaseException] = []

    def write(targets: list[Target]) -> None:
        try:
            for n in range(each):
                trainee, rotation = targets[n % len(targets)]
                services.records.execute(dataset.entry_command(trainee, rotation, n),
                                         system("bench"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(targets,)) for targets in threads_targets]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"a benchmark writer failed: {failures[0]!r}")
    return each * len(threads_targets) / elapsed


def rows(figures: GroupCommitFigures) -> list[tuple[str, float, str, float, str, str]]:
    return [
        ("commands, 1 writer", figures.one_writer, "cmd/s", figures.raw_one, "rows/s",
         "raw INSERT+COMMIT, 1 thread"),
        (f"commands, {WRITERS} writers in process", figures.writers, "cmd/s",
         figures.raw_writers, "rows/s", f"raw INSERT+COMMIT, {WRITERS} threads"),
        (f"commands, {WRITERS} writers against our 1 writer", figures.writers, "cmd/s",
         figures.one_writer, "cmd/s", "dualtrack, 1 writer"),
    ]


def notes(figures: GroupCommitFigures) -> list[str]:
    return [f"group commit: {figures.per_batch:.1f} commands per transaction with {WRITERS} "
            f"writers; raw rows carry {figures.width} bytes of state, the stored events' average"]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import secrets

    from bench.run import dsn, scratch_database
    from service import bootstrap, migrate
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m bench.group_commit", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    commands = 80 if parser.parse_args(argv).quick else 2000
    with scratch_database() as url:
        settings = Settings(database_url=url, token_secret=secrets.token_urlsafe(48))
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            figures = measure(services, dsn(url), commands)
        finally:
            services.close()
    for measure_, ours, unit, theirs, their_unit, baseline in rows(figures):
        print(f"{measure_} | {ours:,.1f} {unit} | {theirs:,.1f} {their_unit} ({baseline}) | "
              f"{ours / theirs:.2f}x")
    for note in notes(figures):
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
