"""Events stored before a change still load: TraineeEnrolled v1 had no regime ids."""

from __future__ import annotations

import json
import uuid
from datetime import date

import sqlalchemy as sa

from domain import commands as c
from service import bootstrap
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.history import enroll
from tests.store_admin import bypassing_append_only

V2_FIELDS = ("class_version", "full_time_bachelor", "standard_id", "policy_id")


def store_as_version_one(services: bootstrap.Services) -> None:
    """Rewrites the one stored enrollment as the first version of the event wrote it."""
    events = sa.table("dualtrack_events", sa.column("id"), sa.column("topic"),
                      sa.column("state"))
    cipher = services.records.mapper.cipher
    assert cipher is not None
    with services.engine.begin() as connection, bypassing_append_only(connection):
        [(row_id, state)] = connection.execute(
            sa.select(events.c.id, events.c.state)
            .where(events.c.topic.like("%TraineeEnrolled"))).all()
        stored = json.loads(cipher.decrypt(bytes(state)))
        old = {k: v for k, v in stored.items() if k not in V2_FIELDS}
        connection.execute(events.update().where(events.c.id == row_id)
                           .values(state=cipher.encrypt(json.dumps(old).encode())))


def test_a_version_one_enrollment_loads_and_is_measured_by_its_date(
    settings: Settings, clock: FixedClock
) -> None:
    writer = bootstrap.build(settings, clock=clock)
    trainee = enroll(writer, enrolled_on=date(2024, 9, 1))
    store_as_version_one(writer)
    writer.close()

    services = bootstrap.build(settings, clock=clock)
    try:
        loaded = services.records.get_trainee(trainee)
        assert (loaded.standard_id, loaded.policy_id) == (None, None)
        regime = services.records.regime_of(loaded)
        assert (regime.standard.id, regime.policy.id) == (
            "internal medicine@2022", "chongqing@2015")
        services.records.execute(c.ScheduleRotation(
            trainee, uuid.uuid4(), "cardiology", 1, date(2024, 9, 1), date(2024, 12, 1),
            "dr-wang"), system("base"))
        services.projector.rebuild()
        with services.engine.connect() as connection:
            row = connection.execute(sa.text(
                "SELECT standard_id, handbook_missing FROM rm_trainees")).one()
        assert row[0] is None
        missing = row[1] if isinstance(row[1], list) else json.loads(row[1])
        assert "R4: 0 of 33 months of clinical training completed" in missing[0]
    finally:
        services.close()
