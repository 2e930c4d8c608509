"""The event-sourced application: load the trainee, decide, save; retried on conflict."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import StoredEvent, Transcoder

from domain import commands as c
from domain import events as e
from domain.errors import Conflict, NotFound
from domain.forms import AssessmentForm
from domain.receipts import CommandReceipt
from domain.regulations import Regime, Regulations
from domain.trainee import NationalIdClaim, Trainee
from service import access, personal_data
from service.appender import EventAppender
from service.bulk_encoding import EventEncoder
from service.clock import Clock
from service.group_commit import DecideAgain, GroupCommitter, Report, Work
from service.idempotency import Idempotency
from service.principals import Principal
from service.settings import Settings
from service.transcodings import DateAsISO

NAMESPACE = uuid5(NAMESPACE_URL, "https://dualtrack.invalid/ids")

# Each command names the decision that handles it; the decision triggers the events.
DECISIONS: dict[type, Callable[..., None]] = {
    c.AssignTutor: Trainee.decide_assign_tutor,
    c.ScheduleRotation: Trainee.decide_schedule_rotation,
    c.CompleteRotation: Trainee.decide_complete_rotation,
    c.RecordRotationEntry: Trainee.decide_record_entry,
    c.SignRotationEntry: Trainee.decide_sign_entry,
    c.RetractRotationEntry: Trainee.decide_retract_entry,
    c.CorrectRotationEntry: Trainee.decide_correct_entry,
    c.RecordAssessment: Trainee.decide_record_assessment,
    c.RecordEthicsViolation: Trainee.decide_record_ethics_violation,
    c.GrantLicence: Trainee.decide_grant_licence,
    c.IssueResidencyCertificate: Trainee.decide_issue_residency_certificate,
    c.RecordPublication: Trainee.decide_record_publication,
    c.RecordCoursework: Trainee.decide_record_coursework,
    c.RecordThesisDefense: Trainee.decide_record_thesis_defense,
    c.IssueDiploma: Trainee.decide_issue_diploma,
    c.AwardDegree: Trainee.decide_award_degree,
    c.RecordLicensingExam: Trainee.decide_record_licensing_exam,
    c.RecordNationalExam: Trainee.decide_record_national_exam,
    c.RevokeCertificate: Trainee.decide_revoke_certificate,
}
# Decisions that apply the regulations, and so are handed the trainee's regime.
RULED_COMMANDS = frozenset(
    {
        c.AssignTutor,
        c.ScheduleRotation,
        c.RecordAssessment,
        c.GrantLicence,
        c.RecordLicensingExam,
        c.IssueResidencyCertificate,
        c.IssueDiploma,
        c.AwardDegree,
    }
)

# The id of the thing a command created or acted on, reported back to the caller; an
# entry names its rotation too, so the entry's own id is looked for first.
SUBJECT_ID_FIELDS = ("entry_id", "assessment_id", "violation_id", "publication_id", "rotation_id")


@dataclass(frozen=True)
class Outcome:
    """What a saved command reports: its last event's log position and what it acted on."""

    notification_id: int
    trainee_id: UUID
    subject_id: UUID | None


def national_id_claim_id(lookup_key: bytes, national_id: str) -> UUID:
    """Keyed, so the claim's id tells nothing about the ID to whoever lacks the key."""
    digest = personal_data.national_id_digest(lookup_key, national_id)
    return uuid5(NAMESPACE, f"national-id:{digest}")


def event_id(originator_id: UUID, version: int) -> UUID:
    """A stable id for one stored event, the same wherever and whenever it is read."""
    return uuid5(NAMESPACE, f"event:{originator_id}:{version}")


