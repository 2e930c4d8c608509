"""Whether the service can serve (`/ready`), and the figures sampled from the database
for `/metrics`: both read with one connection, in one go.

Ready means the database answered and is migrated at least as far as this code: a
database migrated further (by a newer release during a rolling upgrade) still serves
this one. How far the projection lags is reported, not judged: a lagging worker delays
nobody's own writes (the API projects them itself when the worker is behind).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from projections.lag import Lag, projection_lag
from service import migrate
from service.backlog import Backlog, delivery_backlog
from service.bootstrap import Services

AT_HEAD, BEHIND, AHEAD = "head", "behind", "ahead"


@dataclass(frozen=True)
class Sample:
    revision: str | None
    migrations: str  # AT_HEAD, BEHIND or AHEAD
    lag: Lag
    backlog: Backlog | None = None

    @property
    def ready(self) -> bool:
        return self.migrations != BEHIND


def sample(services: Services, backlog: bool = False) -> Sample:
    with services.engine.connect() as connection:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")
                                      ).scalar()
        lag = projection_lag(services.projector, connection, services.records.clock.now())
        found = (delivery_backlog(connection, services.records.events_table, lag.position)
                 if backlog else None)
    return Sample(revision, _migrations(revision), lag, found)


def _migrations(revision: str | None) -> str:
    head, known = migrate.revisions()
    if revision == head:
        return AT_HEAD
    return BEHIND if revision is None or revision in known else AHEAD
