"""Persisted snapshots of the as-of replay, so that a cold replay of a long record decodes
and applies only the events after the last snapshot below the moment asked.

A snapshot is one segment of a trainee's replay: what the live handlers changed in the
read-model rows of its scratch database from `base_version` to `version` of the stream
(rows by SQLite rowid, as stored, so a replay from snapshots builds the very database a
replay from the events builds), and the recorded time of each event in between, so that
an as-of cut needs no decoding of the events the snapshots cover. Segments chain from
version 0; loading a chain and applying the events after it gives the state at any
version. Storing changes rather than whole images keeps the disk cost linear in the
length of the record.

Snapshots are derived data and are never trusted. Each part is encrypted with AES-GCM
under a key derived from the event cipher's key (so a trainee's name stays confidential
and nobody without the key can forge or edit one), with associated data binding it to
the trainee id, both versions, the chained event hash at `version` and the format. A
replay recomputes the chained hashes from the stored bytes of the events and uses a
snapshot only if its hash is the one recomputed at its version. One that fails any check
is logged, counted in `counts`, and ignored: the replay falls back to the events.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from projections import snapshot_rows
from projections import tables as t

__all__ = ["Header", "Rejected", "Snapshots", "counts", "view_snapshots"]

# Bump whenever projections.handlers change which rows an event makes: snapshots of an
# older format are then ignored (and replaced as replays pass their versions again).
PROJECTION_FORMAT = 1

logger = logging.getLogger("dualtrack.view_snapshots")

metadata = sa.MetaData()

# Created by migration 0006.
view_snapshots = sa.Table(
    "view_snapshots",
    metadata,
    sa.Column("trainee_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("format", sa.String(64), nullable=False),
    sa.Column("event_hash", sa.String(64), nullable=False),
    sa.Column("timeline", sa.LargeBinary, nullable=False),
    sa.Column("delta", sa.LargeBinary, nullable=False),
    sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
)

# What snapshots did in this process: "used", "written", "rejected", and "rejected: <why>".
counts: Counter[str] = Counter()
_counts_lock = threading.Lock()

KEY_INFO = b"dualtrack view snapshots"
NONCE_BYTES = 12
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def count(what: str, n: int = 1) -> None:
    with _counts_lock:
        counts[what] += n


def micros(moment: datetime) -> int:
    """A recorded time as whole microseconds since the epoch (exact, and cheap to store)."""
    return (moment - EPOCH) // MICROSECOND


class Rejected(Exception):
    """A snapshot failed a check: `kind` names which (format, hash, authentication,
    malformed, gone); the message says more, and holds no personal data."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Discontinuous(Exception):
    """A snapshot that does not continue the chain (made with another interval, say):
    not a candidate, so not a failure."""


@dataclass(frozen=True)
class Header:
    """What a snapshot is bound to; stored in clear beside it and authenticated with it."""

    trainee_id: UUID
    version: int
    base_version: int
    format: str
    event_hash: str  # the chained hash (hex) of the stream's event at `version`

    def associated_data(self, part: bytes) -> bytes:
        """Every field length-prefixed, so no two headers (or parts) share an encoding."""
        fields = (b"dualtrack/view-snapshot/v1", part, self.trainee_id.bytes,
                  self.version.to_bytes(8, "big"), self.base_version.to_bytes(8, "big"),
                  self.format.encode(), bytes.fromhex(self.event_hash))
        return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


def projection_format(late_after: timedelta, zone: Any) -> str:
    """Which handlers and settings made a snapshot: the format number, every scratch
    table's columns and types, and the settings the handlers read (R8's window, the
    zone), so a snapshot made under other ones is never taken for a current one."""
    shape = [(table.name, [(column.name, repr(column.type)) for column in table.columns])
             for table in t.metadata.sorted_tables]
    digest = hashlib.sha256(
        json.dumps([PROJECTION_FORMAT, shape, late_after.total_seconds(), str(zone)]).encode()
    ).hexdigest()
    return f"{PROJECTION_FORMAT}:{digest[:32]}"


# ---------------------------------------------------------------------------------------
# Sealing: AES-GCM under a key of its own, bound to the header


