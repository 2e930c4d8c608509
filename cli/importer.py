"""`dualtrack import FILE`: loads historical records from a JSON Lines file.

The format and the guarantees are described in service.importer. Problems and rejected
trainees are printed on standard output as `FILE:LINE: ...`, then a summary; progress
goes to standard error. Exit status: 0 when every trainee loaded, 1 when any line or
trainee was rejected, 2 for usage, configuration or database errors (one line).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import psycopg2

from service import bootstrap
from service.import_workers import available_cpus
from service.importer import DEFAULT_ACTOR, DEFAULT_BATCH_EVENTS, ImportSummary, import_file
from service.settings import ConfigurationError, Settings

_BAR = 30


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "import", help="load historical records from a JSON Lines file, one command per line",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("file", help="the JSON Lines file; '-' reads standard input")
    parser.add_argument("--actor", default=DEFAULT_ACTOR,
                        help="who recorded the lines that name no actor of their own "
                        f"(default: {DEFAULT_ACTOR})")
    parser.add_argument("--dry-run", action="store_true",
                        help="read and decide every line, report, and store nothing")
    parser.add_argument("--no-project", action="store_true",
                        help="leave projecting the imported events to the worker")
    parser.add_argument("--jobs", type=_positive, default=available_cpus(),
                        help="processes deciding trainees (default: the CPUs available, "
                        "%(default)s)")
    parser.add_argument("--batch-events", type=_positive, default=DEFAULT_BATCH_EVENTS,
                        help="events per transaction (default: %(default)s)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    services = bootstrap.build(Settings.from_env())
    try:
        summary = _import(services, args)
        print(_summary_line(summary), flush=True)
        if summary.events and not args.dry_run and not args.no_project:
            _project(services)
    finally:
        services.close()
    return 0 if summary.ok else 1


def _import(services: bootstrap.Services, args: argparse.Namespace) -> ImportSummary:
    """The import, its failures told in one line (main makes them exit 2)."""
    try:
        return import_file(
            services.records, args.file, actor=args.actor, dry_run=args.dry_run,
            jobs=args.jobs, batch_events=args.batch_events, say=_say,
            progress=_import_progress,
        )
    except OSError as error:
        if error.filename != args.file:
            raise
        raise ConfigurationError(f"cannot read {args.file}: {error.strerror or error}"
                                 ) from None
    except (psycopg2.Error, sqlite3.Error) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigurationError(f"database error: {reason}") from None
    except BrokenProcessPool as error:
        raise ConfigurationError(f"a process deciding trainees stopped: {error}") from None
    finally:
        _end_progress()


def _summary_line(summary: ImportSummary) -> str:
    rate = f"{summary.events_per_second:,.0f} events/s"
    if summary.dry_run:
        return (f"checked {summary.source} (dry run, nothing stored): "
                f"{_count(summary.loaded, 'trainee')} would load, {summary.rejected:,} rejected, "
                f"{_count(summary.events, 'event')}; {summary.seconds:.1f}s")
    return (f"imported {summary.source}: {_count(summary.loaded, 'trainee')} loaded, "
            f"{summary.rejected:,} rejected, {_count(summary.events, 'event')} stored in "
            f"{summary.seconds:.1f}s ({rate})")


def _count(number: int, thing: str) -> str:
    return f"{number:,} {thing}{'' if number == 1 else 's'}"


def _project(services: bootstrap.Services) -> None:
    projector = services.projector
    start, head = projector.position(), projector.head()
    started = time.monotonic()

    def show(processed: int, reached: int) -> None:
        done = min((reached - start) / max(head - start, 1), 1.0)
        rate = processed / max(time.monotonic() - started, 1e-9)
        _progress(f"projecting [{'#' * int(done * _BAR):<{_BAR}}] {processed:,} events, "
                  f"{rate:,.0f} events/s")

    processed = projector.catch_up(progress=show)
    _end_progress()
    elapsed = max(time.monotonic() - started, 1e-9)
    print(f"projected {processed:,} events in {elapsed:.1f}s "
          f"({processed / elapsed:,.0f} events/s)", flush=True)


_shown = {"width": 0}


def _import_progress(summary: ImportSummary) -> None:
    _progress(f"{summary.lines:,} lines read, {summary.loaded:,} trainees loaded, "
              f"{summary.rejected:,} rejected, {summary.events:,} events, "
              f"{summary.events_per_second:,.0f} events/s")


def _progress(text: str) -> None:
    sys.stderr.write("\r" + text.ljust(_shown["width"]))
    sys.stderr.flush()
    _shown["width"] = len(text)


def _end_progress() -> None:
    if _shown["width"]:
        sys.stderr.write("\n")
        sys.stderr.flush()
        _shown["width"] = 0


def _say(message: str) -> None:
    # Problems go to stdout; on one terminal, the progress line is wiped first.
    if _shown["width"] and sys.stderr.isatty() and sys.stdout.isatty():
        sys.stderr.write("\r" + " " * _shown["width"] + "\r")
        sys.stderr.flush()
        _shown["width"] = 0
    print(message, flush=True)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number
