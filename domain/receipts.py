"""Receipts of commands sent with an idempotency key.

A ward tablet that records offline, or any client whose response was lost, sends the
same command again. The receipt, saved in the same transaction as the command's events,
remembers what the command did, so the retry is answered with the original result and
records nothing new. Its id is derived from the caller and the key (the key itself is not
kept); what it holds is the request's digest and where its events went.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import commands as c
from domain.errors import Conflict


class IdempotencyKeyReused(Conflict):
    """The key was used before for a different request: nothing was recorded."""

    code = "IDEMPOTENCY_KEY_REUSED"


class CommandReceiptIssued(Aggregate.Created):
    """The command sent with the key was recorded: its request's digest, the trainee it
    changed, the version its last event took, and the thing it acted on."""

    request_digest: str
    trainee_id: str
    trainee_version: int
    subject_id: str | None
    actor: str


class CommandReceipt(Aggregate):
    def __init__(
        self, request_digest: str, trainee_id: str, trainee_version: int,
        subject_id: str | None, actor: str,
    ) -> None:
        self.request_digest = request_digest
        self.trainee_id = trainee_id
        self.trainee_version = trainee_version
        self.subject_id = subject_id
        self.actor = actor

    @classmethod
    def issue(
        cls, receipt_id: UUID, request_digest: str, trainee_id: UUID, trainee_version: int,
        subject_id: UUID | None, prov: c.Provenance,
    ) -> CommandReceipt:
        return cls._create(
            CommandReceiptIssued,
            id=receipt_id,
            timestamp=prov.recorded_at,
            request_digest=request_digest,
            trainee_id=str(trainee_id),
            trainee_version=trainee_version,
            subject_id=None if subject_id is None else str(subject_id),
            actor=prov.actor,
        )

    def check_same_request(self, request_digest: str) -> None:
        """A key answers only the request it came with; another request under it is
        refused rather than answered with someone else's result."""
        if request_digest != self.request_digest:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new command"
            )
