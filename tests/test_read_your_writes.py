"""A command's effect is in the read models before the command is acknowledged."""

from __future__ import annotations

import dataclasses
from datetime import date

import sqlalchemy as sa

from domain import commands as c
from projections import tables as t
from service import bootstrap
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.history import enroll


def test_worker_mode_projects_the_write_itself_when_no_worker_is_running(
    settings: Settings, clock: FixedClock
) -> None:
    worker_mode = dataclasses.replace(
        settings, projection_mode="worker", read_your_writes_timeout=0.2
    )
    services = bootstrap.build(worker_mode, clock=clock)
    try:
        trainee_id = enroll(services, pathway="RESIDENT_ONLY", licensed_at_enrollment=True)
        outcome = services.records.execute(
            c.AssignTutor(trainee_id, "dr-qian", "FIRST_TUTOR", date(2024, 9, 1)),
            system("registrar"),
        )
        services.after_write(outcome)
        assert services.projector.position() >= outcome.notification_id
        with services.engine.connect() as connection:
            version = connection.execute(
                sa.select(t.trainees.c.version).where(t.trainees.c.id == str(trainee_id))
            ).scalar_one()
        assert version == 2
    finally:
        services.close()
