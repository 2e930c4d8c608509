"""Tamper evidence over GraphQL: verify the log, read signed checkpoints, fetch proofs.

Hashes, keys and signatures are lowercase hex. A client checks proofs itself with any
RFC 6962 implementation (or `integrity.merkle`), against a checkpoint whose signature it
checked with the log's public key.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry

from api.errors import parse_id
from api.types import Info
from integrity.checkpoints import Checkpoint as SignedCheckpoint
from service import access, positions
from service import verification as v
from service.principals import Role


@strawberry.type(description="What verifyIntegrity found.")
class IntegrityReport:
    ok: bool
    checked: int = strawberry.field(description="Events whose hashes were recomputed.")
    first_bad_position: str | None = strawberry.field(
        description="The first log position where the store and its evidence disagree."
    )
    problem: str | None
    tree_size: int = strawberry.field(description="Events covered by the Merkle tree checked.")
    checkpoints_verified: int = strawberry.field(
        description="Signed checkpoints whose roots were rebuilt from the events and matched."
    )
    unsealed: int = strawberry.field(
        description="Events stored but not yet sealed in the ledger (the projector lags)."
    )

    @classmethod
    def of(cls, report: v.IntegrityReport) -> IntegrityReport:
        bad = report.first_bad_position
        return cls(
            ok=report.ok,
            checked=report.checked,
            first_bad_position=None if bad is None else positions.encode(bad),
            problem=report.problem,
            tree_size=report.tree_size,
            checkpoints_verified=report.checkpoints_verified,
            unsealed=report.unsealed,
        )


@strawberry.type(description="A signed tree head: the log's Merkle root at a size, signed "
                 "with the log's Ed25519 key over `note`.")
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: str
    timestamp: datetime
    key_id: str
    public_key: str
    signature: str
    note: str = strawberry.field(description="The exact text the signature covers.")

    @classmethod
    def of(cls, checkpoint: SignedCheckpoint) -> Checkpoint:
        return cls(
            origin=checkpoint.origin,
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash.hex(),
            timestamp=checkpoint.timestamp,
            key_id=checkpoint.key_id,
            public_key=checkpoint.public_key.hex(),
            signature=checkpoint.signature.hex(),
            note=checkpoint.note().decode(),
        )


@strawberry.type(description="RFC 6962 audit path of one event's leaf to a checkpoint's root.")
class InclusionProof:
    position: str
    leaf_index: int
    event_hash: str
    leaf_hash: str = strawberry.field(
        description="SHA-256(0x00 || position as 8 bytes big-endian || event hash)."
    )
    checkpoint: Checkpoint
    proof: list[str]


@strawberry.type(description="RFC 6962 proof that the later checkpoint extends the earlier.")
class ConsistencyProof:
    old: Checkpoint
    new: Checkpoint
    proof: list[str]


async def verify_integrity(info: Info, trainee_id: strawberry.ID | None = None) -> IntegrityReport:
    trainee = None if trainee_id is None else parse_id(trainee_id, "traineeId")
    if trainee is None:
        access.require_any(
            info.context.principal, frozenset({Role.AUDITOR}), "verify the whole log"
        )
    else:
        await info.context.readable_scope(trainee)
    report = await info.context.run(partial(info.context.services.evidence.verify, trainee))
    return IntegrityReport.of(report)


async def checkpoints(info: Info, first: int | None = None) -> list[Checkpoint]:
    info.context.authenticate()  # hashes only: any signed-in caller may check them
    signed = await info.context.run(info.context.services.evidence.checkpoints)
    newest_first = [Checkpoint.of(c) for c in reversed(signed)]
    return newest_first if first is None else newest_first[: max(first, 0)]


async def inclusion_proof(
    info: Info, position: str, tree_size: int | None = None
) -> InclusionProof:
    info.context.authenticate()
    found = await info.context.run(partial(
        info.context.services.evidence.inclusion,
        positions.decode(position, "position"),
        tree_size,
    ))
    return InclusionProof(
        position=positions.encode(found.leaf.position),
        leaf_index=found.leaf.leaf_index,
        event_hash=found.leaf.event_hash,
        leaf_hash=found.leaf_hash.hex(),
        checkpoint=Checkpoint.of(found.checkpoint),
        proof=[node.hex() for node in found.proof],
    )


async def consistency_proof(
    info: Info, from_size: int, to_size: int | None = None
) -> ConsistencyProof:
    info.context.authenticate()
    found = await info.context.run(partial(
        info.context.services.evidence.consistency, from_size, to_size
    ))
    return ConsistencyProof(
        old=Checkpoint.of(found.old),
        new=Checkpoint.of(found.new),
        proof=[node.hex() for node in found.proof],
    )
