"""Positions in the global event log, as opaque cursors for clients.

A position is the event's notification id, written as a fixed-width decimal so that
cursors compare in log order as plain strings. Clients must treat it as opaque.
"""

from __future__ import annotations

from domain.errors import InvalidCommand

WIDTH = 16


def encode(notification_id: int) -> str:
    return f"{notification_id:0{WIDTH}d}"


def decode(cursor: str | None, field: str = "after") -> int:
    """The notification id a cursor stands for; None (no cursor) is the log's start."""
    if cursor is None or cursor == "":
        return 0
    if len(cursor) != WIDTH or not cursor.isdigit():
        raise InvalidCommand(f"{field} is not a cursor this service issued: {cursor!r}")
    return int(cursor)
