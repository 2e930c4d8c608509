"""Verdict properties over random trainee histories (tests.properties.strategies).

1. No certificate is granted without its conditions: each grant event follows a state in
   which the rules find nothing unmet (now, and as of the grant's date); the read model
   says GRANTED only for a certificate granted (or held at enrollment) and not revoked.
2. A rebuild of the read models from the event log changes no row.
3. The verdicts computed from the read model equal those computed by replaying the
   events, and both equal what the read model holds.
4. No month of training is counted twice: the completed rotations on record never
   overlap, so the months R4, R7 and R8 count are calendar time.

Each runs on SQLite and PostgreSQL; every example enrolls a trainee of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from domain import events as e
from domain import rules
from domain.trainee import Trainee
from domain.values import CertificateKind
from projections import tables as t
from projections.summary import gather_facts
from service.bootstrap import Services
from service.settings import Settings
from tests.properties.play import play
from tests.properties.strategies import HISTORIES, Plan, Profile, complete_plan, histories
from tests.scenarios import ENROLLED_ON
from tests.store_admin import APPEND_ONLY_TABLES, bypassing_append_only

GRANT_EVENTS: dict[type, str] = {
    e.LicenceGranted: CertificateKind.LICENCE.value,
    e.ResidencyCertificateIssued: CertificateKind.RESIDENCY_CERTIFICATE.value,
    e.DiplomaIssued: CertificateKind.DIPLOMA.value,
    e.DegreeAwarded: CertificateKind.DEGREE.value,
}
KINDS = tuple(kind.value for kind in CertificateKind)
# The event store's tables (the library's, named in migrations) beside the read models.
STORE_TABLES = ("dualtrack_snapshots", "projection_tracking", *APPEND_ONLY_TABLES)
REPO = Path(__file__).resolve().parents[2]


def read_model(services: Services, trainee_id: uuid.UUID) -> tuple[Any, dict[str, Any]]:
    """The trainee's rm_trainees row and its rm_certificates rows by kind."""
    with services.engine.connect() as connection:
        row = connection.execute(
            sa.select(t.trainees).where(t.trainees.c.id == str(trainee_id))
        ).mappings().one()
        certificates = connection.execute(
            sa.select(t.certificates).where(t.certificates.c.trainee_id == str(trainee_id))
        ).mappings().all()
    return row, {certificate["kind"]: certificate for certificate in certificates}