class TraineeRecords(Application[UUID]):
    name = "DualTrack"

    def __init__(
        self,
        settings: Settings,
        forms: dict[str, AssessmentForm],
        regulations: Regulations,
        clock: Clock,
        env: dict[str, str] | None = None,
    ):
        self.settings = settings
        self.forms = forms
        self.regulations = regulations
        self.clock = clock
        self.snapshotting_intervals = {Trainee: settings.snapshot_interval}  # type: ignore[misc]
        super().__init__(env=library_env(settings) | (env or {}))

    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def provenance(self, principal: Principal) -> c.Provenance:
        recorded_at = self.clock.now()
        return c.Provenance(
            actor=principal.actor,
            recorded_at=recorded_at,
            today=recorded_at.astimezone(self.settings.zone).date(),
        )

    def enroll(
        self, cmd: c.EnrollTrainee, principal: Principal, idempotency: Idempotency | None = None
    ) -> Outcome:
        """Enrolls a trainee and claims its national ID, both or neither."""
        access.check_enrollment(principal, cmd)
        claim_id = self.national_id_claim_id(cmd.national_id)

        def decide(work: Work) -> Report[Outcome]:
            earlier = self._earlier_outcome(work, principal, idempotency)
            if earlier is not None:
                return lambda _: earlier
            if work.exists(claim_id) or work.exists(cmd.trainee_id):
                raise Conflict("a trainee with this national ID is already enrolled")
            prov = self.provenance(principal)
            regime = self.regulations.at_enrollment(
                cmd.specialty, cmd.jurisdiction or self.settings.jurisdiction, cmd.enrolled_on
            )
            trainee = Trainee.enroll(cmd, regime, prov)
            work.create(trainee, NationalIdClaim.claim(claim_id, trainee.id, prov))
            version = trainee.version
            self._issue_receipt(work, principal, idempotency, trainee.id, version, trainee.id, prov)
            return lambda position_of: Outcome(
                position_of(trainee.id, version), trainee.id, trainee.id
            )

        return self.committer.submit(decide)

    def execute(
        self, cmd: Any, principal: Principal, idempotency: Idempotency | None = None
    ) -> Outcome:
        """Decides a command against the trainee's current state and saves its events,
        if the principal may issue it on this trainee (service.access).

        Commands of concurrent callers are committed together (service.group_commit). A
        concurrent writer to the same trainee elsewhere makes the command be decided
        again on the new state, a bounded number of times, before it is reported as a
        Conflict rather than ever being dropped.

        With an idempotency key, a command already recorded under it is answered with
        its original outcome and decided no more (service.idempotency).
        """
        decide = DECISIONS[type(cmd)]

        def decide_on(work: Work) -> Report[Outcome]:
            earlier = self._earlier_outcome(work, principal, idempotency)
            if earlier is not None:
                return lambda _: earlier
            trainee = work.get(cmd.trainee_id)
            if not isinstance(trainee, Trainee):
                raise NotFound(f"no trainee {cmd.trainee_id}")
            access.check_command(
                principal, cmd, access.scope_of_state(trainee.id, trainee),
                _department_of(cmd, trainee),
            )
            prov = self.provenance(principal)
            decide(trainee, cmd, *self._decision_inputs(cmd, trainee), prov)
            # Later commands of the batch may add to this trainee: report this one's event.
            version = trainee.version
            subject_id = _subject_id(cmd)
            self._issue_receipt(work, principal, idempotency, trainee.id, version, subject_id, prov)
            return lambda position_of: Outcome(
                position_of(trainee.id, version), trainee.id, subject_id
            )

        return self.committer.submit(decide_on)

    def _earlier_outcome(
        self, work: Work, principal: Principal, idempotency: Idempotency | None
    ) -> Outcome | None:
        """The outcome of the command recorded before under the same key, if any."""
        if idempotency is None:
            return None
        receipt_id = idempotency.receipt_id(principal.actor)
        if work.created_in_this_round(receipt_id):
            raise DecideAgain  # the same key twice in one batch: answer once it commits
        receipt = work.get(receipt_id)
        if receipt is None:
            return None
        assert isinstance(receipt, CommandReceipt)
        receipt.check_same_request(idempotency.request_digest)
        trainee_id = UUID(receipt.trainee_id)
        return Outcome(
            self._position_of_stored(trainee_id, receipt.trainee_version),
            trainee_id,
            None if receipt.subject_id is None else UUID(receipt.subject_id),
        )

    @staticmethod
    def _issue_receipt(
        work: Work, principal: Principal, idempotency: Idempotency | None,
        trainee_id: UUID, version: int, subject_id: UUID | None, prov: c.Provenance,
    ) -> None:
        """Saved with the command's events (they change the same round's streams, so they
        are written together or not at all)."""
        if idempotency is None:
            return
        work.create(CommandReceipt.issue(
            idempotency.receipt_id(principal.actor), idempotency.request_digest,
            trainee_id, version, subject_id, prov,
        ))

    def _position_of_stored(self, stream: UUID, version: int) -> int:
        table = self.events_table
        with self.recorder.datastore.engine.connect() as connection:
            position = connection.execute(
                sa.select(table.c.id).where(
                    table.c.originator_id == stream, table.c.originator_version == version
                )
            ).scalar_one()
        return int(position)

    @functools.cached_property
    def committer(self) -> GroupCommitter[Outcome]:
        return GroupCommitter(
            EventAppender.of(self, self.settings),
            load=self._load_from_store,
            exists=self._exists,
            encode=self._encode,
            snapshot=self._snapshot,
            snapshot_interval=self.settings.snapshot_interval,
            attempts=self.settings.command_attempts,
            cache_size=self.settings.write_cache_trainees,
        )

    def close(self) -> None:
        # The appender holds a connection of its own, which disposing the pool misses.
        if "committer" in self.__dict__:
            self.committer.appender.close()
        super().close()

    def _load_from_store(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    @functools.cached_property
    def _encoder(self) -> EventEncoder:
        # The library's exact bytes, written faster (used by one leader at a time).
        return EventEncoder(self.mapper)

    def _encode(self, event: Any) -> StoredEvent:
        version, topic, state = self._encoder(event)
        return StoredEvent(event.originator_id, version, topic, state)

    def _snapshot(self, aggregate: Any) -> Any:
        snapshot = type(aggregate).Snapshot.take(aggregate)
        return self.mapper.to_stored_event(snapshot)

    def get_trainee(self, trainee_id: UUID) -> Trainee:
        try:
            trainee = self.repository.get(trainee_id)
        except AggregateNotFoundError:
            raise NotFound(f"no trainee {trainee_id}") from None
        if not isinstance(trainee, Trainee):
            raise NotFound(f"no trainee {trainee_id}")
        return trainee

    def regime_of(self, trainee: Trainee) -> Regime:
        return self.regulations.recorded(
            trainee.standard_id,
            trainee.policy_id,
            specialty=trainee.specialty,
            jurisdiction=self.settings.jurisdiction,
            enrolled_on=trainee.enrolled_on,
        )

    def regime_of_row(self, row: Any) -> Regime:
        """The same lookup for a trainee's read-model row (live or replayed)."""
        return self.regulations.recorded(
            row["standard_id"],
            row["policy_id"],
            specialty=row["specialty"],
            jurisdiction=self.settings.jurisdiction,
            enrolled_on=row["enrolled_on"],
        )

    @property
    def events_table(self) -> sa.Table:
        """The library's event table, read directly where stored bytes are wanted as they
        are (hashing, replay) rather than decoded."""
        return self.recorder.events_record_cls.__table__  # type: ignore[attr-defined,no-any-return]

    def _decision_inputs(self, cmd: Any, trainee: Trainee) -> tuple[Any, ...]:
        inputs: tuple[Any, ...] = ()
        if isinstance(cmd, c.RecordAssessment):
            inputs += (self.forms.get(cmd.kind),)
        if type(cmd) in RULED_COMMANDS:
            inputs += (self.regime_of(trainee),)
        return inputs

    def _exists(self, aggregate_id: UUID) -> bool:
        return any(True for _ in self.events.get(aggregate_id, lte=1, limit=1))

    @functools.cached_property
    def lookup_key(self) -> bytes:
        # From the key the library resolved, so lookups follow whatever key encrypts.
        return personal_data.lookup_key(self.env.get("CIPHER_KEY", ""))

    def national_id_claim_id(self, national_id: str) -> UUID:
        return national_id_claim_id(self.lookup_key, national_id)

    def find_by_national_id(self, national_id: str) -> UUID | None:
        # The claim's one event names the trainee (the aggregate keeps nothing).
        claim_id = self.national_id_claim_id(national_id)
        claimed = next(iter(self.events.get(claim_id, lte=1, limit=1)), None)
        return UUID(claimed.trainee_id) if isinstance(claimed, e.NationalIdClaimed) else None

    def personal_fields(self, trainee_id: UUID) -> dict[str, str]:
        """The personal fields kept only in the encrypted enrollment event (corrections
        never change them), for callers entitled to see them."""
        enrolled = next(iter(self.events.get(trainee_id, lte=1, limit=1)), None)
        if not isinstance(enrolled, e.TraineeEnrolled):
            raise NotFound(f"no trainee {trainee_id}")
        # Named as the event names them, like the rest of the feed's `data`.
        return {"name": enrolled.name, "national_id": enrolled.national_id}


def _department_of(cmd: Any, trainee: Trainee) -> str | None:
    """The department of the rotation a command is about, directly or through its entry;
    None when it names no rotation the record knows (the decision then refuses it)."""
    rotation_id = getattr(cmd, "rotation_id", None)
    entry = trainee.entries.get(str(getattr(cmd, "entry_id", None)))
    if entry is not None:
        rotation_id = entry["rotation_id"]
    rotation = trainee.rotations.get(str(rotation_id)) if rotation_id is not None else None
    return None if rotation is None else str(rotation["department"])


def _subject_id(cmd: Any) -> UUID | None:
    for name in SUBJECT_ID_FIELDS:
        if hasattr(cmd, name):
            return getattr(cmd, name)
    return None


def library_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's own settings, derived from ours.

    Alembic owns every table, so the library is told never to create one.
    """
    return {
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
        "SQLALCHEMY_URL": settings.database_url,
        "CREATE_TABLE": "no",
        "IS_SNAPSHOTTING_ENABLED": "y",
        # Every stored event and snapshot is encrypted: it holds personal data.
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": personal_data.cipher_key(settings),
        # No library cache: commands decide on the group committer's write cache, which
        # needs no copy per load (service.group_commit); other loads read the store.
    }
