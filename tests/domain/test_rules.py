"""The rules in domain/rules.py, each reason led by its rule id."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import months_between
from domain.rules import TrainingFacts, certificate_state, training_stage
from service.forms import FormFileError, parse_form


def facts(**changes: object) -> TrainingFacts:
    base: dict[str, object] = dict(
        pathway="INTEGRATED_MASTER", licensed_at_enrollment=False,
        holds_residency_certificate_at_enrollment=False,
    )
    base.update(changes)
    return TrainingFacts(**base)  # type: ignore[arg-type]


def test_months_are_counted_in_calendar_months() -> None:
    assert months_between(date(2025, 3, 1), date(2025, 6, 1)) == 3.0
    # A month from the last day of January ends on the last day of February.
    assert months_between(date(2025, 1, 31), date(2025, 2, 28)) == 1.0
    assert months_between(date(2025, 3, 1), date(2025, 3, 16)) == round(15 / 31, 4)
    assert months_between(date(2025, 6, 1), date(2025, 3, 1)) == 0.0


def test_r4_stages_r5_credited_months_and_r6_certificate_holders() -> None:
    assert training_stage(facts(clinical_months=17.9)) == 1
    assert training_stage(facts(clinical_months=12, credited_prior_months=6)) == 2
    assert training_stage(facts(clinical_months=33, resident_duty_months=5)) == 2
    assert training_stage(facts(clinical_months=33, resident_duty_months=6)) == 3
    assert training_stage(facts(holds_residency_certificate_at_enrollment=True)) == 2


def test_certificate_states_explain_themselves_by_rule_id() -> None:
    assert certificate_state("LICENCE", facts(clinical_months=6))[1][0].startswith("R7:")
    assert certificate_state("LICENCE", facts(clinical_months=12)) == ("ELIGIBLE", [])
    assert certificate_state("LICENCE", facts(licensed_at_enrollment=True)) == ("GRANTED", [])
    state, unmet = certificate_state("RESIDENCY_CERTIFICATE", facts(clinical_months=33))
    assert state == "NOT_ELIGIBLE" and "R9: no licence held" in unmet
    state, unmet = certificate_state("DEGREE", facts(confirmed_ethics_violations=1))
    assert unmet[0].startswith("R13:")
    equivalent = certificate_state("DEGREE", facts(pathway="EQUIVALENT_DEGREE"))[1]
    assert {reason.split(":")[0] for reason in equivalent} == {"R11"}
    complete = facts(thesis_defense_passed=True, passed_assessment_kinds={"CLINICAL_COMPETENCE"},
                     publication_kinds={"REVIEW"})
    assert certificate_state("DEGREE", complete) == ("ELIGIBLE", [])
    assert all(r.startswith("R10:") for r in certificate_state("DEGREE", facts())[1])


def test_a_malformed_form_file_is_named_with_its_field() -> None:
    with pytest.raises(FormFileError, match="bad.yaml: the form is missing field 'scale'"):
        parse_form("bad.yaml", {"form_id": "X", "name": "X", "rated_items": ["a"]})
