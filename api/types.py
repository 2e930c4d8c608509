"""The GraphQL types of the contract, resolved from read-model rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.context import Context
from domain import rules, values
from domain.errors import InvalidCommand
from domain.regulations import Regime
from service import positions

Pathway = strawberry.enum(values.Pathway)
DegreeCategory = strawberry.enum(values.DegreeCategory)
CertificateKind = strawberry.enum(values.CertificateKind)
CertificateState = strawberry.enum(values.CertificateState)
TutorRole = strawberry.enum(values.TutorRole)
EntryKind = strawberry.enum(values.EntryKind)
AssessmentKind = strawberry.enum(values.AssessmentKind)
NationalExam = strawberry.enum(values.NationalExam)

Info = strawberry.Info[Context, None]
Row = dict[str, Any]


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@strawberry.type
class TutorAssignment:
    tutor_id: strawberry.ID
    role: TutorRole
    department: str | None
    assigned_on: date

    @classmethod
    def of(cls, row: Row) -> TutorAssignment:
        return cls(
            tutor_id=strawberry.ID(row["tutor_id"]),
            role=values.TutorRole(row["role"]),
            department=row["department"],
            assigned_on=row["assigned_on"],
        )


# A handbook holds thousands of entries: their kinds are looked up, not constructed.
ENTRY_KINDS = {kind.value: kind for kind in values.EntryKind}


@strawberry.type
class RotationEntry:
    id: strawberry.ID
    kind: EntryKind
    occurred_on: date
    description: str
    signed_by: strawberry.ID | None
    late: bool
    retracted: bool

    @classmethod
    def of(cls, row: Row) -> RotationEntry:
        return cls(
            id=strawberry.ID(row["id"]),
            kind=ENTRY_KINDS[row["kind"]],
            occurred_on=row["occurred_on"],
            description=row["description"],
            signed_by=row["signed_by"],
            late=row["late"],
            retracted=row["retracted"],
        )


@strawberry.type
class Rotation:
    id: strawberry.ID
    department: str
    stage: int
    start_on: date
    end_on: date
    completed: bool
    tutor_id: strawberry.ID | None
    source: strawberry.Private[Any] = None  # see rows_of

    @strawberry.field
    async def entries(self, info: Info) -> list[RotationEntry]:
        rows = await rows_of(info, self.source).entries.load(str(self.id))
        return [RotationEntry.of(row) for row in rows]

    @classmethod
    def of(cls, row: Row, source: Any = None) -> Rotation:
        return cls(
            id=strawberry.ID(row["id"]),
            department=row["department"],
            stage=row["stage"],
            start_on=row["start_on"],
            end_on=row["end_on"],
            completed=row["completed_on"] is not None,
            tutor_id=row["tutor_id"],
            source=source,
        )


@strawberry.type
class Assessment:
    id: strawberry.ID
    kind: AssessmentKind
    occurred_on: date
    assessor_id: strawberry.ID | None
    rotation_id: strawberry.ID | None
    overall: int | None
    passed: bool
    ratings: JSON | None

    @classmethod
    def of(cls, row: Row) -> Assessment:
        return cls(
            id=strawberry.ID(row["id"]),
            kind=values.AssessmentKind(row["kind"]),
            occurred_on=row["occurred_on"],
            assessor_id=row["assessor_id"],
            rotation_id=row["rotation_id"],
            overall=row["overall"],
            passed=row["passed"],
            ratings=row["ratings"],
        )


@strawberry.type
class Handbook:
    row: strawberry.Private[Row]
    source: strawberry.Private[Any] = None  # see rows_of

    @strawberry.field
    async def rotations(self, info: Info) -> list[Rotation]:
        rows = await rows_of(info, self.source).rotations.load(self.row["id"])
        return [Rotation.of(r, self.source) for r in rows]

    @strawberry.field
    async def assessments(self, info: Info) -> list[Assessment]:
        rows = await rows_of(info, self.source).assessments.load(self.row["id"])
        return [Assessment.of(r) for r in rows]

    @strawberry.field
    def clinical_months(self) -> float:
        return float(self.row["clinical_months"])

    @strawberry.field(description="Prior training credited toward the total (R5), for the "
                      "levels (R3) the trainee's policy credits it to.")
    def credited_prior_months(self) -> float:
        return float(self.row["credited_prior_months"])

    @strawberry.field
    def resident_duty_months(self) -> float:
        return float(self.row["resident_duty_months"])

    @strawberry.field
    def complete(self) -> bool:
        return bool(self.row["handbook_complete"])

    @strawberry.field(
        description="Human-readable reasons the handbook is not complete, each starting "
        "with its rule id, e.g. 'R8: ...'."
    )
    def missing(self) -> list[str]:
        return list(self.row["handbook_missing"])


@strawberry.type
class CertificateStatus:
    kind: CertificateKind
    state: CertificateState
    number: str | None
    granted_on: date | None
    unmet: list[str] = strawberry.field(
        description="Unmet conditions, each starting with its rule id, e.g. "
        "'R9: no licence held'."
    )
    revocation_reason: str | None = None

    @classmethod
    def of(cls, row: Row) -> CertificateStatus:
        return cls(
            kind=values.CertificateKind(row["kind"]),
            state=values.CertificateState(row["state"]),
            number=row["number"],
            granted_on=row["granted_on"],
            unmet=list(row["unmet"]),
            revocation_reason=row["revocation_reason"],
        )


@strawberry.type(description="Whether a step is open to the trainee, and if not, why not.")
class Eligibility:
    eligible: bool
    unmet: list[str] = strawberry.field(
        description="Unmet conditions, each starting with its rule id."
    )


@strawberry.type(description="A version of a specialty's training standard.")
class TrainingStandard:
    id: strawberry.ID
    specialty: str
    version: str
    effective_from: date
    total_months: float
    illustrative: bool = strawberry.field(
        description="True where the numbers are not from a published standard."
    )
    source: str


@strawberry.type(description="A version of a jurisdiction's policy (see README, Regulations).")
class Policy:
    id: strawberry.ID
    jurisdiction: str
    version: str
    effective_from: date
    title: str


@strawberry.type
class Event:
    position: str
    id: strawberry.ID
    type: str
    trainee_id: strawberry.ID | None
    version: int
    occurred_on: date | None
    recorded_at: datetime
    actor: str | None
    data: JSON
    hash: str = strawberry.field(
        description="SHA-256 (hex) over the stored event and the hash of the previous event "
        "of its stream; see verifyIntegrity and the README's Auditors section."
    )
    lag_days: int | None = strawberry.field(
        default=None,
        description="Days from occurredOn (business date) to recordedAt, in the service's zone.",
    )
    late: bool = strawberry.field(
        default=False,
        description="Recorded more than the timely window (DUALTRACK_LATE_ENTRY_DAYS) after "
        "it occurred.",
    )
    backdated: bool = strawberry.field(
        default=False,
        description="Dated before a fact that was already on the trainee's record when it "
        "was recorded.",
    )
    corrects: str | None = strawberry.field(
        default=None, description="The position of the event this retraction or correction "
        "corrects."
    )
    corrected_by: list[str] = strawberry.field(
        default_factory=list,
        description="The positions of the retractions and corrections of this event.",
    )

    @classmethod
    def of(cls, row: Row) -> Event:
        corrects = row.get("corrects_position")
        return cls(
            position=positions.encode(row["position"]),
            id=strawberry.ID(row["event_id"]),
            type=row["type"],
            trainee_id=row["trainee_id"],
            version=row["version"],
            occurred_on=row["occurred_on"],
            recorded_at=utc(row["recorded_at"]),
            actor=row["actor"],
            data=row["data"],
            hash=row["hash"],
            lag_days=row.get("lag_days"),
            late=bool(row.get("late")),
            backdated=bool(row.get("backdated")),
            corrects=None if corrects is None else positions.encode(corrects),
            corrected_by=[positions.encode(p) for p in row.get("corrected_by") or []],
        )


@strawberry.type
class EventConnection:
    items: list[Event]
    next_cursor: str | None
    has_more: bool


@strawberry.type(description="One version of a trainee's record: the event that made it.")
class TraineeVersion:
    version: int
    position: str
    type: str
    occurred_on: date | None
    recorded_at: datetime
    actor: str | None

    @classmethod
    def of(cls, row: Row) -> TraineeVersion:
        return cls(
            version=row["version"],
            position=positions.encode(row["position"]),
            type=row["type"],
            occurred_on=row["occurred_on"],
            recorded_at=utc(row["recorded_at"]),
            actor=row["actor"],
        )


def rows_of(info: Info, source: Any) -> Any:
    """Where a trainee's child rows come from: the request's DataLoaders over the read
    models (source None), or a replayed view's rows (api.as_of.ViewRows), which answers
    the same `load(key)` calls."""
    return info.context if source is None else source


@strawberry.type
class Trainee:
    row: strawberry.Private[Row]
    source: strawberry.Private[Any] = None  # see rows_of

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row["id"])

    @strawberry.field
    def name(self) -> str:
        return str(self.row["name"])

    @strawberry.field
    def pathway(self) -> Pathway:
        return values.Pathway(self.row["pathway"])

    @strawberry.field
    def degree_category(self) -> DegreeCategory:
        return values.DegreeCategory(self.row["degree_category"])

    @strawberry.field
    def licensed_at_enrollment(self) -> bool:
        return bool(self.row["licensed_at_enrollment"])

    @strawberry.field
    def specialty(self) -> str:
        return str(self.row["specialty"])

    @strawberry.field
    def base_id(self) -> strawberry.ID:
        return strawberry.ID(self.row["base_id"])

    @strawberry.field
    def university(self) -> str:
        return str(self.row["university"])

    @strawberry.field
    def cohort(self) -> int:
        return int(self.row["cohort"])

    @strawberry.field
    def enrolled_on(self) -> date:
        return self.row["enrolled_on"]  # type: ignore[no-any-return]

    @strawberry.field(
        description="1 or 2 while in clinical training (rule R4); 3 once the required "
        "clinical training is complete."
    )
    def stage(self) -> int:
        return int(self.row["stage"])

    @strawberry.field
    def version(self) -> int:
        return int(self.row["version"])

    @strawberry.field(description="R3: 2 if licensed at enrollment, else 1.")
    def level(self) -> int:
        return rules.level(bool(self.row["licensed_at_enrollment"]))

    @strawberry.field(description="The standard version in force at enrollment.")
    def standard(self, info: Info) -> TrainingStandard | None:
        regime = _regime(info, self.row)
        if regime is None:
            return None
        s = regime.standard
        return TrainingStandard(
            id=strawberry.ID(s.id), specialty=s.specialty, version=s.version,
            effective_from=s.effective_from, total_months=s.total_months,
            illustrative=s.illustrative, source=s.source,
        )

    @strawberry.field(description="The jurisdiction's policy version in force at enrollment.")
    def policy(self, info: Info) -> Policy | None:
        regime = _regime(info, self.row)
        if regime is None:
            return None
        p = regime.policy
        return Policy(
            id=strawberry.ID(p.id), jurisdiction=p.jurisdiction, version=p.version,
            effective_from=p.effective_from, title=p.title,
        )

    @strawberry.field(description="R9: may the trainee sit the completion exam?")
    def completion_exam(self) -> Eligibility:
        unmet = list(self.row["completion_exam_unmet"])
        return Eligibility(eligible=not unmet, unmet=unmet)

    @strawberry.field
    async def tutors(self, info: Info) -> list[TutorAssignment]:
        rows = await rows_of(info, self.source).tutors.load(self.row["id"])
        return [TutorAssignment.of(r) for r in rows]

    @strawberry.field
    def handbook(self) -> Handbook:
        return Handbook(row=self.row, source=self.source)

    @strawberry.field
    async def certificates(self, info: Info) -> list[CertificateStatus]:
        rows = await rows_of(info, self.source).certificates.load(self.row["id"])
        order = [kind.value for kind in values.CertificateKind]
        return [CertificateStatus.of(r) for r in sorted(rows, key=lambda r: order.index(r["kind"]))]

    @strawberry.field
    async def audit_trail(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> EventConnection:
        from api.queries import event_page

        if self.source is not None:
            return self.source.event_page(after=after, first=first)  # type: ignore[no-any-return]
        return await event_page(info, after=after, first=first, trainee_id=self.row["id"])

    @strawberry.field(description="Every version of the record, oldest first: the event that "
                      "made it, when it happened and was recorded, and by whom.")
    async def versions(self, info: Info) -> list[TraineeVersion]:
        rows = await rows_of(info, self.source).versions.load(self.row["id"])
        return [TraineeVersion.of(r) for r in rows]


def _regime(info: Info, row: Row) -> Regime | None:
    try:
        return info.context.services.projector.regime_of(row)
    except (InvalidCommand, LookupError):
        return None


@strawberry.type
class TraineeConnection:
    items: list[Trainee]
    next_cursor: str | None
    has_more: bool


@strawberry.type(
    description="Every mutation returns the position of its last event, so a client can "
    "read its own write."
)
class CommandResult:
    position: str
    trainee_id: strawberry.ID
    id: strawberry.ID | None