def snapshot_key(cipher_key: str) -> bytes:
    """Derived from the event cipher's key, so there is still one secret to keep, and a
    snapshot can never pass for an event nor an event for a snapshot."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
        base64.b64decode(cipher_key)
    )


class Sealer:
    def __init__(self, key: bytes):
        self.aead = AESGCM(key)

    def seal(self, header: Header, part: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, plaintext, header.associated_data(part))

    def open(self, header: Header, part: bytes, sealed: bytes) -> bytes:
        try:
            return self.aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                     header.associated_data(part))
        except (InvalidTag, ValueError):
            raise Rejected("authentication", f"its {part.decode()} fails authentication "
                           "(altered, or moved from another trainee or version)") from None


TIMELINE, DELTA = b"timeline", b"delta"


# ---------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Stored:
    header: Header
    timeline: bytes


@dataclass(frozen=True)
class Written:
    """A snapshot to store: its header, its events' recorded times, its row changes
    (snapshot_rows.encode_changes)."""

    header: Header
    recorded: list[int]
    changes: bytes


class Snapshots:
    """One application's view snapshots: read, checked, written."""

    def __init__(self, engine: sa.Engine, cipher_key: str, late_after: timedelta, zone: Any):
        self.engine = engine
        self.sealer = Sealer(snapshot_key(cipher_key))
        self.format = projection_format(late_after, zone)

    def headed(self, trainee_id: UUID) -> list[Stored]:
        """The trainee's snapshots with their (still sealed) timelines, by version."""
        s = view_snapshots.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(s.version, s.base_version, s.format, s.event_hash, s.timeline)
                .where(s.trainee_id == str(trainee_id)).order_by(s.version)
            ).all()
        return [Stored(Header(trainee_id, version, base, fmt, event_hash), bytes(timeline))
                for version, base, fmt, event_hash, timeline in rows]

    def check(self, stored: Stored, base_version: int, hash_at: str | None) -> list[int]:
        """The snapshot's recorded times, if it continues the chain at `base_version`, is
        of the current format, and is bound to the hash recomputed at its version."""
        header = stored.header
        if header.base_version != base_version:
            raise Discontinuous()
        if header.format != self.format:
            raise Rejected("format", "it is of another format of the projection (made "
                           "before an upgrade, or under other settings)")
        if header.event_hash != hash_at:
            raise Rejected("hash", "its chained event hash is not the one recomputed from "
                           "the stored events")
        plain = self.sealer.open(header, TIMELINE, stored.timeline)
        try:
            return snapshot_rows.decode_timeline(plain, header.version - header.base_version)
        except snapshot_rows.Malformed as why:
            raise Rejected("malformed", str(why)) from None

    def deltas(self, trainee_id: UUID, headers: Sequence[Header]) -> Iterable[
            tuple[Header, bytes | Rejected]]:
        """Each header's row changes, opened (for snapshot_rows.load_changes), or why
        they cannot be."""
        if not headers:
            return
        s = view_snapshots.c
        with self.engine.connect() as connection:
            sealed = dict(connection.execute(
                sa.select(s.version, s.delta)
                .where(s.trainee_id == str(trainee_id),
                       s.version.in_([header.version for header in headers]))
            ).all())
        for header in headers:
            try:
                if header.version not in sealed:
                    raise Rejected("gone", "it is gone")
                yield header, self.sealer.open(header, DELTA, bytes(sealed[header.version]))
            except Rejected as why:
                yield header, why

    def write(self, snapshots: Sequence[Written], now: datetime) -> int:
        """Stores the snapshots, replacing any at the same version (one that failed its
        checks, or of an older format). Returns the bytes written."""
        rows = []
        for snapshot in snapshots:
            header = snapshot.header
            rows.append({
                "trainee_id": str(header.trainee_id), "version": header.version,
                "base_version": header.base_version, "format": header.format,
                "event_hash": header.event_hash, "taken_at": now,
                "timeline": self.sealer.seal(
                    header, TIMELINE, snapshot_rows.encode_timeline(snapshot.recorded)),
                "delta": self.sealer.seal(header, DELTA, snapshot.changes),
            })
        if not rows:
            return 0
        with self.engine.begin() as connection:
            insert = _upsert(connection.dialect.name)
            connection.execute(insert, rows)
        return sum(len(row["timeline"]) + len(row["delta"]) for row in rows)


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(view_snapshots)
    replaced = {name: statement.excluded[name] for name in
                ("base_version", "format", "event_hash", "timeline", "delta", "taken_at")}
    return statement.on_conflict_do_update(index_elements=["trainee_id", "version"],
                                           set_=replaced)


def reject(header: Header, why: Rejected) -> None:
    """Logs and counts a snapshot that failed a check. Ids and versions only: no content."""
    count("rejected")
    count(f"rejected: {why.kind}")
    # After an upgrade every snapshot is of an older format: expected, so not a warning.
    level = logging.INFO if why.kind == "format" else logging.WARNING
    logger.log(level, "view snapshot of trainee %s at version %d ignored: %s; replaying "
               "the events instead", header.trainee_id, header.version, why,
               extra={"trainee_id": str(header.trainee_id)})
