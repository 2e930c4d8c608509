"""A command's effect is in the read models before the command is acknowledged."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

import sqlalchemy as sa

from domain import commands as c
from projections import tables as t
from service import bootstrap
from service.clock import FixedClock
from service.settings import Settings


def test_worker_mode_projects_the_write_itself_when_no_worker_is_running(
    settings: Settings, clock: FixedClock
) -> None:
    worker_mode = dataclasses.replace(
        settings, projection_mode="worker", read_your_writes_timeout=0.2
    )
    services = bootstrap.build(worker_mode, clock=clock)
    try:
        outcome = services.records.enroll(
            c.EnrollTrainee(
                trainee_id=uuid.uuid4(), name="Han Meimei", national_id="310101199902021234",
                pathway="RESIDENT_ONLY", degree_category="CLINICAL_MEDICINE",
                bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
                holds_residency_certificate=False, licensed_at_enrollment=True,
                specialty="paediatrics", base_id="base-2", university="Fudan",
                cohort=2026, enrolled_on=date(2026, 9, 1),
            ),
            actor="registrar",
        )
        services.after_write(outcome)
        assert services.projector.position() >= outcome.notification_id
        with services.engine.connect() as connection:
            stage = connection.execute(
                sa.select(t.trainees.c.stage).where(t.trainees.c.id == str(outcome.trainee_id))
            ).scalar_one()
        assert stage == 1
    finally:
        services.close()
