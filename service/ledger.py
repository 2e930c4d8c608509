"""The integrity ledger: seals every stored event, in log order, into a hash chain per
stream and a Merkle tree over the whole log, and signs checkpoints of that tree.

Sealing runs inside the projector's batch transaction, so the ledger, the read models and
the tracking record move together. The ledger is never rebuilt: a rebuild of the read
models reads the hashes it already holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from sqlalchemy.orm import Session

from integrity import merkle
from integrity.checkpoints import Checkpoint, CheckpointSigner
from integrity.hashing import GENESIS, event_hash, leaf_data, leaf_hash
from service import ledger_tables as lt

Coord = tuple[int, int]


class LedgerBroken(Exception):
    """The event store cannot be sealed as it stands: an event is missing from a stream."""


@dataclass(frozen=True)
class Leaf:
    leaf_index: int
    position: int
    originator_id: str
    originator_version: int
    event_hash: str


@dataclass(frozen=True)
class CheckpointPolicy:
    """When to sign: after this many new events, or this long after the last checkpoint."""

    every_events: int
    every: timedelta


class Ledger:
    def __init__(
        self, signer: CheckpointSigner, origin: str, policy: CheckpointPolicy
    ) -> None:
        self.signer = signer
        self.origin = origin
        self.policy = policy

    # Sealing

    def seal(self, session: Session, notifications: Sequence[Notification]) -> dict[int, str]:
        """Seals the events not yet sealed and returns every given event's hash (hex).

        Notifications must be in log order and must follow everything already sealed
        or be already sealed themselves (a rebuild passes those again).
        """
        return self._seal(session, notifications)[0]

    def seal_and_checkpoint(
        self, session: Session, notifications: Sequence[Notification], now: datetime
    ) -> dict[int, str]:
        """`seal`, then `maybe_checkpoint`, with the tip of the tree and the latest
        checkpoint read together in one query."""
        leaves, checkpoints = lt.leaves.c, lt.checkpoints.c
        last_leaf = sa.select(leaves.leaf_index, leaves.position).order_by(
            leaves.leaf_index.desc()).limit(1).subquery()
        latest = sa.select(checkpoints.tree_size, checkpoints.signed_at).order_by(
            checkpoints.tree_size.desc()).limit(1).subquery()
        leaf_index, position, signed_size, signed_at = session.execute(sa.select(
            sa.select(last_leaf.c.leaf_index).scalar_subquery(),
            sa.select(last_leaf.c.position).scalar_subquery(),
            sa.select(latest.c.tree_size).scalar_subquery(),
            sa.select(latest.c.signed_at).scalar_subquery(),
        )).one()
        tip = (0, 0) if leaf_index is None else (leaf_index + 1, position)
        hashes, size = self._seal(session, notifications, tip)
        if signed_at is not None and signed_at.tzinfo is None:  # SQLite hands back naive UTC
            signed_at = signed_at.replace(tzinfo=UTC)
        if self._due(size, signed_size, signed_at, now):
            self.checkpoint(session, now)
        return hashes

    def _due(
        self, size: int, signed_size: int | None, signed_at: datetime | None, now: datetime
    ) -> bool:
        """Whether the policy asks for a checkpoint of the tree at `size`."""
        if size == 0 or (signed_size is not None and signed_size >= size):
            return False
        return (
            signed_size is None
            or signed_at is None
            or size - signed_size >= self.policy.every_events
            or now - signed_at >= self.policy.every
        )

    def _seal(
        self,
        session: Session,
        notifications: Sequence[Notification],
        tip: tuple[int, int] | None = None,
    ) -> tuple[dict[int, str], int]:
        """The hashes, and the number of sealed events after sealing."""
        size, last_position = tip or self.tip(session)
        known = [n.id for n in notifications if n.id <= last_position]
        hashes = self._hashes_at(session, known)
        unsealed = [position for position in known if position not in hashes]
        if unsealed:
            raise LedgerBroken(
                f"the ledger has no seal for stored position {unsealed[0]}; "
                "run `dualtrack verify`"
            )
        fresh = [n for n in notifications if n.id > last_position]
        if not fresh:
            return hashes, size
        previous = self._stream_tips(session, fresh)
        frontier = merkle.Frontier(size, self._fetch(session, merkle.Frontier.coords(size)))
        leaves: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for n in fresh:
            stream = str(n.originator_id)
            before = GENESIS if n.originator_version == 1 else previous.get(
                (stream, n.originator_version - 1)
            )
            if before is None:
                raise LedgerBroken(
                    f"event at position {n.id} is version {n.originator_version} of stream "
                    f"{stream}, but version {n.originator_version - 1} was never sealed"
                )
            hashed = event_hash(before, _uuid(n.originator_id), n.originator_version,
                                n.topic, bytes(n.state))
            previous[(stream, n.originator_version)] = hashed
            leaves.append({
                "leaf_index": frontier.size, "position": n.id, "originator_id": stream,
                "originator_version": n.originator_version, "event_hash": hashed.hex(),
            })
            for (level, idx), digest in frontier.append(leaf_hash(leaf_data(n.id, hashed))):
                nodes.append({"level": level, "idx": idx, "hash": digest.hex()})
            hashes[n.id] = hashed.hex()
        session.execute(lt.leaves.insert(), leaves)
        session.execute(lt.nodes.insert(), nodes)
        return hashes, frontier.size

    def tip(self, session: Session) -> tuple[int, int]:
        """The number of sealed events and the log position of the last one."""
        row = session.execute(
            sa.select(lt.leaves.c.leaf_index, lt.leaves.c.position)
            .order_by(lt.leaves.c.leaf_index.desc())
            .limit(1)
        ).first()
        return (0, 0) if row is None else (row.leaf_index + 1, row.position)

    def _hashes_at(self, session: Session, positions: list[int]) -> dict[int, str]:
        if not positions:
            return {}
        rows = session.execute(
            sa.select(lt.leaves.c.position, lt.leaves.c.event_hash).where(
                lt.leaves.c.position.between(min(positions), max(positions))
            )
        )
        return {position: digest for position, digest in rows}

    def _stream_tips(
        self, session: Session, fresh: Sequence[Notification]
    ) -> dict[tuple[str, int], bytes]:
        """The sealed hashes the batch's first event of each stream chains to."""
        wanted = set()
        firsts: set[str] = set()
        for n in fresh:
            stream = str(n.originator_id)
            if stream not in firsts:
                firsts.add(stream)
                if n.originator_version > 1:
                    wanted.add((stream, n.originator_version - 1))
        if not wanted:
            return {}
        c = lt.leaves.c
        rows = session.execute(
            sa.select(c.originator_id, c.originator_version, c.event_hash).where(
                sa.tuple_(c.originator_id, c.originator_version).in_(sorted(wanted))
            )
        )
        return {(stream, version): bytes.fromhex(h) for stream, version, h in rows}

    # The tree

    def fetcher(self, session: Session) -> merkle.Fetch:
        return lambda coords: self._fetch(session, coords)

    def _fetch(self, session: Session, coords: Sequence[Coord]) -> dict[Coord, bytes]:
        if not coords:
            return {}
        c = lt.nodes.c
        rows = session.execute(
            sa.select(c.level, c.idx, c.hash).where(sa.tuple_(c.level, c.idx).in_(list(coords)))
        )
        found = {(level, idx): bytes.fromhex(h) for level, idx, h in rows}
        missing = [coord for coord in coords if coord not in found]
        if missing:
            raise LedgerBroken(f"the ledger has lost tree nodes {missing[:3]}")
        return found

    def root(self, session: Session, size: int) -> bytes:
        return merkle.root(size, self.fetcher(session))

    def leaf_at(self, session: Session, position: int) -> Leaf | None:
        row = session.execute(
            sa.select(lt.leaves).where(lt.leaves.c.position == position)
        ).mappings().first()
        return None if row is None else Leaf(**row)

    def stream_leaves(self, session: Session, originator_id: str) -> list[Leaf]:
        rows = session.execute(
            sa.select(lt.leaves)
            .where(lt.leaves.c.originator_id == originator_id)
            .order_by(lt.leaves.c.originator_version)
        ).mappings()
        return [Leaf(**row) for row in rows]

    # Checkpoints

    def maybe_checkpoint(
        self, session: Session, now: datetime, size: int | None = None
    ) -> Checkpoint | None:
        """Signs a checkpoint when the policy says one is due (`size`: the number of sealed
        events, when the caller just read it)."""
        if size is None:
            size, _ = self.tip(session)
        latest = self.latest_checkpoint(session)
        due = self._due(size, latest and latest.tree_size, latest and latest.timestamp, now)
        return self.checkpoint(session, now) if due else None

    def checkpoint(self, session: Session, now: datetime) -> Checkpoint:
        """Signs the tree as it stands (or returns the checkpoint already signed at its size)."""
        size, _ = self.tip(session)
        latest = self.latest_checkpoint(session)
        if latest is not None and latest.tree_size == size:
            return latest
        signed = self.signer.sign(self.origin, size, self.root(session, size), now)
        session.execute(lt.checkpoints.insert().values(**_checkpoint_row(signed)))
        return signed

    def latest_checkpoint(self, session: Session) -> Checkpoint | None:
        row = session.execute(
            sa.select(lt.checkpoints).order_by(lt.checkpoints.c.tree_size.desc()).limit(1)
        ).mappings().first()
        return None if row is None else checkpoint_of(row)

    def checkpoints(self, session: Session, limit: int | None = None) -> list[Checkpoint]:
        statement = sa.select(lt.checkpoints).order_by(lt.checkpoints.c.tree_size)
        if limit is not None:
            statement = statement.limit(limit)
        return [checkpoint_of(row) for row in session.execute(statement).mappings()]

    def checkpoint_at(self, session: Session, tree_size: int) -> Checkpoint | None:
        row = session.execute(
            sa.select(lt.checkpoints).where(lt.checkpoints.c.tree_size == tree_size)
        ).mappings().first()
        return None if row is None else checkpoint_of(row)


def checkpoint_of(row: Mapping[str, Any]) -> Checkpoint:
    signed_at = row["signed_at"]
    if signed_at.tzinfo is None:  # SQLite hands back naive UTC
        signed_at = signed_at.replace(tzinfo=UTC)
    return Checkpoint(
        origin=row["origin"],
        tree_size=row["tree_size"],
        root_hash=bytes.fromhex(row["root_hash"]),
        timestamp=signed_at,
        key_id=row["key_id"],
        public_key=bytes.fromhex(row["public_key"]),
        signature=bytes.fromhex(row["signature"]),
    )


def _checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "tree_size": checkpoint.tree_size,
        "origin": checkpoint.origin,
        "root_hash": checkpoint.root_hash.hex(),
        "signed_at": checkpoint.timestamp,
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key.hex(),
        "signature": checkpoint.signature.hex(),
    }


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
