"""/health (liveness) and /ready (readiness, with the projection lag), on each backend.

The database being unreachable (503 within the ready timeout) is in tests/test_degraded.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from service import migrate
from service.bootstrap import Services
from service.clock import FixedClock
from tests.api.conftest import GraphQL
from tests.history import enroll


def get(app: Any, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dualtrack") as client:
            return await client.get(path)

    return asyncio.run(call())


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services)


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(services.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(services.engine, "before_cursor_execute", count)


def test_health_answers_without_asking_the_database(app: Any, statements: list[str]) -> None:
    answer = get(app, "/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert statements == []
    assert answer.headers["x-request-id"]


def test_ready_reports_the_migrations_and_the_projection_lag(
    app: Any, gql: GraphQL, services: Services, clock: FixedClock,
) -> None:
    gql.enroll()
    head, _ = migrate.revisions()
    answer = get(app, "/ready")
    assert answer.status_code == 200, answer.text
    position = services.projector.position()
    assert answer.json() == {
        "status": "ready", "database": "up",
        "migrations": {"state": "head", "revision": head},
        "projection": {"position": position, "lag_events": 0, "lag_seconds": 0.0},
    }
    # Written without being projected, as while a projection worker is behind.
    enroll(services, national_id="110101199901015678")
    clock.advance(seconds=90)
    lagging = get(app, "/ready")
    assert lagging.status_code == 200  # a lag is reported, not judged
    assert lagging.json()["projection"] == {
        "position": position, "lag_events": 2, "lag_seconds": 90.0}


@pytest.mark.parametrize(("revision", "state", "status"), [
    ("0006", "behind", 503),  # this code needs a migration the database lacks
    ("9999_newer", "ahead", 200),  # a newer release migrated it: this one still serves
])
def test_ready_needs_the_database_migrated_at_least_as_far_as_the_code(
    app: Any, services: Services, revision: str, state: str, status: int,
) -> None:
    head, _ = migrate.revisions()
    with services.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"),
                           {"r": revision})
    try:
        answer = get(app, "/ready")
    finally:
        with services.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"),
                               {"r": head})
    assert answer.status_code == status, answer.text
    assert answer.json()["migrations"] == {"state": state, "revision": revision}
