"""Degraded, not hung: with its database gone, the service answers UNAVAILABLE in bounded
time and says so at /ready; once the database is back it serves again by itself.

The database is taken away by a TCP proxy in between (tests.faults), never by stopping
the PostgreSQL server, so these run on PostgreSQL only. The bounds asserted are the
configured timeouts plus a margin: correctness bounds, not benchmarks.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from service import bootstrap
from service.clock import FixedClock
from service.outages import TIMED_OUT_MESSAGE, UNAVAILABLE, is_outage, outage_message
from service.settings import Settings
from tests.api.conftest import ENROLL, enrollment
from tests.callers import STAFF
from tests.conftest import PROGRAMME_REGULATIONS, TEST_NOW, empty_postgres
from tests.faults import Proxy, proxy_to
from tests.servers import serving

CONNECT_TIMEOUT = 2  # libpq's least
READY_TIMEOUT = 1.0
MARGIN = 3.0  # for a busy two-core machine
READ = "query($t: ID!) { trainee(id: $t) { id stage } }"


@pytest.fixture
def postgres(postgres_database_url: str, signing_key_file: str, cipher_key_file: str
             ) -> Settings:
    empty_postgres(postgres_database_url)
    return Settings(
        database_url=postgres_database_url, regulations_dir=str(PROGRAMME_REGULATIONS),
        signing_key_file=signing_key_file, cipher_key_file=cipher_key_file,
        token_secret="test-token-secret-" + "0123456789abcdef" * 2,
        ready_timeout_seconds=READY_TIMEOUT,
    )


@pytest.fixture
def proxy(postgres: Settings) -> Iterator[Proxy]:
    url = postgres.url
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


class Client:
    """The API over HTTP as the staff caller; each call returns what it took, too."""

    def __init__(self, base_url: str, settings: Settings):
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.headers = STAFF.authorization(settings)

    def graphql(self, query: str, **variables: Any) -> tuple[dict[str, Any], float]:
        started = time.monotonic()
        response = self.http.post("/graphql", json={"query": query, "variables": variables},
                                  headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json(), time.monotonic() - started

    def enroll(self) -> tuple[dict[str, Any], float]:
        national_id = f"1101011999{uuid.uuid4().int % 10**8:08d}"
        return self.graphql(ENROLL, input=enrollment(nationalId=national_id))

    def probe(self, path: str, **options: Any) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = self.http.get(path, **options)
        return response, time.monotonic() - started


@pytest.fixture
def served(postgres: Settings, proxy: Proxy) -> Iterator[Client]:
    """The service on a real server, its database behind the proxy."""
    through_proxy = postgres.url.set(port=proxy.port).update_query_dict(
        {"connect_timeout": str(CONNECT_TIMEOUT)})
    settings = dataclasses.replace(
        postgres, database_url=through_proxy.render_as_string(hide_password=False))
    services = bootstrap.build(settings, clock=FixedClock(TEST_NOW))
    try:
        with serving(create_app(services)) as base_url:
            client = Client(base_url, settings)
            yield client
            client.http.close()
    finally:
        services.close()


def unavailable(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return bool(errors) and errors[0]["extensions"]["code"] == UNAVAILABLE


@pytest.mark.parametrize("blackhole", [False, True], ids=["refused", "blackhole"])
def test_without_its_database_the_service_answers_unavailable_then_recovers_by_itself(
    served: Client, proxy: Proxy, blackhole: bool,
) -> None:
    enrolled, _ = served.enroll()
    trainee_id = enrolled["data"]["enrollTrainee"]["traineeId"]

    proxy.cut(blackhole=blackhole)
    bound = CONNECT_TIMEOUT + MARGIN
    written, took = served.enroll()
    assert unavailable(written), written
    assert took < bound, f"a mutation took {took:.1f}s"
    message = written["errors"][0]["message"]
    assert "SELECT" not in message and "INSERT" not in message and "psycopg" not in message
    read, took = served.graphql(READ, t=trainee_id)
    assert unavailable(read), read
    assert took < bound, f"a query took {took:.1f}s"
    feed, took = served.probe("/feed/events", headers=served.headers)
    assert feed.status_code == 503 and feed.json()["error"]["code"] == UNAVAILABLE, feed.text
    assert took < bound, f"the feed took {took:.1f}s"
    ready, took = served.probe("/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable", ready.text
    assert took < READY_TIMEOUT + MARGIN, f"/ready took {took:.1f}s"
    alive, _ = served.probe("/health")
    assert alive.status_code == 200  # liveness: the process itself is fine
    scraped, took = served.probe("/metrics")
    assert scraped.status_code == 200 and took < READY_TIMEOUT + MARGIN
    assert "dualtrack_database_up 0.0" in scraped.text
    assert 'dualtrack_errors_total{code="UNAVAILABLE"} 2.0' in scraped.text
    assert 'dualtrack_commands_total{command="enrollTrainee",outcome="UNAVAILABLE"} 1.0' in (
        scraped.text)

    proxy.restore()
    deadline = time.monotonic() + 20
    while served.probe("/ready")[0].status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.1)
    # The first mutation after the outage succeeds: no connection left from before it.
    written, _ = served.enroll()
    assert "errors" not in written, written
    again = written["data"]["enrollTrainee"]["traineeId"]
    read, _ = served.graphql(READ, t=again)
    assert read == {"data": {"trainee": {"id": again, "stage": 1}}}, read


def test_a_database_restart_between_requests_goes_unnoticed(
    served: Client, proxy: Proxy,
) -> None:
    """Every connection the service held is dropped while it is idle: the next mutation
    and query find theirs dead before using it, and take new ones."""
    enrolled, _ = served.enroll()
    assert "errors" not in enrolled, enrolled
    proxy.cut()
    proxy.restore()
    written, _ = served.enroll()
    assert "errors" not in written, written
    trainee_id = written["data"]["enrollTrainee"]["traineeId"]
    read, _ = served.graphql(READ, t=trainee_id)
    assert "errors" not in read, read


def test_a_write_waits_for_the_event_tables_lock_no_longer_than_the_lock_timeout(
    postgres: Settings,
) -> None:
    settings = dataclasses.replace(postgres, lock_timeout_ms=300)
    services = bootstrap.build(settings, clock=FixedClock(TEST_NOW))
    holder = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    try:
        with serving(create_app(services)) as base_url:
            client = Client(base_url, settings)
            with holder.begin() as connection:
                connection.execute(sa.text("LOCK TABLE dualtrack_events IN EXCLUSIVE MODE"))
                written, took = client.enroll()
            assert unavailable(written), written
            assert written["errors"][0]["message"] == TIMED_OUT_MESSAGE
            assert took < 0.3 + MARGIN
            written, _ = client.enroll()  # the lock is free again
            assert "errors" not in written, written
            client.http.close()
    finally:
        services.close()
        holder.dispose()


def test_the_statement_timeout_ends_a_slow_statement_but_not_a_rebuild(
    postgres: Settings,
) -> None:
    settings = dataclasses.replace(postgres, statement_timeout_ms=200)
    services = bootstrap.build(settings, clock=FixedClock(TEST_NOW))
    admin = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    try:
        with serving(create_app(services)) as base_url:
            client = Client(base_url, settings)
            written, _ = client.enroll()
            assert "errors" not in written, written
            client.http.close()
        with services.engine.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "200ms"
            with pytest.raises(sa.exc.OperationalError) as raised:
                connection.execute(sa.text("SELECT pg_sleep(1)"))
        assert is_outage(raised.value) and outage_message(raised.value) == TIMED_OUT_MESSAGE
        # Rebuilding writes each batch's trainees with one statement, slowed down here
        # past the timeout: the rebuild lifts it for its own transactions.
        with admin.begin() as connection:
            connection.execute(sa.text(
                "CREATE FUNCTION test_slowly() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$"))
            connection.execute(sa.text(
                "CREATE TRIGGER test_slowly AFTER INSERT ON rm_trainees "
                "FOR EACH STATEMENT EXECUTE FUNCTION test_slowly()"))
        try:
            assert services.projector.rebuild() == 2
        finally:
            with admin.begin() as connection:
                connection.execute(sa.text("DROP TRIGGER test_slowly ON rm_trainees"))
                connection.execute(sa.text("DROP FUNCTION test_slowly()"))
    finally:
        services.close()
        admin.dispose()
