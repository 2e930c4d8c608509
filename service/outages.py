"""Tells a database outage from a fault: what a client may retry shortly (UNAVAILABLE).

An outage is anything that says the database could not be reached or did not answer in
time, whichever layer raised it: the driver's (psycopg2, sqlite3), SQLAlchemy's wrapping
of it and its pool, or the eventsourcing library's wrapping of those. Timeouts the
service sets itself (lock_timeout, statement_timeout) are outages too: the database was
too busy to answer, and nothing of the failed command was written.
"""

from __future__ import annotations

import sqlite3

import psycopg2
import psycopg2.errors
import sqlalchemy as sa
from eventsourcing import persistence

UNAVAILABLE = "UNAVAILABLE"
UNREACHABLE_MESSAGE = "the database is unavailable; try again shortly"
TIMED_OUT_MESSAGE = "the database did not answer in time; try again shortly"

OUTAGES: tuple[type[BaseException], ...] = (
    psycopg2.OperationalError,  # lock and statement timeouts are among them
    psycopg2.InterfaceError,
    sqlite3.OperationalError,  # "database is locked", or the file cannot be opened
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,  # no pooled connection came free in time
    sa.exc.DisconnectionError,
    persistence.OperationalError,
    persistence.InterfaceError,
)
TIMEOUTS: tuple[type[BaseException], ...] = (
    psycopg2.errors.QueryCanceled,
    psycopg2.errors.LockNotAvailable,
    sa.exc.TimeoutError,
)
# Causes followed at most this deep (each library wraps the one below once).
DEPTH = 6


def is_outage(error: BaseException) -> bool:
    return any(isinstance(found, OUTAGES) for found in _chain(error))


def outage_message(error: BaseException) -> str:
    """What the client is told: never the driver's text (it may quote SQL or values)."""
    timed_out = any(isinstance(found, TIMEOUTS) for found in _chain(error))
    return TIMED_OUT_MESSAGE if timed_out else UNREACHABLE_MESSAGE


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(found) < DEPTH and current not in found:
        found.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return found
