"""What only a database administrator can do: edit the append-only tables.

The event store and the integrity ledger refuse UPDATE, DELETE and TRUNCATE by trigger.
Tests that start from an empty store, simulate old data, or play an attacker must step
around those triggers the way a privileged insider would, and this is the one place that
knows how.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

APPEND_ONLY_TABLES = (
    "dualtrack_events",
    "integrity_leaves",
    "integrity_nodes",
    "integrity_checkpoints",
)


@contextmanager
def bypassing_append_only(connection: sa.Connection) -> Iterator[sa.Connection]:
    """Runs statements with the append-only triggers out of the way, within the caller's
    transaction: replica mode on PostgreSQL (a superuser's switch), dropped and re-created
    triggers on SQLite."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield connection
        connection.execute(sa.text("SET LOCAL session_replication_role = origin"))
        return
    triggers = connection.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _ in triggers:
        connection.execute(sa.text(f'DROP TRIGGER "{name}"'))
    yield connection
    for _, sql in triggers:
        connection.execute(sa.text(sql))