def every_row(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    with services.engine.connect() as connection:
        return {table.name: [tuple(r) for r in connection.execute(t.all_rows_query(table))]
                for table in t.READ_MODEL_TABLES}


def empty_database(services: Services) -> None:
    """Forgets every earlier example, so that each rebuild replays one history."""
    with services.engine.begin() as connection, bypassing_append_only(connection):
        for name in (*STORE_TABLES, *(table.name for table in reversed(t.READ_MODEL_TABLES))):
            connection.execute(sa.text(f"DELETE FROM {name}"))


def replayed(services: Services, trainee_id: uuid.UUID) -> Trainee:
    """The trainee from its events alone: no cache, no snapshot."""
    trainee = None
    for event in services.records.events.get(trainee_id):
        trainee = event.mutate(trainee)
    assert isinstance(trainee, Trainee)
    return trainee


@HISTORIES
@given(plan=histories())
def test_no_certificate_is_granted_without_its_conditions(
    services: Services, plan: Plan
) -> None:
    trainee_id = play(services, plan)
    records = services.records
    granted, revoked = set(), set()
    for event in records.events.get(trainee_id):
        if isinstance(event, e.CertificateRevoked):
            revoked.add(event.kind)
        kind = GRANT_EVENTS.get(type(event))
        if kind is None:
            continue
        granted.add(kind)
        before = records.repository.get(trainee_id, version=event.originator_version - 1)
        facts, regime = before.facts(), records.regime_of(before)
        what = f"{type(event).__name__} v{event.originator_version} on {event.occurred_on}"
        assert rules.certificate_unmet(kind, facts, regime) == [], what
        assert rules.certificate_unmet(kind, facts.as_of(event.occurred_on), regime) == [], what
    held_at_enrollment = {
        CertificateKind.LICENCE.value: plan.profile.licensed,
        CertificateKind.RESIDENCY_CERTIFICATE.value: plan.profile.holds_certificate,
    }
    _, certificates = read_model(services, trainee_id)
    for kind in KINDS:
        state = certificates[kind]["state"]
        if kind in revoked:
            assert state == "REVOKED", kind
        elif kind in granted or held_at_enrollment.get(kind, False):
            assert state == "GRANTED", kind
        else:
            assert state in ("ELIGIBLE", "NOT_ELIGIBLE"), kind


@HISTORIES
@given(plan=histories(), batch_size=st.sampled_from([1, 4, 500]))
def test_a_rebuild_changes_no_read_model_row(
    services: Services, plan: Plan, batch_size: int
) -> None:
    empty_database(services)
    play(services, plan)
    incremental = every_row(services)
    usual, services.projector.batch_size = services.projector.batch_size, batch_size
    try:
        services.projector.rebuild()
    finally:
        services.projector.batch_size = usual
    assert services.projector.position() == services.projector.head()
    assert every_row(services) == incremental


def test_the_cli_rebuild_changes_no_read_model_row(
    services: Services, settings: Settings
) -> None:
    for pathway in ("INTEGRATED_MASTER", "EQUIVALENT_DEGREE"):
        play(services, complete_plan(Profile(pathway, "chongqing", "CLINICAL_MEDICINE",
                                             False, False, 0.0, ENROLLED_ON)))
    incremental = every_row(services)
    states = [state for _, _, state, *_ in incremental["rm_certificates"]]
    assert states.count("GRANTED") == 4 + 3  # an equivalent-degree resident gets no diploma
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALTRACK_")}
    env |= {"PYTHONPATH": str(REPO), "DUALTRACK_DATABASE_URL": settings.database_url,
            "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
            "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file}
    result = subprocess.run([sys.executable, "-m", "cli.main", "rebuild"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert every_row(services) == incremental


@HISTORIES
@given(plan=histories())
def test_read_model_verdicts_equal_replayed_verdicts(services: Services, plan: Plan) -> None:
    trainee_id = play(services, plan)
    records, projector = services.records, services.projector
    trainee = records.get_trainee(trainee_id)
    facts, regime = trainee.facts(), records.regime_of(trainee)
    # The application's cached copy, a snapshot-assisted load and a plain replay agree.
    assert records.repository.get(trainee_id, version=trainee.version).facts() == facts
    assert replayed(services, trainee_id).facts() == facts

    row, certificates = read_model(services, trainee_id)
    with Session(services.engine) as session:
        read_facts = gather_facts(session, row)
    read_regime = projector.regime_of(row)
    assert read_regime == regime

    for kind in KINDS:
        from_events = rules.certificate_state(kind, facts, regime)
        assert rules.certificate_state(kind, read_facts, read_regime) == from_events, kind
        stored = certificates[kind]
        assert (stored["state"], stored["unmet"]) == from_events, kind
    missing = rules.handbook_missing(facts, regime)
    assert rules.handbook_missing(read_facts, read_regime) == missing == row["handbook_missing"]
    assert row["handbook_complete"] is (not missing)
    stage = rules.training_stage(facts, regime)
    assert rules.training_stage(read_facts, read_regime) == stage == row["stage"]
    unmet = rules.completion_exam_unmet(facts, regime)
    assert rules.completion_exam_unmet(read_facts, read_regime) == unmet
    assert unmet == row["completion_exam_unmet"]
    assert (row["clinical_months"], row["resident_duty_months"], row["credited_prior_months"]) \
        == (rules.clinical_months(facts), rules.resident_duty_months(facts),
            rules.credited_prior_months(facts, regime.policy))
    # Beyond the verdicts: the read model gathers the very facts the events hold.
    assert read_facts == facts


@HISTORIES
@given(plan=histories())
def test_no_month_of_training_is_counted_twice(services: Services, plan: Plan) -> None:
    trainee_id = play(services, plan)
    completed = sorted(
        (r.start_on, r.completed_on, r.department)
        for r in services.records.get_trainee(trainee_id).facts().rotations
        if r.completed_on is not None
    )
    for (_, end, department), (start, _, next_department) in zip(
        completed, completed[1:], strict=False
    ):
        assert end <= start, (
            f"the {department} rotation, completed on {end}, overlaps the {next_department} "
            f"rotation from {start}: {completed}"
        )
