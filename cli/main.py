"""`dualtrack serve | schema | migrate | project | relay | rebuild | regulations | verify | ...`.

Every command reads its settings from the environment (DUALTRACK_DATABASE_URL, ...).
Configuration and connection problems are reported in one line, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from cli import audit, digest, importer, relay, tokens
from cli import webhooks as webhook_commands
from domain.errors import DomainError
from service import bootstrap, logs, migrate, outages
from service.regulations import load_regulations
from service.settings import ConfigurationError, Settings

# The projection worker's first wait after losing the database, and its longest.
WORKER_RETRY_SECONDS = 0.5
WORKER_RETRY_CAP_SECONDS = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ConfigurationError, DomainError) as error:
        return _fail(str(error))
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return _fail(f"database error: {reason}")
    except KeyboardInterrupt:
        return 130


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app

    settings = Settings.from_env()
    # Before anything is migrated or bound: serving without a key must stop at once.
    verifier = tokens.serving_verifier(settings)
    if not args.no_migrate:
        migrate.upgrade(settings)
    services = bootstrap.build(settings)
    if settings.projection_mode == "inline":
        services.projector.catch_up()
    # From here on every line is a JSON log line (service.logs); what went before is the
    # one-line refusal of a bad configuration.
    logs.configure(settings.log_level)
    logging.getLogger("dualtrack.serve").info("serving", extra={
        "database": settings.describe_database(),
        "address": f"http://{args.host}:{args.port}/graphql"})
    try:
        uvicorn.run(
            create_app(services, verifier), host=args.host, port=args.port,
            log_level=settings.log_level.lower(), log_config=None, access_log=False,
        )
    finally:
        services.close()


def schema(args: argparse.Namespace) -> None:
    from api.schema import schema as served

    print(served.as_str())


def run_migrations(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    migrate.upgrade(settings)
    _say(f"dualtrack: {settings.describe_database()} is migrated to the latest schema")


def project(args: argparse.Namespace) -> None:
    """The worker rides out a database outage: it says so, waits (longer each time, up to
    WORKER_RETRY_CAP_SECONDS) and goes on from its tracked position; nothing is lost,
    since each batch commits with its tracking record."""
    services = bootstrap.build(Settings.from_env())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    _say(f"dualtrack: projecting from position {services.projector.position()}; Ctrl-C stops")
    wait = WORKER_RETRY_SECONDS
    try:
        while not stop.is_set():
            try:
                services.projector.run_forever(stop, on_batch=lambda count, reached: _say(
                    f"projected up to position {reached}"))
            except Exception as error:
                if not outages.is_outage(error):
                    raise
                _say(f"dualtrack: {outages.outage_message(error)} ({type(error).__name__}); "
                     f"projecting again in {wait:g} s")
                stop.wait(wait)
                wait = min(wait * 2, WORKER_RETRY_CAP_SECONDS)
            else:
                wait = WORKER_RETRY_SECONDS
    finally:
        services.close()


def rebuild(args: argparse.Namespace) -> None:
    services = bootstrap.build(Settings.from_env())
    try:
        total = services.projector.head()
        started = time.monotonic()
        processed = services.projector.rebuild(progress=_progress_bar(total, started))
        elapsed = max(time.monotonic() - started, 1e-9)
        _say(f"\nrebuilt read models from {processed} events in {elapsed:.1f}s "
             f"({processed / elapsed:,.0f} events/s)")
    finally:
        services.close()


def regulations(args: argparse.Namespace) -> None:
    """Lists what a trainee can be enrolled under; a bad file fails like bad settings."""
    directory = args.dir if args.dir is not None else Settings.from_env().regulations_dir
    catalogue = load_regulations(directory)
    for s in sorted(catalogue.standards.values(), key=lambda s: (s.specialty, s.effective_from)):
        note = "  illustrative" if s.illustrative else ""
        print(f"standard  {s.id:<26} effective {s.effective_from}{note}")
    for p in sorted(catalogue.policies.values(), key=lambda p: (p.jurisdiction, p.effective_from)):
        print(f"policy    {p.id:<26} effective {p.effective_from}")


def _progress_bar(total: int, started: float) -> Callable[[int, int], None]:
    def show(processed: int, reached: int) -> None:
        done = min(reached / total, 1.0) if total else 1.0
        rate = processed / max(time.monotonic() - started, 1e-9)
        bar = "#" * int(done * 30)
        sys.stderr.write(f"\r[{bar:<30}] {processed:,} events, {rate:,.0f} events/s")
        sys.stderr.flush()

    return show


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dualtrack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve GraphQL (and GraphiQL) over HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument(
        "--no-migrate", action="store_true", help="do not migrate the database first"
    )
    serve_parser.set_defaults(run=serve)
    commands.add_parser("schema", help="print the served GraphQL SDL").set_defaults(run=schema)
    commands.add_parser("migrate", help="migrate the database to the latest schema").set_defaults(
        run=run_migrations
    )
    commands.add_parser("project", help="run the projection worker until stopped").set_defaults(
        run=project
    )
    commands.add_parser("rebuild", help="rebuild every read model from the event log").set_defaults(
        run=rebuild
    )
    regulations_parser = commands.add_parser(
        "regulations", help="check and list the training standards and jurisdiction policies"
    )
    regulations_parser.add_argument(
        "--dir",
        help="the programme's own directory of standards/ and policies/, beside the shipped "
        "ones (default: DUALTRACK_REGULATIONS_DIR)",
    )
    regulations_parser.set_defaults(run=regulations)
    audit.add_commands(commands)
    tokens.add_commands(commands)
    relay.add_commands(commands)
    webhook_commands.add_commands(commands)
    importer.add_commands(commands)
    digest.add_commands(commands)
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fail(message: str) -> int:
    _say(f"dualtrack: error: {message}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
