"""/metrics: Prometheus' text format, with figures that move as the service works."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from service.bootstrap import Services
from service.clock import FixedClock
from service.webhooks import tables as w
from tests.api.conftest import ENROLL, GraphQL, enrollment
from tests.api.test_health import get
from tests.callers import registry
from tests.history import enroll

NAMES = ("dualtrack_commands_total", "dualtrack_errors_total", "dualtrack_database_up",
         "dualtrack_projection_lag_events", "dualtrack_projection_lag_seconds",
         "dualtrack_delivery_backlog_events", "dualtrack_webhook_deliveries_pending")
REGISTER = """mutation($url: String!) { registerWebhook(url: $url) { endpoint { id } } }"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services)


def scrape(app: Any) -> Samples:
    answer = get(app, "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_every_metric_is_exposed(app: Any, gql: GraphQL) -> None:
    gql.enroll()
    gql.ok(REGISTER, as_=registry(), url="http://127.0.0.1:9/hook")
    gql("{ nothing }")  # an error: its counter shows once it has one
    exposed = {name for name, _ in scrape(app)}
    assert set(NAMES) <= exposed, exposed
    assert value(scrape(app), "dualtrack_database_up") == 1


def test_commands_and_errors_are_counted_by_name_outcome_and_code(
    app: Any, gql: GraphQL
) -> None:
    before = scrape(app)
    gql.enroll()
    refused = gql(ENROLL, input=enrollment())  # the same national ID again
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
    gql("{ trainee(id: \"not-an-id\") { id } }")
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("dualtrack_commands_total", command="enrollTrainee", outcome="ok") == 1
    assert moved("dualtrack_commands_total", command="enrollTrainee", outcome="CONFLICT") == 1
    assert moved("dualtrack_errors_total", code="CONFLICT") == 1
    assert moved("dualtrack_errors_total", code="BAD_USER_INPUT") == 1


def test_projection_lag_counts_the_unprojected_events_and_the_oldest_ones_age(
    app: Any, services: Services, clock: FixedClock,
) -> None:
    assert value(scrape(app), "dualtrack_projection_lag_events") == 0
    # Written and not projected, as while the worker (projection_mode=worker) is behind.
    enroll(services)
    clock.advance(seconds=42)
    enroll(services, national_id="110101199901015678")
    lagging = scrape(app)
    assert value(lagging, "dualtrack_projection_lag_events") == 4
    assert value(lagging, "dualtrack_projection_lag_seconds") == 42
    services.projector.catch_up()
    caught_up = scrape(app)
    assert value(caught_up, "dualtrack_projection_lag_events") == 0
    assert value(caught_up, "dualtrack_projection_lag_seconds") == 0


def test_the_delivery_backlog_is_told_per_consumer(
    app: Any, gql: GraphQL, services: Services,
) -> None:
    endpoint = gql.ok(REGISTER, as_=registry(), url="http://127.0.0.1:9/hook")[
        "registerWebhook"]["endpoint"]["id"]
    consumer = f"webhook:{endpoint}"
    assert value(scrape(app), "dualtrack_delivery_backlog_events", consumer=consumer) == 0
    gql.enroll()  # two events: the enrollment and its national-ID claim
    now = datetime.now(UTC)
    with services.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO consumer_positions (consumer, position, updated_at) "
            "VALUES ('nats-relay:TEST', 0, :now)"), {"now": now})
        connection.execute(w.deliveries.insert().values(
            endpoint_id=endpoint, position=1, event_id="e-1", event_type="TraineeEnrolled",
            state=w.PENDING, attempts=1, enqueued_at=now))
    samples = scrape(app)
    assert value(samples, "dualtrack_delivery_backlog_events", consumer=consumer) == 2
    assert value(samples, "dualtrack_delivery_backlog_events", consumer="nats-relay:TEST") == 2
    assert value(samples, "dualtrack_webhook_deliveries_pending", endpoint=endpoint) == 1
