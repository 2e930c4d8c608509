"""The trainee's decisions, without a database: what is refused, and what is recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from domain import commands as c
from domain.errors import Conflict, DomainError, InvalidCommand, NotFound, RulesNotMet
from domain.trainee import Trainee
from service.forms import load_forms
from service.regulations import load_regulations

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
PROV = c.Provenance(actor="registrar", recorded_at=NOW, today=date(2026, 11, 22))
FORMS = load_forms()
# Jilin's policy credits prior training at every level, which the licence test uses.
REGIME = load_regulations().at_enrollment("internal medicine", "jilin", date(2025, 9, 1))


def enrolled(**changes: object) -> Trainee:
    fields: dict[str, object] = dict(
        trainee_id=uuid.uuid4(), name="Li Lei", national_id="110101199901011234",
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
        holds_residency_certificate=False, licensed_at_enrollment=False,
        specialty="internal medicine", base_id="base-1", university="PKU", cohort=2025,
        enrolled_on=date(2025, 9, 1),
    )
    fields.update(changes)
    trainee = Trainee.enroll(c.EnrollTrainee(**fields), REGIME, PROV)  # type: ignore[arg-type]
    trainee.collect_events()
    return trainee


def with_rotation(tutor: str | None = "dr-wang") -> tuple[Trainee, uuid.UUID]:
    trainee = enrolled()
    rotation = uuid.uuid4()
    trainee.decide_schedule_rotation(c.ScheduleRotation(
        trainee.id, rotation, "cardiology", 1, date(2025, 9, 1), date(2025, 12, 1), tutor),
        REGIME, PROV)
    trainee.collect_events()
    return trainee, rotation


def refused(trainee: Trainee, kind: type[DomainError], match: str, decide: object,
            *args: object) -> None:
    version = trainee.version
    with pytest.raises(kind, match=match):
        decide(*args, PROV)  # type: ignore[operator]
    assert trainee.pending_events == [] and trainee.version == version


def entry(trainee: Trainee, rotation: uuid.UUID, on: date = date(2025, 9, 10)) -> uuid.UUID:
    entry_id = uuid.uuid4()
    trainee.decide_record_entry(
        c.RecordRotationEntry(trainee.id, entry_id, rotation, "CASE", on, "pneumonia"), PROV)
    return entry_id


def test_every_event_records_business_date_actor_and_recording_time() -> None:
    trainee, rotation = with_rotation()
    entry(trainee, rotation)
    [event] = trainee.collect_events()
    assert (event.occurred_on, event.actor, event.timestamp) == (date(2025, 9, 10),
                                                                  "registrar", NOW)


def test_dates_out_of_order_are_refused() -> None:
    trainee, rotation = with_rotation()
    refused(trainee, InvalidCommand, "must be after startOn", trainee.decide_schedule_rotation,
            c.ScheduleRotation(trainee.id, uuid.uuid4(), "intensive care", 1, date(2026, 3, 1),
                               date(2026, 1, 1)), REGIME)
    refused(trainee, InvalidCommand, "before enrollment", trainee.decide_schedule_rotation,
            c.ScheduleRotation(trainee.id, uuid.uuid4(), "intensive care", 1, date(2025, 1, 1),
                               date(2025, 3, 1)), REGIME)
    refused(trainee, InvalidCommand, "must be after the rotation's start",
            trainee.decide_complete_rotation,
            c.CompleteRotation(trainee.id, rotation, date(2025, 9, 1)))
    refused(trainee, InvalidCommand, "outside rotation", trainee.decide_record_entry,
            c.RecordRotationEntry(trainee.id, uuid.uuid4(), rotation, "CASE",
                                  date(2025, 12, 20), "late case"))
    refused(trainee, InvalidCommand, "in the future", trainee.decide_grant_licence,
            c.GrantLicence(trainee.id, "110000", date(2027, 1, 1)), REGIME)


def test_overlapping_rotations_conflict_until_one_ends_early() -> None:
    trainee, rotation = with_rotation()
    follow_on = c.ScheduleRotation(trainee.id, uuid.uuid4(), "intensive care", 1, date(2025, 11, 1),
                                   date(2026, 1, 1))
    refused(trainee, Conflict, "overlaps", trainee.decide_schedule_rotation, follow_on, REGIME)
    trainee.decide_complete_rotation(c.CompleteRotation(trainee.id, rotation, date(2025, 11, 1)),
                                     PROV)
    trainee.decide_schedule_rotation(follow_on, REGIME, PROV)
    assert len(trainee.rotations) == 2


def test_a_rotation_is_not_completed_into_the_next_one() -> None:
    trainee, rotation = with_rotation()
    trainee.decide_schedule_rotation(c.ScheduleRotation(
        trainee.id, uuid.uuid4(), "intensive care", 1, date(2025, 12, 1), date(2026, 3, 1)),
        REGIME, PROV)
    trainee.collect_events()
    refused(trainee, Conflict, "would overlap rotation .* from 2025-12-01",
            trainee.decide_complete_rotation,
            c.CompleteRotation(trainee.id, rotation, date(2025, 12, 5)))


def test_an_entry_for_a_rotation_that_does_not_exist_is_not_found() -> None:
    trainee, _ = with_rotation()
    refused(trainee, NotFound, "has no rotation", trainee.decide_record_entry,
            c.RecordRotationEntry(trainee.id, uuid.uuid4(), uuid.uuid4(), "CASE",
                                  date(2025, 9, 10), "case"))


def test_only_the_rotations_tutor_signs_and_only_once() -> None:
    trainee, rotation = with_rotation()
    entry_id = entry(trainee, rotation)
    trainee.collect_events()
    refused(trainee, InvalidCommand, "dr-li is not the tutor", trainee.decide_sign_entry,
            c.SignRotationEntry(trainee.id, entry_id, "dr-li"))
    trainee.decide_sign_entry(c.SignRotationEntry(trainee.id, entry_id, "dr-wang"), PROV)
    trainee.collect_events()
    refused(trainee, Conflict, "already signed", trainee.decide_sign_entry,
            c.SignRotationEntry(trainee.id, entry_id, "dr-wang"))


def test_without_its_own_tutor_a_rotation_is_signed_by_the_departments_rotating_tutor() -> None:
    trainee, rotation = with_rotation(tutor=None)
    entry_id = entry(trainee, rotation)
    trainee.collect_events()
    refused(trainee, InvalidCommand, "R12: rotation in cardiology has no rotating tutor",
            trainee.decide_sign_entry, c.SignRotationEntry(trainee.id, entry_id, "dr-wang"))
    trainee.decide_assign_tutor(c.AssignTutor(trainee.id, "dr-zhou", "ROTATING_TUTOR",
                                              date(2025, 9, 1), "cardiology"), REGIME, PROV)
    trainee.decide_sign_entry(c.SignRotationEntry(trainee.id, entry_id, "dr-zhou"), PROV)
    assert trainee.entries[str(entry_id)]["signed_by"] == "dr-zhou"


def test_a_retracted_entry_can_be_neither_signed_nor_retracted_again() -> None:
    trainee, rotation = with_rotation()
    entry_id = entry(trainee, rotation)
    trainee.decide_retract_entry(c.RetractRotationEntry(trainee.id, entry_id, "duplicate"), PROV)
    trainee.collect_events()
    refused(trainee, Conflict, "was retracted", trainee.decide_retract_entry,
            c.RetractRotationEntry(trainee.id, entry_id, "again"))
    refused(trainee, Conflict, "was retracted", trainee.decide_sign_entry,
            c.SignRotationEntry(trainee.id, entry_id, "dr-wang"))


@pytest.mark.parametrize(
    ("overall", "ratings", "passed", "match"),
    [
        (10, None, None, "overall score is 10, outside the form's scale 1-9"),
        (5, {"medicalInterview": 0}, None, "rating 'medicalInterview' is 0"),
        (5, {"bedsideManner": 5}, None, "unknown rated item"),
        (5, {"clinicalJudgment": 5.5}, None, "must be a whole number"),
        (None, None, None, "overall score is required"),
        (2, None, True, "contradicts overall score 2"),
    ],
)
def test_a_mini_cex_off_its_form_is_refused(
    overall: int | None, ratings: dict[str, object] | None, passed: bool | None, match: str
) -> None:
    trainee, rotation = with_rotation()
    refused(trainee, InvalidCommand, match,
            lambda cmd, prov: trainee.decide_record_assessment(
                cmd, FORMS["MINI_CEX"], REGIME, prov),
            c.RecordAssessment(trainee.id, uuid.uuid4(), "MINI_CEX", date(2025, 10, 1),
                               "dr-wang", rotation, overall, passed, ratings))


def test_a_dops_on_its_form_passes_from_the_satisfactory_band() -> None:
    trainee, rotation = with_rotation()
    trainee.decide_record_assessment(
        c.RecordAssessment(trainee.id, uuid.uuid4(), "DOPS", date(2025, 10, 1), "dr-wang",
                           rotation, 4, None, {"asepticTechnique": 8}), FORMS["DOPS"], REGIME,
        PROV)
    [event] = trainee.collect_events()
    assert event.passed is True


def test_second_certificates_conflict_and_pathways_are_respected() -> None:
    trainee = enrolled(prior_training_months=12.0)
    trainee.decide_grant_licence(c.GrantLicence(trainee.id, "110000", date(2026, 8, 1)),
                                 REGIME, PROV)
    trainee.collect_events()
    refused(trainee, Conflict, "a licence was already recorded", trainee.decide_grant_licence,
            c.GrantLicence(trainee.id, "110001", date(2026, 8, 2)), REGIME)
    refused(trainee, RulesNotMet, "R10: thesis defense not passed", trainee.decide_award_degree,
            c.AwardDegree(trainee.id, "D-1", date(2026, 9, 1)), REGIME)
    licensed = enrolled(licensed_at_enrollment=True)
    refused(licensed, Conflict, "already held a licence at enrollment",
            licensed.decide_grant_licence, c.GrantLicence(licensed.id, "1", date(2026, 8, 1)),
            REGIME)
    resident = enrolled(pathway="RESIDENT_ONLY")
    refused(resident, Conflict, "diploma is issued only to enrolled students",
            resident.decide_issue_diploma, c.IssueDiploma(resident.id, "G-1", date(2026, 7, 1)),
            REGIME)


def test_enrollment_input_is_checked() -> None:
    with pytest.raises(InvalidCommand, match="pathway must be one of"):
        enrolled(pathway="PART_TIME")
    with pytest.raises(InvalidCommand, match="name must not be empty"):
        enrolled(name="  ")
    with pytest.raises(InvalidCommand, match="priorTrainingMonths must be between 0 and 36"):
        enrolled(prior_training_months=40.0)
