"""`dualtrack relay`: publishes the projected event log to a NATS JetStream stream.

Runs until Ctrl-C / SIGTERM (it finishes the page in flight and stores its position), or
with `--until-caught-up` until every event projected so far is acknowledged, for scripts.
NATS or the database going away is retried with backoff; settings it cannot work with
(a bad URL, a stream that does not take its subjects, a stream of another log) stop it
with one line, exit 2, like every other command.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from service import positions
from service import relay as relaying
from service.settings import Settings


def relay(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = relaying.open_database(settings)
    try:
        progress = asyncio.run(_run(engine, settings, args))
    finally:
        engine.dispose()
    if args.until_caught_up:
        print(f"published {progress.published} events; the stream holds every projected "
              f"event up to position {positions.encode(progress.position)}")
    return 0


async def _run(engine: Any, settings: Settings, args: argparse.Namespace) -> relaying.Progress:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    worker = relaying.Relay(engine, settings, _say, page_size=args.page_size)
    if not args.until_caught_up:
        _say(f"dualtrack relay: relaying {settings.describe_database()} to NATS JetStream "
             f"stream {settings.nats_stream}; Ctrl-C stops")
    return await worker.run(stop, until_caught_up=args.until_caught_up)


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "relay", help="publish every projected event, in commit order, to NATS JetStream"
    )
    parser.add_argument(
        "--until-caught-up", action="store_true",
        help="exit 0 once every event projected so far is acknowledged by JetStream",
    )
    parser.add_argument(
        "--page-size", type=_page_size, default=relaying.PAGE_SIZE,
        help=f"events read and published per round trip (default {relaying.PAGE_SIZE})",
    )
    parser.set_defaults(run=relay)


def _page_size(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
