"""The regulations, R1-R14 of DOMAIN.md, in one place.

Every reason a rule gives starts with its rule id, so that a certificate's status
explains itself in the regulations' own terms. Rules read plain facts (domain.facts)
and the trainee's regime: the training standard and the jurisdiction's policy in force
at enrollment. Where provinces differ, the rule reads a policy field, never a name.
R14 (quality figures across trainees) lives in domain.quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.calendar import months_between
from domain.facts import RotationFacts, TrainingFacts
from domain.policies import ANY_LEVEL, DEPARTMENT_AVERAGE, Policy
from domain.regulations import Regime
from domain.standards import DepartmentRequirement, TrainingStandard, normalise_name
from domain.values import AssessmentKind, CertificateKind, CertificateState, NationalExam, Pathway

NATIONAL_EXAMS = tuple(exam.value for exam in NationalExam)  # R11, seed 004 art. 17.2


@dataclass(frozen=True)
class Applicant:
    """What enrollment knows about a person, for R1 and R2."""

    pathway: str
    degree_category: str
    bachelor_major: str
    has_bachelor_of_medicine: bool
    full_time_bachelor: bool
    holds_residency_certificate: bool


# R1, R2: enrollment.


def enrollment_unmet(applicant: Applicant, policy: Policy) -> list[str]:
    unmet: list[str] = []
    if applicant.pathway == Pathway.INTEGRATED_MASTER:
        majors = policy.bachelor_majors.get(applicant.degree_category)
        if majors is None:
            unmet.append(
                f"R1: {policy.jurisdiction} admits professional master's students in "
                f"{', '.join(policy.bachelor_majors)} only, not {applicant.degree_category}"
            )
        elif normalise_name(applicant.bachelor_major) not in {normalise_name(m) for m in majors}:
            unmet.append(
                f"R1: a {applicant.degree_category} master's needs a bachelor's in "
                f"{' / '.join(majors)}; got {applicant.bachelor_major!r}"
            )
        if policy.requires_full_time_bachelor and not applicant.full_time_bachelor:
            unmet.append("R1: the bachelor's degree must come from full-time study")
        if applicant.holds_residency_certificate and not policy.certificate_holders_may_enroll:
            unmet.append(
                "R2: a holder of a residency certificate may not enroll as a professional "
                f"master's student ({policy.jurisdiction} policy)"
            )
    if (
        applicant.pathway in (Pathway.INTEGRATED_MASTER, Pathway.EQUIVALENT_DEGREE)
        and policy.requires_bachelor_of_medicine
        and not applicant.has_bachelor_of_medicine
    ):
        unmet.append("R1: a bachelor of medicine degree is required")
    return unmet


# R3, R4, R5, R6: levels, stages and training time.


def level(licensed_at_enrollment: bool) -> int:
    """R3: level 2 holds a licence at enrollment, level 1 does not."""
    return 2 if licensed_at_enrollment else 1


def credited_prior_months(facts: TrainingFacts, policy: Policy) -> float:
    """R5 "fill-in": accurately recorded prior training counts, for the levels (R3) the
    policy credits it to."""
    if policy.prior_training_credit == ANY_LEVEL or facts.licensed_at_enrollment:
        return facts.prior_training_months
    return 0.0


def rotation_months(rotation: RotationFacts) -> float:
    if rotation.completed_on is None:
        return 0.0
    return months_between(rotation.start_on, rotation.completed_on)


def clinical_months(facts: TrainingFacts) -> float:
    return round(sum(rotation_months(r) for r in facts.rotations), 4)


def resident_duty_months(facts: TrainingFacts) -> float:
    return round(sum(rotation_months(r) for r in facts.rotations if r.resident_duty), 4)


def counted_months(facts: TrainingFacts, policy: Policy) -> float:
    return round(clinical_months(facts) + credited_prior_months(facts, policy), 4)


def starts_in_stage_two(facts: TrainingFacts) -> bool:
    """R6: a residency-certificate holder goes straight to specialist training."""
    return facts.holds_residency_certificate_at_enrollment


def required_months(facts: TrainingFacts, regime: Regime) -> float:
    total = regime.standard.total_months
    return total - regime.policy.stage_one_months if starts_in_stage_two(facts) else total


def training_stage(facts: TrainingFacts, regime: Regime) -> int:
    """R4: 1 for the first 18 months, 2 after, 3 once clinical training is complete."""
    if not training_time_missing(facts, regime):
        return 3
    if starts_in_stage_two(facts):
        return 2
    return 1 if counted_months(facts, regime.policy) < regime.policy.stage_one_months else 2


def training_time_missing(facts: TrainingFacts, regime: Regime) -> list[str]:
    missing = []
    policy = regime.policy
    required = required_months(facts, regime)
    counted = counted_months(facts, policy)
    if counted < required:
        credited = credited_prior_months(facts, policy)
        missing.append(
            f"R4: {counted:g} of {required:g} months of clinical training completed "
            f"(including {credited:g} credited prior months, R5)"
        )
    duty = resident_duty_months(facts)
    if duty < policy.resident_duty_months:
        missing.append(
            f"R4: {duty:g} of {policy.resident_duty_months:g} months as 24-hour resident "
            "in stage 2"
        )
    return missing


# R8, R12: the handbook against the standard.


def handbook_missing(facts: TrainingFacts, regime: Regime) -> list[str]:
    """What keeps the handbooks from being the complete evidence R8 asks for."""
    missing = training_time_missing(facts, regime)
    unsigned = sum(r.unsigned_entries for r in facts.rotations)
    if unsigned:
        missing.append(
            f"R8: {unsigned} rotation entr{'y awaits' if unsigned == 1 else 'ies await'} "
            "the signature of its rotation's tutor"
        )
    if not starts_in_stage_two(facts):
        # R6: certificate holders met the rotation table in their earlier residency.
        missing += department_missing(facts, regime)
    missing += tutor_missing(facts)
    return missing


def department_missing(facts: TrainingFacts, regime: Regime) -> list[str]:
    standard, policy = regime.standard, regime.policy
    missing = []
    by_department = _rotations_by_department(facts, standard)
    elective_months = 0.0
    for department in standard.departments:
        rotations = by_department.get(department.name, [])
        months = round(sum(rotation_months(r) for r in rotations), 4)
        if not department.required:
            elective_months += months
        elif months < department.months:
            missing.append(
                f"R8: {department.name}: {months:g} of {department.months:g} months completed"
            )
        if department.required or rotations:
            missing += _assessments_missing(department, rotations)
            if policy.completion_method != DEPARTMENT_AVERAGE:
                missing += _counts_missing(department, rotations)
    if elective_months < standard.elective_months:
        missing.append(
            f"R8: {elective_months:g} of {standard.elective_months:g} elective months "
            "completed"
        )
    if policy.completion_method == DEPARTMENT_AVERAGE:
        missing += _average_missing(standard, policy, by_department)
    return missing


def department_completion(
    department: DepartmentRequirement, rotations: list[RotationFacts]
) -> float | None:
    """Signed entries over required ones, capped at 100%, as a provincial platform
    computes it (reference/registration_and_eligibility_rules.yaml)."""
    required = sum(department.min_counts.values())
    if not required:
        return None
    done = sum(
        min(_signed(rotations, kind), need) for kind, need in department.min_counts.items()
    )
    return min(100.0, 100.0 * done / required)


def _average_missing(
    standard: TrainingStandard, policy: Policy, by_department: dict[str, list[RotationFacts]]
) -> list[str]:
    ratios = [
        ratio
        for d in standard.departments
        if d.required or by_department.get(d.name)
        if (ratio := department_completion(d, by_department.get(d.name, []))) is not None
    ]
    if not ratios:
        return []
    average = round(sum(ratios) / len(ratios), 1)
    threshold = policy.completion_threshold_percent
    if average >= threshold:
        return []
    return [
        f"R8: required entries {average:g}% complete on average over {len(ratios)} "
        f"departments; the {policy.jurisdiction} policy asks {threshold:g}%"
    ]


def _counts_missing(
    department: DepartmentRequirement, rotations: list[RotationFacts]
) -> list[str]:
    return [
        f"R8: {department.name}: {done} of {need} signed {kind} entries"
        for kind, need in department.min_counts.items()
        if (done := _signed(rotations, kind)) < need
    ]


def _assessments_missing(
    department: DepartmentRequirement, rotations: list[RotationFacts]
) -> list[str]:
    passed = {kind for r in rotations for kind in r.passed_assessments}
    return [
        f"R8: {department.name}: no passed {kind} assessment"
        for kind in department.assessments
        if kind not in passed
    ]


def _signed(rotations: list[RotationFacts], kind: str) -> int:
    return sum(r.signed_counts.get(kind, 0) for r in rotations)


def _rotations_by_department(
    facts: TrainingFacts, standard: TrainingStandard
) -> dict[str, list[RotationFacts]]:
    grouped: dict[str, list[RotationFacts]] = {}
    for rotation in facts.rotations:
        department = standard.department(rotation.department)
        if department is not None:
            grouped.setdefault(department.name, []).append(rotation)
    return grouped


def tutor_missing(facts: TrainingFacts) -> list[str]:
    """R12: one first tutor per postgraduate, a rotating tutor in every rotation."""
    missing = []
    if facts.pathway == Pathway.INTEGRATED_MASTER and facts.first_tutor_id is None:
        missing.append("R12: no first tutor assigned")
    for rotation in facts.rotations:
        if rotation.tutor_id is None:
            missing.append(
                f"R12: the {rotation.department} rotation from {rotation.start_on} has no "
                "rotating responsibility tutor"
            )
    return missing


# R9: completion-exam eligibility.


def completion_exam_unmet(
    facts: TrainingFacts, regime: Regime, handbook: list[str] | None = None
) -> list[str]:
    """Seed 004 art. 15: all the standard's content done (the handbook, R8), process
    assessments passed, and a licence held. `handbook`: handbook_missing, if known."""
    unmet = list(handbook_missing(facts, regime) if handbook is None else handbook)
    for kind in regime.policy.process_assessments:
        if kind not in facts.passed_assessment_kinds:
            unmet.append(f"R9: process assessment {kind} not passed")
    for kind in sorted(facts.failed_assessment_kinds.keys() - facts.passed_assessment_kinds.keys()):
        already_named = kind in regime.policy.process_assessments
        if not already_named and kind != AssessmentKind.COMPLETION_EXAM:
            unmet.append(f"R9: {kind} assessment failed and not passed since")
    if not facts.holds_licence:
        unmet.append("R9: no licence held")
    return unmet


# The four certificates (R7, R9, R10, R11, R13).


def certificate_unmet(
    kind: str, facts: TrainingFacts, regime: Regime, handbook: list[str] | None = None
) -> list[str]:
    """The conditions of `kind` that do not hold; empty means it may be granted.
    `handbook`: handbook_missing, if known."""
    if kind == CertificateKind.LICENCE:
        return licence_unmet(facts, regime.policy)
    unmet = ethics_veto(facts)
    if kind == CertificateKind.RESIDENCY_CERTIFICATE:
        unmet += completion_exam_unmet(facts, regime, handbook)
        if AssessmentKind.COMPLETION_EXAM not in facts.passed_assessment_kinds:
            unmet.append("R9: completion exam not passed")
    elif kind == CertificateKind.DIPLOMA:
        if facts.pathway != Pathway.INTEGRATED_MASTER:
            unmet.append(f"R10: a diploma is for enrolled students; pathway is {facts.pathway}")
        unmet += _degree_work_unmet("R10", facts)
    elif facts.pathway == Pathway.INTEGRATED_MASTER:
        unmet += integrated_degree_unmet(facts, regime.policy)
    elif facts.pathway == Pathway.EQUIVALENT_DEGREE:
        unmet += equivalent_degree_unmet(facts, regime.standard)
    else:
        unmet.append(f"R10: a degree needs a degree pathway; pathway is {facts.pathway}")
    return unmet


def licence_unmet(facts: TrainingFacts, policy: Policy) -> list[str]:
    """R7: a clinical master without a licence may sit the exam after a year of training."""
    counted = counted_months(facts, policy)
    if counted < policy.licence_exam_after_months:
        return [
            f"R7: the licensing exam is open after {policy.licence_exam_after_months:g} months "
            f"of clinical training; {counted:g} completed"
        ]
    return []


def integrated_degree_unmet(facts: TrainingFacts, policy: Policy) -> list[str]:
    """R10 (seed 000 §3.5): defense, clinical competence, and one publication of a kind
    the policy accepts."""
    unmet = _degree_work_unmet("R10", facts)
    if AssessmentKind.CLINICAL_COMPETENCE not in facts.passed_assessment_kinds:
        unmet.append("R10: clinical competence assessment not passed")
    kinds = policy.degree_publication_kinds
    if kinds and not facts.publication_kinds.keys() & kinds:
        unmet.append(f"R10: no published {' or '.join(sorted(kinds)).lower()}")
    return unmet


def equivalent_degree_unmet(facts: TrainingFacts, standard: TrainingStandard) -> list[str]:
    """R11 (seed 004 arts. 16-17)."""
    unmet = _degree_work_unmet("R11", facts)
    if not facts.coursework_passed:
        unmet.append("R11: no coursework passed")
    for exam in NATIONAL_EXAMS:
        if exam not in facts.national_exams_passed:
            unmet.append(f"R11: national {exam} exam not passed")
    if not facts.holds_licence:
        unmet.append("R11: no licence held")
    if not facts.holds_residency_certificate:
        unmet.append("R11: no residency certificate held")
    if facts.degree_category != standard.degree_category:
        unmet.append(
            f"R11: degree category {facts.degree_category} does not match the residency "
            f"specialty {standard.specialty} ({standard.degree_category})"
        )
    return unmet


def ethics_veto(facts: TrainingFacts) -> list[str]:
    """R13: a confirmed violation vetoes the comprehensive evaluation (not the licence,
    which the national exam grants)."""
    if facts.confirmed_ethics_violations:
        return [
            f"R13: {facts.confirmed_ethics_violations} confirmed ethics violation(s) veto the "
            "comprehensive evaluation"
        ]
    return []


def certificate_state(
    kind: str, facts: TrainingFacts, regime: Regime, handbook: list[str] | None = None
) -> tuple[str, list[str]]:
    """`handbook`: handbook_missing, if known (a summary computes it once for all)."""
    if kind in facts.revoked:
        # The revocation's own reason is on the record; unmet says what a re-grant needs.
        return CertificateState.REVOKED.value, certificate_unmet(kind, facts, regime, handbook)
    held = {
        CertificateKind.LICENCE: facts.holds_licence,
        CertificateKind.RESIDENCY_CERTIFICATE: facts.holds_residency_certificate,
    }.get(CertificateKind(kind), kind in facts.granted)
    if held:
        return CertificateState.GRANTED.value, []
    unmet = certificate_unmet(kind, facts, regime, handbook)
    state = CertificateState.NOT_ELIGIBLE if unmet else CertificateState.ELIGIBLE
    return state.value, unmet


def _degree_work_unmet(rule: str, facts: TrainingFacts) -> list[str]:
    unmet = []
    if not facts.thesis_defense_passed:
        unmet.append(f"{rule}: thesis defense not passed")
    for course in sorted(facts.coursework_failed.keys() - facts.coursework_passed.keys()):
        unmet.append(f"{rule}: coursework '{course}' not passed")
    return unmet
