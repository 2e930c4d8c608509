"""Checks the event store against the integrity ledger and the signed checkpoints.

Every stored event's hash is recomputed from its bytes and its stream's previous event,
and compared, position by position, with what the ledger sealed; the Merkle root is
rebuilt from the recomputed hashes and compared with every signed checkpoint. The first
place the two disagree is reported by its log position:

- a changed payload, topic or stream: the recomputed hash differs at that position;
- a deleted row: the ledger sealed an event at a position the store no longer has;
- swapped rows: each moved event hashes differently at its new position;
- a truncated tail: sealed events, or a signed checkpoint, reach past the store's end;
- a ledger rewritten to match a changed store: the rebuilt root differs from the signed
  checkpoint (located to the span between two checkpoints).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integrity import merkle
from integrity.checkpoints import Checkpoint, IntegrityFailure, verify_checkpoint
from integrity.hashing import GENESIS, event_hash, leaf_data, leaf_hash
from service import ledger_tables as lt
from service.ledger import Ledger

PAGE = 2000
@dataclass(frozen=True)
class IntegrityReport:
    ok: bool
    checked: int
    first_bad_position: int | None = None
    problem: str | None = None
    tree_size: int = 0
    checkpoints_verified: int = 0
    unsealed: int = 0


@dataclass
class _Stored:
    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


class LogVerifier:
    """Walks the whole log once, in position order, holding one hash per stream."""

    def __init__(self, ledger: Ledger, session: Session, events_table: sa.Table,
                 witnessed: Sequence[Checkpoint] = ()):
        """`events_table` is the event store's table, read as stored (nothing decoded: the
        hashes cover the stored bytes). `witnessed` are checkpoints an auditor kept outside
        this database: they catch a ledger rewritten together with the store, which the
        stored checkpoints cannot."""
        self.ledger = ledger
        self.session = session
        self.events_table = events_table
        self.trusted_key = ledger.signer.public_key
        self.witnessed = list(witnessed)

    def verify(self) -> IntegrityReport:
        checkpoints = sorted(
            [*self.ledger.checkpoints(self.session), *self.witnessed],
            key=lambda checkpoint: checkpoint.tree_size,
        )
        for checkpoint in checkpoints:
            problem = self._signature_problem(checkpoint)
            if problem:
                return IntegrityReport(False, 0, problem=problem)
        due = iter(checkpoints)
        next_checkpoint = next(due, None)
        verified = 0
        last_good_checkpoint_position = 0
        stream_tips: dict[str, tuple[int, bytes]] = {}
        frontier = merkle.Frontier()
        events = self._events()
        stored = next(events, None)
        last_position = 0
        for leaf in self._leaves():
            bad = self._compare(stored, leaf, stream_tips)
            if bad is not None:
                position, problem = bad
                return self._failed(frontier.size, verified, position, problem)
            assert stored is not None
            hashed = bytes.fromhex(leaf["event_hash"])
            frontier.append(leaf_hash(leaf_data(stored.position, hashed)))
            last_position = stored.position
            stored = next(events, None)
            at_this_size = 0
            while next_checkpoint is not None and next_checkpoint.tree_size == frontier.size:
                if frontier.root() != next_checkpoint.root_hash:
                    return self._failed(
                        frontier.size, verified, last_good_checkpoint_position + 1,
                        f"the log's first {frontier.size} events differ from the signed "
                        f"checkpoint of that size: the store and the ledger were both "
                        f"changed after position {last_good_checkpoint_position}",
                    )
                at_this_size += 1
                next_checkpoint = next(due, None)
            if at_this_size:
                verified += at_this_size
                last_good_checkpoint_position = last_position
        if next_checkpoint is not None:
            return self._failed(
                frontier.size, verified, last_position + 1,
                f"a signed checkpoint covers {next_checkpoint.tree_size} events but the "
                f"ledger holds {frontier.size}: the log was truncated after position "
                f"{last_position}",
            )
        unsealed = 0 if stored is None else 1 + sum(1 for _ in events)
        return IntegrityReport(True, frontier.size, tree_size=frontier.size,
                               checkpoints_verified=verified, unsealed=unsealed)

    def _compare(
        self,
        stored: _Stored | None,
        leaf: dict[str, Any],
        stream_tips: dict[str, tuple[int, bytes]],
    ) -> tuple[int, str] | None:
        position = leaf["position"]
        if stored is None:
            return position, (
                f"the event sealed at position {position} is missing from the store "
                "(deleted, or the log truncated)"
            )
        if stored.position > position:
            return position, f"the event sealed at position {position} is missing from the store"
        if stored.position < position:
            return stored.position, (
                f"the store has an event at position {stored.position} that was never sealed "
                "there (inserted or moved)"
            )
        if (stored.originator_id, stored.version) != (
            leaf["originator_id"], leaf["originator_version"]
        ):
            return position, (
                f"position {position} holds version {stored.version} of stream "
                f"{stored.originator_id}, but version {leaf['originator_version']} of stream "
                f"{leaf['originator_id']} was sealed there"
            )
        previous_version, previous = stream_tips.get(stored.originator_id, (0, GENESIS))
        if stored.version != previous_version + 1:
            return position, (
                f"stream {stored.originator_id} jumps from version {previous_version} to "
                f"{stored.version} at position {position}: an event was removed"
            )
        hashed = event_hash(previous, UUID(stored.originator_id), stored.version,
                            stored.topic, stored.state)
        if hashed.hex() != leaf["event_hash"]:
            return position, (
                f"the event at position {position} (stream {stored.originator_id}, version "
                f"{stored.version}) differs from what was sealed"
            )
        stream_tips[stored.originator_id] = (stored.version, hashed)
        return None

    def _signature_problem(self, checkpoint: Checkpoint) -> str | None:
        try:
            verify_checkpoint(checkpoint, self.trusted_key)
        except IntegrityFailure as error:
            return f"checkpoint of size {checkpoint.tree_size}: {error}"
        return None

    def _failed(self, checked: int, verified: int, position: int, problem: str) -> IntegrityReport:
        return IntegrityReport(False, checked, position, problem, checked, verified)

    def _events(self) -> Iterator[_Stored]:
        after = 0
        while True:
            rows = self.session.execute(
                sa.select(self.events_table).where(self.events_table.c.id > after)
                .order_by(self.events_table.c.id).limit(PAGE)
            ).all()
            for row in rows:
                yield _Stored(row.id, str(row.originator_id), row.originator_version,
                              row.topic, bytes(row.state))
            if len(rows) < PAGE:
                return
            after = rows[-1].id

    def _leaves(self) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            rows = self.session.execute(
                sa.select(lt.leaves).where(lt.leaves.c.leaf_index > after)
                .order_by(lt.leaves.c.leaf_index).limit(PAGE)
            ).mappings().all()
            # A hole in the ledger itself shows as a stored event that was never sealed.
            yield from (dict(row) for row in rows)
            if len(rows) < PAGE:
                return
            after = rows[-1]["leaf_index"]


def verify_stream(
    ledger: Ledger, session: Session, events_table: sa.Table, trainee_id: UUID
) -> IntegrityReport:
    """Recomputes one trainee's chain and checks it against the ledger and the latest
    signed checkpoint: the last sealed event's inclusion commits to the whole chain."""
    stream = str(trainee_id)
    stored = [
        _Stored(r.id, str(r.originator_id), r.originator_version, r.topic, bytes(r.state))
        for r in session.execute(
            sa.select(events_table)
            .where(events_table.c.originator_id == trainee_id)
            .order_by(events_table.c.originator_version)
        )
    ]
    sealed = ledger.stream_leaves(session, stream)
    previous = GENESIS
    checked = 0
    last_leaf = None
    for index, leaf in enumerate(sealed):
        event = stored[index] if index < len(stored) else None
        if event is None or event.version != leaf.originator_version:
            return IntegrityReport(False, checked, leaf.position,
                                   f"version {leaf.originator_version} of the stream, sealed "
                                   f"at position {leaf.position}, is missing from the store")
        if event.position != leaf.position:
            return IntegrityReport(False, checked, leaf.position,
                                   f"version {event.version} was sealed at position "
                                   f"{leaf.position} but is stored at {event.position}")
        hashed = event_hash(previous, trainee_id, event.version, event.topic, event.state)
        if hashed.hex() != leaf.event_hash:
            return IntegrityReport(False, checked, leaf.position,
                                   f"the event at position {leaf.position} (version "
                                   f"{event.version}) differs from what was sealed")
        previous = hashed
        checked += 1
        last_leaf = leaf
    if not stored and not sealed:
        return IntegrityReport(False, 0, problem=f"no events for trainee {trainee_id}")
    latest = ledger.latest_checkpoint(session)
    if latest is not None and last_leaf is not None:
        problem = _inclusion_problem(ledger, session, latest, last_leaf)
        if problem:
            return IntegrityReport(False, checked, last_leaf.position, problem)
    return IntegrityReport(True, checked, tree_size=latest.tree_size if latest else 0,
                           checkpoints_verified=1 if latest else 0,
                           unsealed=len(stored) - len(sealed))


def _inclusion_problem(ledger: Ledger, session: Session, checkpoint: Checkpoint,
                       leaf: Any) -> str | None:
    try:
        verify_checkpoint(checkpoint, ledger.signer.public_key)
    except IntegrityFailure as error:
        return f"checkpoint of size {checkpoint.tree_size}: {error}"
    # Find the stream's last event that the checkpoint covers.
    if leaf.leaf_index >= checkpoint.tree_size:
        covered = [
            sealed for sealed in ledger.stream_leaves(session, leaf.originator_id)
            if sealed.leaf_index < checkpoint.tree_size
        ]
        if not covered:
            return None
        leaf = covered[-1]
    proof = merkle.inclusion_proof(leaf.leaf_index, checkpoint.tree_size,
                                   ledger.fetcher(session))
    hashed = leaf_hash(leaf_data(leaf.position, bytes.fromhex(leaf.event_hash)))
    if not merkle.verify_inclusion(hashed, leaf.leaf_index, checkpoint.tree_size, proof,
                                   checkpoint.root_hash):
        return (f"the event at position {leaf.position} is not in the signed checkpoint of "
                f"size {checkpoint.tree_size}: the ledger was changed")
    return None
