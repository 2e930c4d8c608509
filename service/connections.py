"""How the service's PostgreSQL connections fail fast and come back by themselves.

The eventsourcing library creates the engine from the URL alone, so what the service
needs of its connections is added to that engine here, before its first connection:

- every connection opens with `statement_timeout` (Settings.statement_timeout_ms), so no
  statement, nor its wait for a lock, runs on for ever; work that is long by design (a
  rebuild, a bulk import) lifts it for its own transactions (`UNBOUNDED`);
- opening a connection is bounded (Settings.connect_timeout_seconds), and TCP keepalives
  find a connection whose server vanished mid-query dead;
- a connection is pinged when taken from the pool, and a dead one makes the pool drop
  every connection it holds, so once the database is back the next request succeeds
  rather than failing on a connection left over from before the outage.

`connect_timeout` is also put in the URL itself (service.settings), for the engines made
outside the service (migrations, the relay); a URL's own value wins everywhere.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.settings import Settings

# Lifts the statement timeout for the rest of the current transaction only.
UNBOUNDED = "SET LOCAL statement_timeout = 0"
# Idle this long, then probed this often, and given up after this many silent probes.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3}


def harden(engine: sa.Engine, settings: Settings) -> None:
    if engine.dialect.name != "postgresql":
        return
    timeout = settings.statement_timeout_ms

    @sa.event.listens_for(engine, "do_connect")
    def with_timeouts(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        for key, value in KEEPALIVES.items():
            cparams.setdefault(key, value)
        cparams.setdefault("connect_timeout", settings.connect_timeout_seconds)
        options = cparams.get("options", "")
        if timeout and "statement_timeout" not in options:
            cparams["options"] = f"{options} -c statement_timeout={timeout}".strip()

    @sa.event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.InvalidatePoolError(str(error)) from None


def unbounded(session: Session) -> None:
    """Lifts the statement timeout for the rest of this transaction (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(UNBOUNDED))
