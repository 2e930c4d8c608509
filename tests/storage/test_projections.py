"""Read models: what they hold, exactly once, and identical after a rebuild."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from domain import commands as c
from projections import tables as t
from service import bootstrap, migrate
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.history import enroll, realistic


def snapshot(services: bootstrap.Services) -> dict[str, list[Any]]:
    with services.engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(t.all_rows_query(table))]
                for table in t.READ_MODEL_TABLES}


def test_the_read_models_hold_the_record(services: bootstrap.Services) -> None:
    history = realistic(services)
    services.projector.catch_up()
    with services.engine.connect() as connection:
        trainee = connection.execute(sa.select(t.trainees)).mappings().one()
        certificates = {row["kind"]: row for row in connection.execute(
            sa.select(t.certificates)).mappings()}
        entries = connection.execute(sa.select(t.rotation_entries)).mappings().all()
    assert trainee["clinical_months"] == 18.0 and trainee["resident_duty_months"] == 6.0
    assert trainee["stage"] == 2
    assert trainee["version"] == 28
    assert any(reason.startswith("R4: 18 of 33 months") for reason in trainee["handbook_missing"])
    assert certificates["LICENCE"]["state"] == "GRANTED"
    assert certificates["LICENCE"]["number"] == "110000"
    assert certificates["DEGREE"]["state"] == "NOT_ELIGIBLE"
    assert any(reason.startswith("R13:") for reason in certificates["DEGREE"]["unmet"])
    retracted = [e for e in entries if e["retracted"]]
    assert [e["id"] for e in retracted] == [str(history.entries[0])]
    assert all(e["signed_by"] for e in entries)


def test_an_entry_recorded_after_the_timely_limit_is_flagged_late(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee = enroll(services, enrolled_on=date(2026, 9, 1))
    rotation = uuid.uuid4()
    services.records.execute(c.ScheduleRotation(trainee, rotation, "cardiology", 1,
                                                date(2026, 10, 1), date(2026, 12, 1),
                                                tutor_id="dr"), system("base"))
    for occurred_on in (date(2026, 11, 20), date(2026, 11, 1)):  # 2 and 21 days before today
        services.records.execute(c.RecordRotationEntry(trainee, uuid.uuid4(), rotation, "CASE",
                                                       occurred_on, "case"), system("li"))
    services.projector.catch_up()
    with services.engine.connect() as connection:
        late = dict(connection.execute(sa.select(t.rotation_entries.c.occurred_on,
                                                 t.rotation_entries.c.late)).all())
    assert late == {date(2026, 11, 20): False, date(2026, 11, 1): True}


def test_projection_is_exactly_once_and_a_rebuild_is_identical(
    services: bootstrap.Services,
) -> None:
    realistic(services)
    enroll(services, national_id="320101199901011234")
    services.projector.catch_up()
    incremental = snapshot(services)
    assert services.projector.catch_up() == 0
    assert services.projector.position() == services.projector.head()
    assert services.projector.rebuild() == services.projector.head()
    assert snapshot(services) == incremental
    claims = 2  # one national-ID claim per enrollment, kept out of the audit trail
    assert len(incremental["rm_audit_events"]) == services.projector.head() - claims


def test_two_processes_projecting_at_once_write_each_event_once(
    services: bootstrap.Services, settings: Settings, clock: FixedClock
) -> None:
    other = bootstrap.build(settings, clock=clock)
    try:
        realistic(services)
        other.projector.catch_up(until=5)
        services.projector.catch_up()
        other.projector.catch_up()
        assert snapshot(other) == snapshot(services)
        with services.engine.connect() as connection:
            audited = connection.execute(sa.select(sa.func.count()).select_from(
                t.audit_events)).scalar()
        assert audited == services.projector.head() - 1  # less the national-ID claim
    finally:
        other.close()


def test_migrations_go_down_and_up_and_match_the_tables(settings: Settings) -> None:
    config = migrate.alembic_config(settings)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    engine = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), t.metadata)
    engine.dispose()
    assert [d for d in differences if "rm_" in str(d)] == []
