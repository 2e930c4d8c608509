"""Who may do what: every access decision of the service, in one place.

The application layer asks these questions whatever the entry point (GraphQL, the JSON
feed, webhooks, the command line), so no caller can go round them. A refusal names the
principal and what it lacked, never what the record holds.

    trainee       reads their own record; records, corrects and retracts their entries
    tutor         reads the trainees they tutor; signs entries and records assessments
                  only in a department they tutor the trainee in
    base_admin    reads and runs the training of their own base's trainees
    school_admin  reads their own university's trainees; coursework, publications, the
                  national exams (R11), thesis defense, diploma and degree
    auditor       reads everything, writes nothing
    registry      reads the event feed, and manages the webhooks, of its own base only
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain import commands as c
from domain.values import CertificateKind
from service.principals import Forbidden, Principal, Role

TRAINEE, TUTOR, BASE_ADMIN, SCHOOL_ADMIN, AUDITOR, REGISTRY = Role

# The roles that may issue each command, each bound to the trainee as `_binds` says.
COMMAND_ROLES: dict[type, frozenset[Role]] = {
    c.EnrollTrainee: frozenset({BASE_ADMIN, SCHOOL_ADMIN}),
    c.AssignTutor: frozenset({BASE_ADMIN, SCHOOL_ADMIN}),
    c.ScheduleRotation: frozenset({BASE_ADMIN}),
    c.CompleteRotation: frozenset({BASE_ADMIN}),
    c.RecordRotationEntry: frozenset({TRAINEE}),
    c.CorrectRotationEntry: frozenset({TRAINEE}),
    c.RetractRotationEntry: frozenset({TRAINEE, BASE_ADMIN}),
    c.SignRotationEntry: frozenset({TUTOR}),
    c.RecordAssessment: frozenset({TUTOR, BASE_ADMIN}),
    c.RecordEthicsViolation: frozenset({BASE_ADMIN, SCHOOL_ADMIN}),
    c.GrantLicence: frozenset({BASE_ADMIN}),
    c.RecordLicensingExam: frozenset({BASE_ADMIN}),
    c.RecordNationalExam: frozenset({SCHOOL_ADMIN}),  # R11: the degree side's exams
    c.IssueResidencyCertificate: frozenset({BASE_ADMIN}),
    c.RecordPublication: frozenset({SCHOOL_ADMIN}),
    c.RecordCoursework: frozenset({SCHOOL_ADMIN}),
    c.RecordThesisDefense: frozenset({SCHOOL_ADMIN}),
    c.IssueDiploma: frozenset({SCHOOL_ADMIN}),
    c.AwardDegree: frozenset({SCHOOL_ADMIN}),
}
# A certificate is revoked by whoever issues its kind.
REVOKING_ROLES: dict[str, frozenset[Role]] = {
    CertificateKind.LICENCE: frozenset({BASE_ADMIN}),
    CertificateKind.RESIDENCY_CERTIFICATE: frozenset({BASE_ADMIN}),
    CertificateKind.DIPLOMA: frozenset({SCHOOL_ADMIN}),
    CertificateKind.DEGREE: frozenset({SCHOOL_ADMIN}),
}
# Commands a tutor may issue only in a department they tutor, and only in their own name.
DEPARTMENT_BOUND = (c.SignRotationEntry, c.RecordAssessment)


@dataclass(frozen=True)
class TraineeScope:
    """What access decisions know of one trainee: whose it is, and who tutors it where.

    `tutors` maps each tutor to the departments they tutor the trainee in; None stands
    for an appointment without a department (a first or school tutor).
    """

    trainee_id: str
    base_id: str
    university: str
    tutors: Mapping[str, frozenset[str | None]]

    def departments_of(self, tutor_id: str) -> frozenset[str | None]:
        return self.tutors.get(tutor_id, frozenset())


@dataclass(frozen=True)
class Visibility:
    """The trainees a principal may list: the union of what each of its roles binds it
    to; everyone for auditors."""

    everyone: bool = False
    trainee_id: str | None = None
    base_id: str | None = None
    university: str | None = None
    tutor_id: str | None = None


# Who may read, or manage, any webhook at all: asked before an id is looked up, so that
# nobody else learns which ids exist.
WEBHOOK_READERS = frozenset({REGISTRY, AUDITOR})
WEBHOOK_MANAGERS = frozenset({REGISTRY})
# Who reads trainees' records at all; a registry reads the event feed only.
RECORD_READERS = frozenset({TRAINEE, TUTOR, BASE_ADMIN, SCHOOL_ADMIN, AUDITOR})


def visibility(principal: Principal) -> Visibility:
    require_any(principal, RECORD_READERS, "list trainees")
    if principal.system or principal.has(AUDITOR):
        return Visibility(everyone=True)
    return Visibility(
        trainee_id=principal.subject if principal.has(TRAINEE) else None,
        base_id=principal.base_id if principal.has(BASE_ADMIN) else None,
        university=principal.university if principal.has(SCHOOL_ADMIN) else None,
        tutor_id=principal.subject if principal.has(TUTOR) else None,
    )


def may_read(principal: Principal, scope: TraineeScope) -> bool:
    return principal.has(AUDITOR) or any(
        _binds(principal, role, scope) for role in (TRAINEE, TUTOR, BASE_ADMIN, SCHOOL_ADMIN)
    )


def check_read(principal: Principal, scope: TraineeScope) -> None:
    if not may_read(principal, scope):
        raise Forbidden(f"{principal.describe()} may not read trainee {scope.trainee_id}")


def check_enrollment(principal: Principal, cmd: c.EnrollTrainee) -> None:
    if principal.system:
        return
    if principal.has(BASE_ADMIN) and principal.base_id == cmd.base_id.strip():
        return
    if principal.has(SCHOOL_ADMIN) and principal.university == cmd.university.strip():
        return
    raise Forbidden(
        f"{principal.describe()} may not enroll trainees at base {cmd.base_id!r} "
        f"of {cmd.university!r}: only that base's base_admin or that university's "
        "school_admin may"
    )


def check_command(
    principal: Principal, cmd: Any, scope: TraineeScope, department: str | None
) -> None:
    """Refuses a command the principal may not issue on this trainee.

    `department` is that of the rotation the command is about (its own, or its entry's).
    """
    if principal.system:
        return
    roles = _command_roles(cmd)
    allowed = [role for role in roles if _binds(principal, role, scope)]
    what = type(cmd).__name__
    if not allowed:
        needed = " or ".join(sorted(role.value for role in roles))
        raise Forbidden(
            f"{principal.describe()} may not {what} for trainee {scope.trainee_id}: "
            f"it takes the trainee's {needed}"
        )
    if isinstance(cmd, DEPARTMENT_BOUND) and allowed == [TUTOR]:
        _check_tutor_signs_own_department(principal, cmd, scope, department)
    _check_own_name(principal, cmd)


def check_feed(principal: Principal, base_id: str | None) -> str | None:
    """The base a principal's event feed is confined to (None: every base)."""
    return confine_to_own(principal, (REGISTRY, BASE_ADMIN), base_id, "the event feed")


def webhooks_visible_to(principal: Principal) -> str | None:
    """The base whose webhook registrations a principal may list (None: every base)."""
    return confine_to_own(principal, (REGISTRY,), None, "webhooks")


def confine_to_own(
    principal: Principal, roles: tuple[Role, ...], asked: str | None, what: str
) -> str | None:
    """Auditors see `what` of every base or university; each of `roles` only of the base
    or university it is bound to. Returns the filter to apply (None: all)."""
    if principal.system or principal.has(AUDITOR):
        return asked
    for role in roles:
        if principal.has(role):
            own = principal.university if role is SCHOOL_ADMIN else principal.base_id
            if asked is not None and asked != own:
                raise Forbidden(f"{principal.describe()} may read {what} of {own!r} only")
            return own
    needed = " or ".join(role.value for role in (AUDITOR, *roles))
    raise Forbidden(f"{principal.describe()} may not read {what}: it takes {needed}")


def check_webhooks(principal: Principal, base_id: str | None, *, write: bool) -> None:
    """Registries manage their own base's webhooks; auditors read every registration."""
    if principal.system or (not write and principal.has(AUDITOR)):
        return
    if principal.has(REGISTRY) and base_id is not None and base_id == principal.base_id:
        return
    target = "every base" if base_id is None else f"base {base_id!r}"
    raise Forbidden(
        f"{principal.describe()} may not {'manage' if write else 'read'} webhooks of "
        f"{target}: only a registry of that base may"
    )


def require_any(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.system or any(principal.has(role) for role in roles):
        return
    needed = " or ".join(sorted(role.value for role in roles))
    raise Forbidden(f"{principal.describe()} may not {what}: it takes {needed}")


def _command_roles(cmd: Any) -> frozenset[Role]:
    if isinstance(cmd, c.RevokeCertificate):
        return REVOKING_ROLES.get(cmd.kind, frozenset())
    return COMMAND_ROLES[type(cmd)]


def _binds(principal: Principal, role: Role, scope: TraineeScope) -> bool:
    """Whether the principal holds `role` for this very trainee."""
    if not principal.has(role):
        return False
    if role is TRAINEE:
        return principal.subject == scope.trainee_id
    if role is TUTOR:
        return principal.subject in scope.tutors
    if role is BASE_ADMIN:
        return principal.base_id == scope.base_id
    if role is SCHOOL_ADMIN:
        return principal.university == scope.university
    return False


def _check_tutor_signs_own_department(
    principal: Principal, cmd: Any, scope: TraineeScope, department: str | None
) -> None:
    if department is None or department not in scope.departments_of(principal.subject):
        where = "outside any rotation" if department is None else f"in {department}"
        raise Forbidden(
            f"{principal.describe()} does not tutor trainee {scope.trainee_id} {where}; "
            "a tutor signs and assesses only in their own department"
        )


def _check_own_name(principal: Principal, cmd: Any) -> None:
    named = getattr(cmd, "tutor_id", None) if isinstance(cmd, c.SignRotationEntry) else (
        getattr(cmd, "assessor_id", None) if isinstance(cmd, c.RecordAssessment) else None
    )
    if named is not None and named != principal.subject:
        raise Forbidden(
            f"{principal.describe()} may not sign or assess in the name of {named!r}"
        )


def scope_of_state(trainee_id: UUID, state: Any) -> TraineeScope:
    """The scope of a trainee aggregate's write state (see domain.trainee.Trainee)."""
    return TraineeScope(
        trainee_id=str(trainee_id),
        base_id=state.base_id,
        university=state.university,
        tutors={tutor: frozenset(departments) for tutor, departments in state.tutors.items()},
    )
