"""Webhook tests: short timeouts and backoff, and no endpoints left from another test.

The PostgreSQL database is shared by the whole run; the store and read models are emptied
before each test (tests/conftest.py), the webhook tables here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from service.settings import Settings
from service.webhooks import tables as w
from service.webhooks.delivery import DeliveryWorker
from tests.api.conftest import GraphQL


@pytest.fixture
def settings(settings: Settings) -> Settings:
    engine = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for table in (w.deliveries, w.changes, w.endpoints):
            connection.execute(table.delete())
    engine.dispose()
    return dataclasses.replace(
        settings,
        webhook_timeout_seconds=0.5,
        webhook_retry_hours=0.01,  # 36 seconds (of the test's clock)
        webhook_backoff_base_seconds=1.0,
        webhook_backoff_cap_seconds=8.0,
        webhook_poll_seconds=0.05,
        webhook_concurrency=4,
    )


def endpoint_rows(services: Services) -> list[dict[str, Any]]:
    with services.engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(w.endpoints)).mappings()]


def delivery_rows(services: Services, endpoint_id: str | None = None) -> list[dict[str, Any]]:
    statement = sa.select(w.deliveries).order_by(w.deliveries.c.position)
    if endpoint_id is not None:
        statement = statement.where(w.deliveries.c.endpoint_id == endpoint_id)
    with services.engine.connect() as connection:
        return [dict(r) for r in connection.execute(statement).mappings()]


class Writer:
    """Writes a trainee's events through the application and projects them (inline)."""

    def __init__(self, services: Services, actor: str = "registrar"):
        self.services = services
        self.actor = actor

    def run(self, command: Any) -> int:
        records = self.services.records
        if isinstance(command, c.EnrollTrainee):
            outcome = records.enroll(command, system(self.actor))
        else:
            outcome = records.execute(command, system(self.actor))
        self.services.after_write(outcome)
        return outcome.notification_id

    def enroll(self, number: int, base_id: str = "base-1") -> UUID:
        trainee = uuid4()
        self.run(c.EnrollTrainee(
            trainee_id=trainee, name=f"Trainee {number}", national_id=f"1101011999{number:08d}",
            pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
            bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
            holds_residency_certificate=False, licensed_at_enrollment=False,
            specialty="internal medicine", base_id=base_id, university="PKU", cohort=2024,
            enrolled_on=date(2024, 9, 1),
        ))
        return trainee

    def training(self, trainee: UUID, entries: int = 2) -> None:
        """A first tutor, a rotation, and its signed entries."""
        self.run(c.AssignTutor(trainee, "dr-zhao", "FIRST_TUTOR", date(2024, 9, 1)))
        rotation = uuid4()
        self.run(c.ScheduleRotation(trainee, rotation, "cardiology", 1, date(2024, 9, 1),
                                    date(2025, 3, 1), tutor_id="dr-1", resident_duty=False))
        for day in range(entries):
            entry = uuid4()
            self.run(c.RecordRotationEntry(trainee, entry, rotation, "CASE",
                                           date(2024, 10, 1 + day), "a case"))
            self.run(c.SignRotationEntry(trainee, entry, "dr-1"))

    def trainee(self, number: int, base_id: str = "base-1", entries: int = 2) -> UUID:
        trainee = self.enroll(number, base_id)
        self.training(trainee, entries)
        return trainee


@pytest.fixture
def gql(services: Services) -> GraphQL:
    return GraphQL(httpx.ASGITransport(app=create_app(services)), services.settings)


@pytest.fixture
def worker(services: Services) -> Iterator[DeliveryWorker]:
    """The delivery worker, run tick by tick by the test."""
    built = DeliveryWorker(services)
    yield built
    built.close()


@pytest.fixture
def writer(services: Services) -> Iterator[Writer]:
    yield Writer(services)


def projected_events(services: Services) -> list[dict[str, Any]]:
    from projections import queries

    return queries.events_page(services.engine, after_position=0, limit=100_000)
