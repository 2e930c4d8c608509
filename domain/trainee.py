"""The trainee's record as an event-sourced aggregate.

Each `decide_*` method checks a command against the write state and either refuses it
(raising a DomainError, so nothing is recorded) or triggers the events it implies. The
events' own `apply` methods evolve the state (see domain.events).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import commands as c
from domain import events as e
from domain import guards, rules
from domain.errors import Conflict, InvalidCommand, NotFound, RulesNotMet
from domain.facts import TrainingFacts, facts_of
from domain.forms import AssessmentForm
from domain.regulations import Regime
from domain.standards import DepartmentRequirement
from domain.values import (
    ROTATION_BOUND_ASSESSMENTS,
    AssessmentKind,
    CertificateKind,
    DegreeCategory,
    EntryKind,
    NationalExam,
    Pathway,
    TutorRole,
)

MAX_PRIOR_MONTHS = 36.0
EXAM_SCORE_RANGE = (0, 100)
LICENSING_EXAM_MAX_SCORE = 600  # the national licensing exam's written part
# The completion exam's two parts (glossary: theory + clinical skills); R14 rates theory.
COMPLETION_EXAM_PARTS = ("theory", "clinicalSkills")


class Trainee(Aggregate):
    """Write state: what decisions need, which since the regulations arrived includes
    every fact the rules read (see `facts`). Set by the events' apply methods."""

    # v2 keeps the facts the rules need; v1 snapshots were dropped by migration 0002.
    # v3 knows every tutor and where they tutor (access control); migration 0005 dropped v2.
    class_version = 3
    enrolled_on: date
    pathway: str
    degree_category: str
    licensed_at_enrollment: bool
    holds_residency_certificate_at_enrollment: bool
    prior_training_months: float
    base_id: str
    university: str
    specialty: str
    standard_id: str | None
    policy_id: str | None

    def __init__(self) -> None:
        self.first_tutor_id: str | None = None
        self.rotating_tutors: dict[str, str] = {}
        # tutor -> the departments they tutor this trainee in (None: no department)
        self.tutors: dict[str, list[str | None]] = {}
        self.rotations: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, dict[str, Any]] = {}
        # kind -> [number, date]; lists and dicts only, so snapshots transcode as JSON.
        self.certificates: dict[str, list[Any]] = {}
        self.revoked: dict[str, str] = {}
        # [kind, rotation id, passed, business date]
        self.assessments: list[list[Any]] = []
        self.confirmed_ethics_violations = 0
        self.thesis_defense_passed_on: date | None = None
        # name -> the business date it first held (see domain.facts.Dated)
        self.publication_kinds: dict[str, date] = {}
        self.coursework_passed: dict[str, date] = {}
        self.coursework_failed: dict[str, date] = {}
        self.national_exams_passed: dict[str, date] = {}
        self.licensing_exam_passed = False

    @classmethod
    def enroll(cls, cmd: c.EnrollTrainee, regime: Regime, prov: c.Provenance) -> Trainee:
        guards.not_in_future("enrolledOn", cmd.enrolled_on, prov.today)
        if not 0 <= cmd.prior_training_months <= MAX_PRIOR_MONTHS:
            raise InvalidCommand(
                f"priorTrainingMonths must be between 0 and {MAX_PRIOR_MONTHS:g}, "
                f"got {cmd.prior_training_months:g}"
            )
        if not 1900 <= cmd.cohort <= 2200:
            raise InvalidCommand(f"cohort must be a year, got {cmd.cohort}")
        applicant = rules.Applicant(
            pathway=guards.member("pathway", cmd.pathway, Pathway),
            degree_category=guards.member("degreeCategory", cmd.degree_category, DegreeCategory),
            bachelor_major=guards.text("bachelorMajor", cmd.bachelor_major, limit=guards.MAX_NAME),
            has_bachelor_of_medicine=cmd.has_bachelor_of_medicine,
            full_time_bachelor=cmd.full_time_bachelor,
            holds_residency_certificate=cmd.holds_residency_certificate,
        )
        unmet = rules.enrollment_unmet(applicant, regime.policy)
        if unmet:
            raise RulesNotMet("enroll this trainee", unmet)
        return cls._create(
            e.TraineeEnrolled,
            id=cmd.trainee_id,
            timestamp=prov.recorded_at,
            actor=prov.actor,
            occurred_on=cmd.enrolled_on,
            name=guards.text("name", cmd.name, limit=guards.MAX_NAME),
            national_id=guards.text("nationalId", cmd.national_id, limit=32),
            pathway=applicant.pathway,
            degree_category=applicant.degree_category,
            bachelor_major=applicant.bachelor_major,
            has_bachelor_of_medicine=cmd.has_bachelor_of_medicine,
            holds_residency_certificate=cmd.holds_residency_certificate,
            licensed_at_enrollment=cmd.licensed_at_enrollment,
            prior_training_months=float(cmd.prior_training_months),
            specialty=regime.standard.specialty,
            base_id=guards.text("baseId", cmd.base_id, limit=guards.MAX_NAME),
            university=guards.text("university", cmd.university, limit=guards.MAX_NAME),
            cohort=cmd.cohort,
            full_time_bachelor=cmd.full_time_bachelor,
            standard_id=regime.standard.id,
            policy_id=regime.policy.id,
        )

    def decide_assign_tutor(
        self, cmd: c.AssignTutor, regime: Regime, prov: c.Provenance
    ) -> None:
        role = guards.member("role", cmd.role, TutorRole)
        department = guards.optional_text("department", cmd.department)
        if role == TutorRole.ROTATING_TUTOR and department is None:
            raise InvalidCommand("a ROTATING_TUTOR is appointed for a department; give department")
        if department is not None:
            department = self._department(department, regime).name
        self._check_business_date("assignedOn", cmd.assigned_on, prov)
        self._record(
            e.TutorAssigned,
            prov,
            cmd.assigned_on,
            tutor_id=guards.text("tutorId", cmd.tutor_id, limit=guards.MAX_NAME),
            role=role,
            department=department,
        )

    def decide_schedule_rotation(
        self, cmd: c.ScheduleRotation, regime: Regime, prov: c.Provenance
    ) -> None:
        if cmd.stage not in (1, 2):
            raise InvalidCommand(f"stage must be 1 or 2, got {cmd.stage}")
        if cmd.resident_duty and cmd.stage != 2:
            raise InvalidCommand("R4: 24-hour resident duty belongs to stage 2")
        if cmd.stage == 1 and self.holds_residency_certificate_at_enrollment:
            raise RulesNotMet(
                "schedule a stage-1 rotation",
                ["R6: a residency-certificate holder trains in stage 2 only"],
            )
        department = self._department(
            guards.text("department", cmd.department, limit=guards.MAX_NAME), regime
        )
        if cmd.end_on <= cmd.start_on:
            raise InvalidCommand(
                f"endOn {cmd.end_on.isoformat()} must be after startOn {cmd.start_on.isoformat()}"
            )
        guards.not_before("startOn", cmd.start_on, self.enrolled_on, "enrollment")
        for rotation_id, other in self.rotations.items():
            other_end = other["completed_on"] or other["end_on"]
            if cmd.start_on < other_end and other["start_on"] < cmd.end_on:
                raise Conflict(
                    f"rotation {cmd.start_on}..{cmd.end_on} overlaps rotation {rotation_id} "
                    f"in {other['department']} ({other['start_on']}..{other_end})"
                )
        self._record(
            e.RotationScheduled,
            prov,
            prov.today,
            rotation_id=str(cmd.rotation_id),
            department=department.name,
            stage=cmd.stage,
            start_on=cmd.start_on,
            end_on=cmd.end_on,
            tutor_id=guards.optional_text("tutorId", cmd.tutor_id),
            resident_duty=cmd.resident_duty,
        )

    def decide_complete_rotation(self, cmd: c.CompleteRotation, prov: c.Provenance) -> None:
        rotation = self._rotation(cmd.rotation_id)
        if rotation["completed_on"] is not None:
            raise Conflict(
                f"rotation {cmd.rotation_id} was already completed on {rotation['completed_on']}"
            )
        guards.not_in_future("completedOn", cmd.completed_on, prov.today)
        if cmd.completed_on <= rotation["start_on"]:
            raise InvalidCommand(
                f"completedOn {cmd.completed_on} must be after the rotation's start "
                f"{rotation['start_on']}"
            )
        for other_id, other in self.rotations.items():
            later = other_id != str(cmd.rotation_id) and other["start_on"] >= rotation["start_on"]
            if later and cmd.completed_on > other["start_on"]:
                raise Conflict(
                    f"completing on {cmd.completed_on} would overlap rotation {other_id} in "
                    f"{other['department']} from {other['start_on']}; no month counts twice (R4)"
                )
        self._record(e.RotationCompleted, prov, cmd.completed_on, rotation_id=str(cmd.rotation_id))

    def decide_record_entry(self, cmd: c.RecordRotationEntry, prov: c.Provenance) -> None:
        self._rotation(cmd.rotation_id)
        self._check_entry_date(cmd.occurred_on, str(cmd.rotation_id), prov)
        self._record(
            e.RotationEntryRecorded,
            prov,
            cmd.occurred_on,
            entry_id=str(cmd.entry_id),
            rotation_id=str(cmd.rotation_id),
            kind=guards.member("kind", cmd.kind, EntryKind),
            description=guards.text("description", cmd.description),
        )

    def decide_sign_entry(self, cmd: c.SignRotationEntry, prov: c.Provenance) -> None:
        entry = self._open_entry(cmd.entry_id)
        if entry["signed_by"] is not None:
            raise Conflict(f"entry {cmd.entry_id} is already signed by {entry['signed_by']}")
        rotation = self.rotations[entry["rotation_id"]]
        tutor = self.rotation_tutor(rotation)
        if tutor is None:
            raise InvalidCommand(
                f"R12: rotation in {rotation['department']} has no rotating tutor to sign entries"
            )
        if cmd.tutor_id != tutor:
            raise InvalidCommand(
                f"R8: {cmd.tutor_id} is not the tutor of the {rotation['department']} rotation "
                f"(its tutor is {tutor}); only that tutor may sign its entries"
            )
        self._record(
            e.RotationEntrySigned, prov, prov.today, entry_id=str(cmd.entry_id), tutor_id=tutor
        )

    def decide_retract_entry(self, cmd: c.RetractRotationEntry, prov: c.Provenance) -> None:
        self._open_entry(cmd.entry_id)
        self._record(
            e.RotationEntryRetracted,
            prov,
            prov.today,
            entry_id=str(cmd.entry_id),
            reason=guards.text("reason", cmd.reason),
        )

    def decide_correct_entry(self, cmd: c.CorrectRotationEntry, prov: c.Provenance) -> None:
        entry = self._open_entry(cmd.entry_id)
        self._check_entry_date(cmd.occurred_on, entry["rotation_id"], prov)
        self._record(
            e.RotationEntryCorrected,
            prov,
            prov.today,
            entry_id=str(cmd.entry_id),
            kind=guards.member("kind", cmd.kind, EntryKind),
            entry_occurred_on=cmd.occurred_on,
            description=guards.text("description", cmd.description),
            reason=guards.text("reason", cmd.reason),
        )

    def decide_record_assessment(
        self,
        cmd: c.RecordAssessment,
        form: AssessmentForm | None,
        regime: Regime,
        prov: c.Provenance,
    ) -> None:
        kind = guards.member("kind", cmd.kind, AssessmentKind)
        self._check_business_date("occurredOn", cmd.occurred_on, prov)
        if kind == AssessmentKind.COMPLETION_EXAM:
            if any(k == kind and passed for k, _, passed, _ in self.assessments):
                raise Conflict("the completion exam was already passed")
            self._require("sit the completion exam", rules.completion_exam_unmet(
                self.facts().as_of(cmd.occurred_on), regime))
        if cmd.rotation_id is not None:
            self._rotation(cmd.rotation_id)
        elif kind in ROTATION_BOUND_ASSESSMENTS:
            raise InvalidCommand(f"a {kind} assessment belongs to a rotation; give rotationId")
        if form is not None:
            passed = form.check(cmd.ratings, cmd.overall)
            if cmd.passed is not None and cmd.passed != passed:
                raise InvalidCommand(
                    f"passed={cmd.passed} contradicts overall score {cmd.overall} on the "
                    f"{form.name} form (a pass is {form.scale.pass_from} or more)"
                )
        elif kind == AssessmentKind.COMPLETION_EXAM and cmd.ratings is not None:
            passed = _completion_exam_passed(cmd.ratings, cmd.passed)
        else:
            if cmd.ratings is not None:
                raise InvalidCommand(f"{kind} has no rating form; ratings are not accepted")
            if cmd.overall is not None and not (
                EXAM_SCORE_RANGE[0] <= cmd.overall <= EXAM_SCORE_RANGE[1]
            ):
                raise InvalidCommand(
                    f"overall score {cmd.overall} is outside {EXAM_SCORE_RANGE[0]}-"
                    f"{EXAM_SCORE_RANGE[1]}"
                )
            if cmd.passed is None:
                raise InvalidCommand(f"a {kind} assessment must say whether it was passed")
            passed = cmd.passed
        self._record(
            e.AssessmentRecorded,
            prov,
            cmd.occurred_on,
            assessment_id=str(cmd.assessment_id),
            kind=kind,
            assessor_id=guards.optional_text("assessorId", cmd.assessor_id),
            rotation_id=None if cmd.rotation_id is None else str(cmd.rotation_id),
            overall=cmd.overall,
            passed=passed,
            ratings=None if cmd.ratings is None else dict(cmd.ratings),
        )

    def decide_record_ethics_violation(
        self, cmd: c.RecordEthicsViolation, prov: c.Provenance
    ) -> None:
        self._check_business_date("occurredOn", cmd.occurred_on, prov)
        self._record(
            e.EthicsViolationRecorded,
            prov,
            cmd.occurred_on,
            violation_id=str(cmd.violation_id),
            description=guards.text("description", cmd.description),
            confirmed=cmd.confirmed,
        )

    def decide_grant_licence(
        self, cmd: c.GrantLicence, regime: Regime, prov: c.Provenance
    ) -> None:
        self._check_not_licensed()
        self._check_once("LICENCE", "a licence")
        self._check_business_date("grantedOn", cmd.granted_on, prov)
        facts = self.facts().as_of(cmd.granted_on)
        self._require("grant a licence", rules.licence_unmet(facts, regime.policy))
        self._record(e.LicenceGranted, prov, cmd.granted_on, number=self._number(cmd.number))

    def decide_record_licensing_exam(
        self, cmd: c.RecordLicensingExam, regime: Regime, prov: c.Provenance
    ) -> None:
        self._check_not_licensed()
        self._check_once("LICENCE", "a licence")
        self._check_business_date("sittingOn", cmd.sitting_on, prov)
        if cmd.score is not None and not 0 <= cmd.score <= LICENSING_EXAM_MAX_SCORE:
            raise InvalidCommand(
                f"score must be between 0 and {LICENSING_EXAM_MAX_SCORE}, got {cmd.score}"
            )
        self._require(
            "sit the licensing exam",
            rules.licence_unmet(self.facts().as_of(cmd.sitting_on), regime.policy),
        )
        self._record(
            e.LicensingExamRecorded, prov, cmd.sitting_on, passed=cmd.passed, score=cmd.score
        )

    def decide_record_national_exam(
        self, cmd: c.RecordNationalExam, prov: c.Provenance
    ) -> None:
        if self.pathway != Pathway.EQUIVALENT_DEGREE:
            raise Conflict(
                f"the national {cmd.exam} exam belongs to the EQUIVALENT_DEGREE pathway (R11); "
                f"this trainee is {self.pathway}"
            )
        exam = guards.member("exam", cmd.exam, NationalExam)
        self._check_business_date("sittingOn", cmd.sitting_on, prov)
        self._record(e.NationalExamRecorded, prov, cmd.sitting_on, exam=exam, passed=cmd.passed)

    def decide_issue_residency_certificate(
        self, cmd: c.IssueResidencyCertificate, regime: Regime, prov: c.Provenance
    ) -> None:
        if self.holds_residency_certificate_at_enrollment:
            raise Conflict("the trainee already held a residency certificate at enrollment")
        self._check_once("RESIDENCY_CERTIFICATE", "a residency certificate")
        self._check_business_date("issuedOn", cmd.issued_on, prov)
        self._require_certificate(CertificateKind.RESIDENCY_CERTIFICATE, regime, cmd.issued_on)
        self._record(
            e.ResidencyCertificateIssued, prov, cmd.issued_on, number=self._number(cmd.number)
        )

    def decide_record_publication(self, cmd: c.RecordPublication, prov: c.Provenance) -> None:
        self._check_business_date("publishedOn", cmd.published_on, prov)
        self._record(
            e.PublicationRecorded,
            prov,
            cmd.published_on,
            publication_id=str(cmd.publication_id),
            kind=guards.text("kind", cmd.kind, limit=guards.MAX_NAME),
            title=guards.text("title", cmd.title),
        )

    def decide_record_coursework(self, cmd: c.RecordCoursework, prov: c.Provenance) -> None:
        self._check_business_date("completedOn", cmd.completed_on, prov)
        self._record(
            e.CourseworkRecorded,
            prov,
            cmd.completed_on,
            course=guards.text("course", cmd.course, limit=guards.MAX_NAME),
            passed=cmd.passed,
        )

    def decide_record_thesis_defense(
        self, cmd: c.RecordThesisDefense, prov: c.Provenance
    ) -> None:
        self._check_academic_pathway("a thesis defense")
        self._check_business_date("defendedOn", cmd.defended_on, prov)
        self._record(
            e.ThesisDefenseRecorded,
            prov,
            cmd.defended_on,
            passed=cmd.passed,
            committee=guards.names("committee", cmd.committee),
        )

    def decide_issue_diploma(self, cmd: c.IssueDiploma, regime: Regime, prov: c.Provenance) -> None:
        if self.pathway != Pathway.INTEGRATED_MASTER:
            raise Conflict(f"a diploma is issued only to enrolled students, not {self.pathway}")
        self._check_once("DIPLOMA", "a diploma")
        self._check_business_date("issuedOn", cmd.issued_on, prov)
        self._require_certificate(CertificateKind.DIPLOMA, regime, cmd.issued_on)
        self._record(e.DiplomaIssued, prov, cmd.issued_on, number=self._number(cmd.number))

    def decide_award_degree(self, cmd: c.AwardDegree, regime: Regime, prov: c.Provenance) -> None:
        self._check_academic_pathway("a degree")
        self._check_once("DEGREE", "a degree")
        self._check_business_date("awardedOn", cmd.awarded_on, prov)
        self._require_certificate(CertificateKind.DEGREE, regime, cmd.awarded_on)
        self._record(e.DegreeAwarded, prov, cmd.awarded_on, number=self._number(cmd.number))

    def decide_revoke_certificate(self, cmd: c.RevokeCertificate, prov: c.Provenance) -> None:
        kind = guards.member("kind", cmd.kind, CertificateKind)
        if kind not in self.certificates:
            raise Conflict(f"no {kind} was recorded for this trainee, so none can be revoked")
        if kind in self.revoked:
            raise Conflict(f"the {kind} was already revoked: {self.revoked[kind]}")
        guards.not_in_future("revokedOn", cmd.revoked_on, prov.today)
        guards.not_before("revokedOn", cmd.revoked_on, self.certificates[kind][1], "its grant")
        self._record(
            e.CertificateRevoked, prov, cmd.revoked_on, kind=kind,
            reason=guards.text("reason", cmd.reason),
        )

    def facts(self) -> TrainingFacts:
        """The facts the rules read, from this write state."""
        return facts_of(self)

    # Queries that decisions share.

    def rotation_tutor(self, rotation: dict[str, Any]) -> str | None:
        """The rotation's own tutor, else the department's rotating tutor (R12)."""
        return rotation["tutor_id"] or self.rotating_tutors.get(rotation["department"])

    # Guards.

    def _record(
        self, event_class: type, prov: c.Provenance, occurred_on: date, **data: Any
    ) -> None:
        self.trigger_event(
            event_class,
            timestamp=prov.recorded_at,
            actor=prov.actor,
            occurred_on=occurred_on,
            **data,
        )

    def _check_business_date(self, field: str, day: date, prov: c.Provenance) -> None:
        guards.not_in_future(field, day, prov.today)
        guards.not_before(field, day, self.enrolled_on, "enrollment")

    def _check_once(self, kind: str, what: str) -> None:
        if kind in self.certificates:
            raise Conflict(f"{what} was already recorded (number {self.certificates[kind][0]})")

    @staticmethod
    def _department(name: str, regime: Regime) -> DepartmentRequirement:
        """The standard's department by any of its names, or a refusal naming them all."""
        department = regime.standard.department(name)
        if department is None:
            raise InvalidCommand(
                f"department {name!r} is not in the {regime.standard.id} standard; "
                f"its departments are {', '.join(d.name for d in regime.standard.departments)}"
            )
        return department

    def _check_not_licensed(self) -> None:
        if self.licensed_at_enrollment:
            raise Conflict("the trainee already held a licence at enrollment")

    def _require(self, action: str, unmet: list[str]) -> None:
        if unmet:
            raise RulesNotMet(action, unmet)

    def _require_certificate(self, kind: CertificateKind, regime: Regime, day: date) -> None:
        unmet = rules.certificate_unmet(kind, self.facts().as_of(day), regime)
        self._require(f"record the {kind.value}", unmet)

    def _check_academic_pathway(self, what: str) -> None:
        if self.pathway == Pathway.RESIDENT_ONLY:
            raise Conflict(
                f"{what} belongs to a degree pathway; this trainee is RESIDENT_ONLY"
            )

    def _rotation(self, rotation_id: UUID) -> dict[str, Any]:
        try:
            return self.rotations[str(rotation_id)]
        except KeyError:
            raise NotFound(f"trainee {self.id} has no rotation {rotation_id}") from None

    def _check_entry_date(self, day: date, rotation_id: str, prov: c.Provenance) -> None:
        rotation = self.rotations[rotation_id]
        guards.not_in_future("occurredOn", day, prov.today)
        last_day = rotation["completed_on"] or rotation["end_on"]
        if not rotation["start_on"] <= day <= last_day:
            raise InvalidCommand(
                f"occurredOn {day} is outside rotation {rotation_id} in "
                f"{rotation['department']} ({rotation['start_on']}..{last_day})"
            )

    def _open_entry(self, entry_id: UUID) -> dict[str, Any]:
        try:
            entry = self.entries[str(entry_id)]
        except KeyError:
            raise NotFound(f"trainee {self.id} has no rotation entry {entry_id}") from None
        if entry["retracted"]:
            raise Conflict(f"entry {entry_id} was retracted")
        return entry

    @staticmethod
    def _number(number: str) -> str:
        return guards.text("number", number, limit=64)


def _completion_exam_passed(ratings: Any, passed: bool | None) -> bool:
    """The completion exam's parts, each passed or not; the exam is passed if both are."""
    if not isinstance(ratings, dict) or set(ratings) != set(COMPLETION_EXAM_PARTS):
        raise InvalidCommand(
            f"COMPLETION_EXAM ratings must give each part, {' and '.join(COMPLETION_EXAM_PARTS)}, "
            "as true or false"
        )
    if not all(isinstance(v, bool) for v in ratings.values()):
        raise InvalidCommand("COMPLETION_EXAM parts are true (passed) or false (failed)")
    both = all(ratings.values())
    if passed is not None and passed != both:
        raise InvalidCommand(f"passed={passed} contradicts the parts {ratings}")
    return both


class NationalIdClaim(Aggregate):
    """One per national ID; saving a second one for the same ID fails, atomically."""

    def __init__(self) -> None:
        pass

    @classmethod
    def claim(cls, claim_id: UUID, trainee_id: UUID, prov: c.Provenance) -> NationalIdClaim:
        return cls._create(
            e.NationalIdClaimed,
            id=claim_id,
            timestamp=prov.recorded_at,
            trainee_id=str(trainee_id),
        )
