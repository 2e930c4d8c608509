"""Plays a generated history (tests.properties.strategies.Plan) through the application.

Every step becomes commands executed with `services.records.execute`, as the API would
issue them; a refused command (DomainError) is part of the history, and must have
written nothing: the event log's head is checked after each refusal.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from domain import commands as c
from domain.errors import DomainError
from service.bootstrap import Services
from service.principals import system
from tests.properties.strategies import CANONICAL, TODAY, Plan, Rotation, Step
from tests.scenarios import enroll_programme_trainee

RATED = ("MINI_CEX", "DOPS")  # rated on a form: overall 1-9, 7 passes, 2 fails


class Player:
    def __init__(self, services: Services, plan: Plan):
        self.services, self.plan = services, plan
        profile = plan.profile
        self.trainee_id = enroll_programme_trainee(
            services,
            national_id=f"H{uuid.uuid4().hex[:17]}",
            pathway=profile.pathway,
            jurisdiction=profile.jurisdiction,
            degree_category=profile.degree_category,
            licensed_at_enrollment=profile.licensed,
            holds_residency_certificate=profile.holds_certificate,
            prior_training_months=profile.prior_months,
            enrolled_on=profile.enrolled_on,
            cohort=profile.enrolled_on.year,
        )
        self.head = services.records.recorder.max_notification_id()
        self.accepted = self.refused = 0
        self.rotations: list[tuple[uuid.UUID, Rotation]] = []
        self.entries: list[tuple[uuid.UUID, uuid.UUID]] = []  # entry id, rotation id
        self.rotating_tutors: dict[str, str] = {}  # department's own name -> tutor
        self.signers: dict[uuid.UUID, str] = {}  # rotation id -> its tutor

    def play(self) -> uuid.UUID:
        for step in self.plan.steps:
            getattr(self, f"do_{step.op}")(step)
        self.services.projector.catch_up()
        return self.trainee_id

    def run(self, command: Any, actor: str = "base") -> bool:
        try:
            outcome = self.services.records.execute(command, system(actor))
        except DomainError:
            self.refused += 1
            head = self.services.records.recorder.max_notification_id()
            assert head == self.head, f"refused {command} but the log moved {self.head}->{head}"
            return False
        self.accepted += 1
        self.head = outcome.notification_id
        every = self.plan.catch_up_every
        if every and self.accepted % every == 0:
            self.services.after_write(outcome)
        return True

    # Rotations and the handbook.

    def do_rotation(self, step: Step) -> None:
        r: Rotation = step.arg
        t, rotation_id = self.trainee_id, uuid.uuid4()
        tutor = f"dr-{r.department}" if r.tutor == "own" else None
        if r.tutor == "department":
            self.do_rotating_tutor(Step("rotating_tutor", r.start_on, r.department))
        self.run(c.ScheduleRotation(t, rotation_id, r.department, r.stage, r.start_on, r.end_on,
                                    tutor, r.resident_duty))
        self.rotations.append((rotation_id, r))
        department = CANONICAL[r.department]
        self.signers[rotation_id] = tutor or self.rotating_tutors.get(department, "dr-nobody")
        last_day = min(r.completed_on or r.end_on, TODAY)
        for n, entry in enumerate(r.entries):
            on = min(r.start_on + timedelta(days=n + 1), last_day)
            self.record_entry(rotation_id, entry.kind, on, entry.signed, entry.retracted)
        for kind, passed in r.assessments:
            self.assess(kind, min(r.start_on + timedelta(days=19), last_day), passed, rotation_id)
        if r.completed_on is not None:
            self.run(c.CompleteRotation(t, rotation_id, r.completed_on))

    def record_entry(self, rotation_id: uuid.UUID, kind: str, on: date, signed: bool,
                     retracted: bool) -> None:
        entry_id = uuid.uuid4()
        self.run(c.RecordRotationEntry(self.trainee_id, entry_id, rotation_id, kind, on,
                                       f"{kind.lower()} seen"), "trainee")
        self.entries.append((entry_id, rotation_id))
        if signed:
            self.sign(entry_id, rotation_id)
        if retracted:
            self.run(c.RetractRotationEntry(self.trainee_id, entry_id, "recorded in error"),
                     "trainee")

    def sign(self, entry_id: uuid.UUID, rotation_id: uuid.UUID | None) -> None:
        """By the rotation's tutor, or, without a rotation, by someone who is not."""
        signer = "dr-impostor" if rotation_id is None else self.signers[rotation_id]
        self.run(c.SignRotationEntry(self.trainee_id, entry_id, signer), signer)

    def do_complete(self, step: Step) -> None:
        """Completes a rotation left open (if any) on the step's day, however late."""
        open_ones = [rotation_id for rotation_id, r in self.rotations if r.completed_on is None]
        chosen = open_ones or [rotation_id for rotation_id, _ in self.rotations]
        if chosen:
            self.run(c.CompleteRotation(self.trainee_id, chosen[step.arg % len(chosen)],
                                        step.on))

    def do_entry(self, step: Step) -> None:
        index, entry = step.arg
        if not self.rotations:
            return
        rotation_id, r = self.rotations[index % len(self.rotations)]
        on = max(r.start_on, min(step.on, r.completed_on or r.end_on))
        self.record_entry(rotation_id, entry.kind, on, entry.signed, entry.retracted)

    def do_sign(self, step: Step) -> None:
        index, right_tutor = step.arg
        if self.entries:
            entry_id, rotation_id = self.entries[index % len(self.entries)]
            self.sign(entry_id, rotation_id if right_tutor else None)

    def do_retract(self, step: Step) -> None:
        if self.entries:
            entry_id, _ = self.entries[step.arg % len(self.entries)]
            self.run(c.RetractRotationEntry(self.trainee_id, entry_id, "duplicate"), "trainee")

    def do_first_tutor(self, step: Step) -> None:
        self.run(c.AssignTutor(self.trainee_id, "dr-first", "FIRST_TUTOR", step.on), "school")

    def do_rotating_tutor(self, step: Step) -> None:
        tutor, department = f"dr-{step.arg}-rotating", CANONICAL[step.arg]
        if self.run(c.AssignTutor(self.trainee_id, tutor, "ROTATING_TUTOR", step.on, step.arg)):
            self.rotating_tutors[department] = tutor
            for rotation_id, r in self.rotations:
                if CANONICAL[r.department] == department and r.tutor != "own":
                    self.signers[rotation_id] = tutor

    # Assessments.

    def assess(self, kind: str, on: date, passed: bool,
               rotation_id: uuid.UUID | None = None) -> None:
        rated = kind in RATED
        self.run(c.RecordAssessment(
            self.trainee_id, uuid.uuid4(), kind, on, "dr-assessor", rotation_id,
            overall=(7 if passed else 2) if rated else None, passed=None if rated else passed,
        ), "dr-assessor")

    def do_assessment(self, step: Step) -> None:
        kind, passed = step.arg
        self.assess(kind, step.on, passed)

    def do_rotation_assessment(self, step: Step) -> None:
        index, kind, passed = step.arg
        rotation_id = None
        if index is not None and self.rotations:
            rotation_id = self.rotations[index % len(self.rotations)][0]
        self.assess(kind, step.on, passed, rotation_id)

    def do_completion_exam(self, step: Step) -> None:
        theory, skills = step.arg
        self.run(c.RecordAssessment(self.trainee_id, uuid.uuid4(), "COMPLETION_EXAM", step.on,
                                    "examiner", ratings={"theory": theory,
                                                         "clinicalSkills": skills}), "examiner")

    # Academic records.

    def do_ethics(self, step: Step) -> None:
        self.run(c.RecordEthicsViolation(self.trainee_id, uuid.uuid4(), step.on,
                                         "a record altered", step.arg))

    def do_defense(self, step: Step) -> None:
        self.run(c.RecordThesisDefense(self.trainee_id, step.on, step.arg, ["prof-a"]), "school")

    def do_publication(self, step: Step) -> None:
        self.run(c.RecordPublication(self.trainee_id, uuid.uuid4(), step.arg, "A paper",
                                     step.on), "school")

    def do_coursework(self, step: Step) -> None:
        course, passed = step.arg
        self.run(c.RecordCoursework(self.trainee_id, course, passed, step.on), "school")

    def do_national_exam(self, step: Step) -> None:
        exam, passed = step.arg
        self.run(c.RecordNationalExam(self.trainee_id, exam, step.on, passed), "school")

    def do_licensing_exam(self, step: Step) -> None:
        self.run(c.RecordLicensingExam(self.trainee_id, step.on, step.arg, 400), "registrar")

    # Certificates.

    def do_grant_licence(self, step: Step) -> None:
        self.run(c.GrantLicence(self.trainee_id, "L-1", step.on), "registrar")

    def do_issue_residency(self, step: Step) -> None:
        self.run(c.IssueResidencyCertificate(self.trainee_id, "R-1", step.on), "commission")

    def do_issue_diploma(self, step: Step) -> None:
        self.run(c.IssueDiploma(self.trainee_id, "D-1", step.on), "school")

    def do_award_degree(self, step: Step) -> None:
        self.run(c.AwardDegree(self.trainee_id, "M-1", step.on), "school")

    def do_revoke(self, step: Step) -> None:
        self.run(c.RevokeCertificate(self.trainee_id, step.arg, step.on, "obtained by fraud"),
                 "commission")


def play(services: Services, plan: Plan) -> uuid.UUID:
    """Enrolls a new trainee, plays the plan, projects; returns the trainee's id."""
    return Player(services, plan).play()
