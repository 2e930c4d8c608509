"""`dualtrack deliver`: the webhook delivery worker (see README, Registries: Webhooks)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from service import bootstrap
from service.settings import Settings
from service.webhooks.delivery import DeliveryWorker


def deliver(args: argparse.Namespace) -> None:
    services = bootstrap.build(Settings.from_env())
    worker = DeliveryWorker(services, log=_say)
    try:
        if args.once:
            try:
                handled = worker.drain(deadline_seconds=args.deadline)
            except TimeoutError as error:
                _say(f"dualtrack: {error}; the rest waits for the next run")
                return
            _say(f"dualtrack: handled {handled} events for webhooks; retries not yet due wait")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        settings = services.settings
        _say(f"dualtrack: delivering webhooks from {settings.describe_database()} "
             f"(timeout {settings.webhook_timeout_seconds:g}s, retries for "
             f"{settings.webhook_retry_hours:g}h); Ctrl-C stops")
        worker.run_forever(stop)
    finally:
        worker.close()
        services.close()


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "deliver", help="run the webhook delivery worker until stopped (Ctrl-C / SIGTERM)"
    )
    parser.add_argument("--once", action="store_true",
                        help="deliver what is due now, then exit (for a scheduler)")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="with --once: give up after this many seconds (default 300)")
    parser.set_defaults(run=deliver)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
