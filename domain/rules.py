"""The regulations, R1-R14 of DOMAIN.md, in one place.

Every reason a rule gives starts with its rule id, so that a certificate's status
explains itself in the regulations' own terms. The inputs are plain facts about one
trainee (`TrainingFacts`), which can be gathered from the read model or by replaying
events; both must give the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.values import AssessmentKind, CertificateKind, CertificateState, Pathway

STAGE_ONE_MONTHS = 18.0  # R4
TOTAL_CLINICAL_MONTHS = 33.0  # R4
RESIDENT_DUTY_MONTHS = 6.0  # R4
LICENCE_EXAM_AFTER_MONTHS = 12.0  # R7
QUALIFYING_PUBLICATIONS = frozenset({"REVIEW", "CASE_ANALYSIS"})  # R10


@dataclass
class TrainingFacts:
    pathway: str
    licensed_at_enrollment: bool
    holds_residency_certificate_at_enrollment: bool
    clinical_months: float = 0.0
    credited_prior_months: float = 0.0
    resident_duty_months: float = 0.0
    unsigned_entries: int = 0
    failed_assessment_kinds: set[str] = field(default_factory=set)
    passed_assessment_kinds: set[str] = field(default_factory=set)
    confirmed_ethics_violations: int = 0
    thesis_defense_passed: bool = False
    publication_kinds: set[str] = field(default_factory=set)
    coursework_failed: set[str] = field(default_factory=set)
    coursework_passed: set[str] = field(default_factory=set)
    granted: dict[str, tuple[str | None, date | None]] = field(default_factory=dict)

    @property
    def counted_months(self) -> float:
        """Clinical months recorded here plus accurately recorded prior training (R5)."""
        return self.clinical_months + self.credited_prior_months

    @property
    def holds_licence(self) -> bool:
        return self.licensed_at_enrollment or CertificateKind.LICENCE in self.granted

    @property
    def holds_residency_certificate(self) -> bool:
        return (
            self.holds_residency_certificate_at_enrollment
            or CertificateKind.RESIDENCY_CERTIFICATE in self.granted
        )


def training_stage(facts: TrainingFacts) -> int:
    """R4 stages: 1 for the first 18 months, 2 after, 3 once clinical training is complete.

    R6: a trainee who already holds a residency certificate starts in stage 2.
    """
    if not training_time_missing(facts):
        return 3
    if facts.holds_residency_certificate_at_enrollment:
        return 2
    return 1 if facts.counted_months < STAGE_ONE_MONTHS else 2


def training_time_missing(facts: TrainingFacts) -> list[str]:
    missing = []
    if facts.holds_residency_certificate_at_enrollment:
        # R6: straight to specialist training; the stage-1 rotations are not required.
        required = TOTAL_CLINICAL_MONTHS - STAGE_ONE_MONTHS
    else:
        required = TOTAL_CLINICAL_MONTHS
    if facts.counted_months < required:
        missing.append(
            f"R4: {facts.counted_months:g} of {required:g} months of clinical training "
            f"completed (including {facts.credited_prior_months:g} credited prior months, R5)"
        )
    if facts.resident_duty_months < RESIDENT_DUTY_MONTHS:
        missing.append(
            f"R4: {facts.resident_duty_months:g} of {RESIDENT_DUTY_MONTHS:g} months as "
            "24-hour resident in stage 2"
        )
    return missing


def handbook_missing(facts: TrainingFacts) -> list[str]:
    """What keeps the handbooks from being the complete evidence R8 asks for."""
    missing = training_time_missing(facts)
    if facts.unsigned_entries:
        missing.append(
            f"R8: {facts.unsigned_entries} rotation entr"
            f"{'y awaits' if facts.unsigned_entries == 1 else 'ies await'} "
            "the signature of its rotation's tutor"
        )
    for kind in sorted(facts.failed_assessment_kinds - facts.passed_assessment_kinds):
        missing.append(f"R8: {kind} assessment not yet passed")
    return missing


def certificate_unmet(kind: str, facts: TrainingFacts) -> list[str]:
    unmet = ethics_veto(facts) if kind != CertificateKind.LICENCE else []
    if kind == CertificateKind.LICENCE:
        if facts.counted_months < LICENCE_EXAM_AFTER_MONTHS:
            unmet.append(
                f"R7: licensing exam open after {LICENCE_EXAM_AFTER_MONTHS:g} months of clinical "
                f"training; {facts.counted_months:g} completed"
            )
    elif kind == CertificateKind.RESIDENCY_CERTIFICATE:
        unmet += [f"R9: {reason}" for reason in handbook_missing(facts)]
        if not facts.holds_licence:
            unmet.append("R9: no licence held")
        if AssessmentKind.COMPLETION_EXAM not in facts.passed_assessment_kinds:
            unmet.append("R9: completion exam not passed")
    elif kind == CertificateKind.DIPLOMA:
        if facts.pathway != Pathway.INTEGRATED_MASTER:
            unmet.append(f"R10: a diploma is for enrolled students; pathway is {facts.pathway}")
        unmet += _degree_work_unmet("R10", facts)
    elif kind == CertificateKind.DEGREE:
        if facts.pathway == Pathway.INTEGRATED_MASTER:
            unmet += _degree_work_unmet("R10", facts)
            if AssessmentKind.CLINICAL_COMPETENCE not in facts.passed_assessment_kinds:
                unmet.append("R10: clinical competence assessment not passed")
            if not facts.publication_kinds & QUALIFYING_PUBLICATIONS:
                unmet.append("R10: no published review or case analysis")
        elif facts.pathway == Pathway.EQUIVALENT_DEGREE:
            unmet += _degree_work_unmet("R11", facts)
            if not facts.coursework_passed:
                unmet.append("R11: no coursework passed")
            if not facts.holds_licence:
                unmet.append("R11: no licence held")
            if not facts.holds_residency_certificate:
                unmet.append("R11: no residency certificate held")
        else:
            unmet.append(f"R10: a degree needs a degree pathway; pathway is {facts.pathway}")
    return unmet


def certificate_state(kind: str, facts: TrainingFacts) -> tuple[str, list[str]]:
    if kind in facts.granted or (kind == CertificateKind.LICENCE and facts.holds_licence):
        return CertificateState.GRANTED.value, []
    if kind == CertificateKind.RESIDENCY_CERTIFICATE and facts.holds_residency_certificate:
        return CertificateState.GRANTED.value, []
    unmet = certificate_unmet(kind, facts)
    state = CertificateState.NOT_ELIGIBLE if unmet else CertificateState.ELIGIBLE
    return state.value, unmet


def ethics_veto(facts: TrainingFacts) -> list[str]:
    if facts.confirmed_ethics_violations:
        return [
            f"R13: {facts.confirmed_ethics_violations} confirmed ethics violation(s) veto the "
            "comprehensive evaluation"
        ]
    return []


def _degree_work_unmet(rule: str, facts: TrainingFacts) -> list[str]:
    unmet = []
    if not facts.thesis_defense_passed:
        unmet.append(f"{rule}: thesis defense not passed")
    for course in sorted(facts.coursework_failed - facts.coursework_passed):
        unmet.append(f"{rule}: coursework '{course}' not passed")
    return unmet
