"""Bulk import of a synthetic cohort, beside a raw multi-row INSERT of the same rows.

`python -m bench.importing [--quick]` runs it alone on a fresh scratch database (like
`python -m bench.run`). `measure` writes a JSON Lines file of `trainees` trainees with
`entries_each` lines each (bench.province: enrollment, tutor, rotations, handbook entries
and their signatures, assessments, ...) and imports it through the same code as
`dualtrack import` (service.importer.import_file, in process): every line parsed,
validated, decided by the domain, encoded and encrypted, and stored with whole trainees
per transaction. The time is the import's own, file open to last commit; writing the
file is not counted. Right after it, the baseline: psycopg2's execute_values inserting
the same number of rows, of the same average stored width, in transactions of the
import's size. Optionally the projection of what was imported is timed after both.
Nothing is asserted about speed. On a shared machine both figures move with the load;
`--repeat N` measures N pairs and prints each, then the median ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import baselines, province
from service import bootstrap
from service.import_workers import available_cpus
from service.importer import DEFAULT_BATCH_EVENTS, import_file
from service.settings import Settings


@dataclass(frozen=True)
class ImportFigures:
    trainees: int
    events: int
    seconds: float  # the import, file to last commit
    jobs: int
    width: int  # average bytes of an event's stored state
    raw_rows_per_second: float  # execute_values, same rows and widths, same batch size
    projected: int = 0  # events the projector caught up with afterwards (0: not measured)
    projection_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def ratio(self) -> float:
        return self.events_per_second / self.raw_rows_per_second


def measure(settings: Settings, dsn: str, trainees: int, entries_each: int, *,
            jobs: int | None = None, project: bool = False) -> ImportFigures:
    """Imports `trainees` synthetic trainees of `entries_each` events (file lines) each;
    the raw baseline runs right after the import, before any projection."""
    jobs = jobs or available_cpus()
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cohort.jsonl"
        # Keys of their own, so that several measures can share a database.
        province.write_cohort_file(path, trainees, entries_each,
                                   prefix=f"b{os.getpid()}-{time.monotonic_ns() % 10**9}-")
        services = bootstrap.build(settings)
        try:
            summary = import_file(services.records, str(path), jobs=jobs, say=problems.append)
            if problems or summary.loaded != trainees:
                raise RuntimeError(f"the synthetic cohort did not import cleanly: {problems[:3]}")
            width = summary.stored_bytes // max(summary.events, 1)
            raw = baselines.multi_row_inserts(dsn, summary.events, payload_size=width,
                                              batch=DEFAULT_BATCH_EVENTS)
            projected, projecting = 0, 0.0
            if project:
                started = time.perf_counter()
                projected = services.projector.catch_up()
                projecting = time.perf_counter() - started
        finally:
            services.close()
    return ImportFigures(trainees, summary.events, summary.seconds, jobs, width, raw,
                         projected, projecting)


def rows(figures: ImportFigures) -> list[tuple[str, float, str, float, str, str]]:
    """(measure, ours, unit, theirs, unit, baseline) rows for the benchmark's table."""
    label = (f"bulk import, {figures.trainees:,} trainees x {figures.events // figures.trainees:,}"
             " events")
    raw = "raw execute_values, same rows"
    table = [(label, figures.events_per_second, "events/s", figures.raw_rows_per_second,
              "rows/s", raw)]
    if figures.projected:
        whole = figures.events / (figures.seconds + figures.projection_seconds)
        table.append((f"{label}, then projected", whole, "events/s",
                      figures.raw_rows_per_second, "rows/s", raw))
    return table


def notes(figures: ImportFigures) -> list[str]:
    said = [
        f"bulk import: {figures.events:,} events in {figures.seconds:.1f}s, file to last commit "
        f"(parse, validate, decide, encode and encrypt, COPY), {figures.jobs} deciding "
        f"process(es); raw: execute_values of {figures.events:,} rows of {figures.width} bytes, "
        f"{DEFAULT_BATCH_EVENTS:,} per INSERT+COMMIT",
    ]
    if figures.projected:
        said.append(f"projection after the import: {figures.projected:,} events in "
                    f"{figures.projection_seconds:.1f}s "
                    f"({figures.projected / figures.projection_seconds:,.0f} events/s)")
    return said


def main(argv: list[str] | None = None) -> int:
    from bench.run import SNAPSHOT_INTERVAL, dsn, scratch_database
    from service import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.importing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--trainees", type=int, help="default: 200 (quick: 10)")
    parser.add_argument("--events-each", type=int, help="default: 1500 (quick: 100)")
    parser.add_argument("--jobs", type=int, help="deciding processes (default: the CPUs)")
    parser.add_argument("--no-project", action="store_true", help="do not time the projection")
    parser.add_argument("--repeat", type=int, default=1, help="pairs measured (default 1)")
    args = parser.parse_args(argv)
    trainees = args.trainees or (10 if args.quick else 200)
    events_each = args.events_each or (100 if args.quick else 1500)
    ratios = []
    with scratch_database() as url:
        settings = Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL)
        migrate.upgrade(settings)
        for _ in range(max(1, args.repeat)):
            figures = measure(settings, dsn(url), trainees, events_each, jobs=args.jobs,
                              project=not args.no_project)
            ratios.append(figures.ratio)
            for measure_, ours, unit, theirs, their_unit, baseline in rows(figures):
                print(f"{measure_} | {ours:,.1f} {unit} | {theirs:,.1f} {their_unit} "
                      f"({baseline}) | {ours / theirs:.2f}x", flush=True)
            for note in notes(figures):
                print(f"note: {note}", flush=True)
    if len(ratios) > 1:
        print(f"median ratio of {len(ratios)}: {statistics.median(ratios):.2f}x "
              f"(each: {', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
