"""What auditors ask of the ledger: verification, checkpoints, proofs and evidence bundles.

Every operation first seals whatever the projector has not sealed yet, so an answer
always covers every acknowledged event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from sqlalchemy.orm import Session

from domain.errors import InvalidCommand, NotFound
from integrity import merkle
from integrity.bundle import BundleEvent, bundle_document
from integrity.checkpoints import Checkpoint
from integrity.hashing import leaf_data, leaf_hash
from projections.handlers import event_data
from projections.projector import Projector
from service.ledger import Leaf, Ledger
from service.verification import IntegrityReport, LogVerifier, verify_stream


@dataclass(frozen=True)
class InclusionProof:
    leaf: Leaf
    leaf_hash: bytes
    checkpoint: Checkpoint
    proof: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    old: Checkpoint
    new: Checkpoint
    proof: list[bytes]


class Evidence:
    def __init__(self, projector: Projector, ledger: Ledger):
        self.projector = projector
        self.ledger = ledger
        self.records = projector.records

    def _session(self, work: Callable[[Session], Any], write: bool = False) -> Any:
        self.projector.catch_up()
        with self.records.recorder.datastore.transaction(commit=write) as session:
            if write:
                self.projector.serialise(session)
            return work(session)

    def verify(
        self, trainee_id: UUID | None = None, witnessed: Sequence[Checkpoint] = ()
    ) -> IntegrityReport:
        if trainee_id is None:
            return self._session(
                lambda s: LogVerifier(self.ledger, s, self.records.events_table, witnessed).verify()
            )
        return self._session(
            lambda s: verify_stream(self.ledger, s, self.records.events_table, trainee_id)
        )

    def checkpoint(self) -> Checkpoint:
        """Signs the log as it stands now (or returns the checkpoint of that size)."""
        now = self.records.clock.now()
        return self._session(lambda s: self.ledger.checkpoint(s, now), write=True)

    def checkpoints(self) -> list[Checkpoint]:
        return self._session(self.ledger.checkpoints)

    def inclusion(self, position: int, tree_size: int | None = None) -> InclusionProof:
        def prove(session: Session) -> InclusionProof:
            leaf = self.ledger.leaf_at(session, position)
            if leaf is None:
                raise NotFound(f"no sealed event at position {position}")
            checkpoint = self._checkpoint(session, tree_size)
            if leaf.leaf_index >= checkpoint.tree_size:
                raise InvalidCommand(
                    f"the event at position {position} is not covered by the checkpoint of "
                    f"size {checkpoint.tree_size}; ask for a later checkpoint"
                )
            proof = merkle.inclusion_proof(
                leaf.leaf_index, checkpoint.tree_size, self.ledger.fetcher(session)
            )
            hashed = leaf_hash(leaf_data(leaf.position, bytes.fromhex(leaf.event_hash)))
            return InclusionProof(leaf, hashed, checkpoint, proof)

        return self._session(prove)

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        def prove(session: Session) -> ConsistencyProof:
            old = self._checkpoint(session, old_size)
            new = self._checkpoint(session, new_size)
            if old.tree_size > new.tree_size:
                raise InvalidCommand(
                    f"fromSize {old.tree_size} is larger than toSize {new.tree_size}"
                )
            proof = merkle.consistency_proof(
                old.tree_size, new.tree_size, self.ledger.fetcher(session)
            )
            return ConsistencyProof(old, new, proof)

        return self._session(prove)

    def bundle(self, trainee_id: UUID) -> dict[str, Any]:
        """One trainee's events, their chain, and an inclusion proof of each in a signed
        checkpoint, as a document that verifies without any database."""
        now = self.records.clock.now()
        return self._session(lambda s: self._bundle(s, trainee_id, now), write=True)

    def _bundle(self, session: Session, trainee_id: UUID, now: Any) -> dict[str, Any]:
        leaves = self.ledger.stream_leaves(session, str(trainee_id))
        if not leaves:
            raise NotFound(f"no trainee {trainee_id}")
        checkpoint = self.ledger.latest_checkpoint(session)
        if checkpoint is None or checkpoint.tree_size <= leaves[-1].leaf_index:
            checkpoint = self.ledger.checkpoint(session, now)
        events = self.records.events_table
        stored = {
            row.id: row
            for row in session.execute(
                sa.select(events).where(events.c.originator_id == trainee_id)
            )
        }
        fetch = _remembering(self.ledger.fetcher(session))
        events = []
        for leaf in leaves:
            row = stored.get(leaf.position)
            if row is None:
                raise NotFound(
                    f"the event sealed at position {leaf.position} is missing from the store; "
                    "run `dualtrack verify`"
                )
            events.append(BundleEvent(
                position=leaf.position,
                leaf_index=leaf.leaf_index,
                originator_id=trainee_id,
                version=leaf.originator_version,
                topic=row.topic,
                state=bytes(row.state),
                event_hash=bytes.fromhex(leaf.event_hash),
                inclusion_proof=merkle.inclusion_proof(
                    leaf.leaf_index, checkpoint.tree_size, fetch
                ),
                data=self._readable(row),
            ))
        return bundle_document(trainee_id, events, checkpoint, now)

    def _readable(self, row: Any) -> dict[str, Any]:
        """The event's fields for a person to read, without personal data."""
        event = self.records.mapper.to_domain_event(StoredEvent(
            originator_id=row.originator_id, originator_version=row.originator_version,
            topic=row.topic, state=bytes(row.state),
        ))
        return {"type": type(event).__name__, **event_data(event)}

    def _checkpoint(self, session: Session, tree_size: int | None) -> Checkpoint:
        if tree_size is None:
            latest = self.ledger.latest_checkpoint(session)
            if latest is None:
                raise NotFound("no checkpoint has been signed yet; run `dualtrack checkpoint`")
            return latest
        found = self.ledger.checkpoint_at(session, tree_size)
        if found is None:
            raise NotFound(f"no signed checkpoint of size {tree_size}")
        return found


def _remembering(fetch: merkle.Fetch) -> merkle.Fetch:
    """Proofs of one stream share most upper nodes; fetch each node once."""
    known: dict[tuple[int, int], bytes] = {}

    def cached(coords: Any) -> dict[tuple[int, int], bytes]:
        missing = [coord for coord in coords if coord not in known]
        if missing:
            known.update(fetch(missing))
        return {coord: known[coord] for coord in coords}

    return cached
