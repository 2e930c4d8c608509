"""Offline evidence bundles: one trainee's events, provable without the database.

A bundle carries the trainee's stream exactly as stored (stream id, version, topic and
state bytes), each event's chained hash, an inclusion proof of each event's Merkle leaf,
and a signed checkpoint whose root those proofs lead to. Anyone with the bundle, and
ideally the deployment's public key, can then check that

* the stream is complete from version 1 up to its last event and in order (the hash chain
  links each event to the one before, so none can be removed, reordered or edited), and
* every event sits in the signed log at the position it claims.

It cannot show that no events come after the last one in the bundle: a bundle proves what
it contains, not what it leaves out at the end. The per-event "data" is a decoded copy for
people to read; nothing covers it, so it is never trusted.

verify_bundle never raises on what it is given: a malformed or tampered document yields a
report listing the problems.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from integrity.checkpoints import Checkpoint, format_timestamp, verify_checkpoint
from integrity.errors import IntegrityFailure
from integrity.hashing import GENESIS, HASH_SIZE, event_hash, leaf_data, leaf_hash
from integrity.merkle import verify_inclusion

FORMAT = "dualtrack-evidence/1"
_UINT64_LIMIT = 1 << 64  # positions and versions are hashed as 8-byte integers


@dataclass
class BundleEvent:
    position: int  # the event's position in the whole log
    leaf_index: int  # its leaf in the Merkle tree
    originator_id: UUID
    version: int
    topic: str
    state: bytes  # the stored bytes, exactly as hashed
    event_hash: bytes
    inclusion_proof: list[bytes]
    data: dict[str, Any] = field(default_factory=dict)  # informative only, not covered

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "leaf_index": self.leaf_index,
            "originator_id": str(self.originator_id),
            "version": self.version,
            "topic": self.topic,
            "state": base64.b64encode(self.state).decode("ascii"),
            "event_hash": self.event_hash.hex(),
            "inclusion_proof": [node.hex() for node in self.inclusion_proof],
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: object) -> BundleEvent:
        """Parse one event; IntegrityFailure names the first malformed field."""
        if not isinstance(raw, dict):
            raise IntegrityFailure("is not a JSON object")
        proof = raw.get("inclusion_proof")
        if not isinstance(proof, list):
            raise IntegrityFailure("field 'inclusion_proof' must be a list of hex hashes")
        data = raw.get("data", {})
        if not isinstance(data, dict):
            raise IntegrityFailure("field 'data' must be a JSON object")
        return cls(
            position=_count_field(raw, "position", minimum=0),
            leaf_index=_count_field(raw, "leaf_index", minimum=0),
            originator_id=_uuid_field(raw, "originator_id"),
            version=_count_field(raw, "version", minimum=1),
            topic=_topic_field(raw),
            state=_base64_field(raw, "state"),
            event_hash=_hash_text(raw.get("event_hash"), "event_hash"),
            inclusion_proof=[_hash_text(node, "inclusion_proof") for node in proof],
            data=data,
        )


def bundle_document(
    trainee_id: UUID | str,
    events: Sequence[BundleEvent],
    checkpoint: Checkpoint,
    exported_at: datetime,
) -> dict[str, Any]:
    """The JSON-ready bundle. Events must be the trainee's whole stream in version order,
    with inclusion proofs against this checkpoint's tree size."""
    if exported_at.utcoffset() is None:
        raise ValueError("exported_at must be a timezone-aware datetime")
    return {
        "format": FORMAT,
        "trainee_id": str(trainee_id),
        "exported_at": format_timestamp(exported_at),
        "checkpoint": checkpoint.to_json(),
        "events": [event.to_json() for event in events],
    }


@dataclass
class BundleReport:
    ok: bool
    checked: int  # how many well-formed events were examined
    problems: list[str]
    key_pinned: bool  # whether the checkpoint was held to a trusted key


def verify_bundle(document: object, trusted_public_key: bytes | None = None) -> BundleReport:
    """Check a bundle offline. Without a trusted key the report can be ok while proving only
    that whoever holds the bundle's own key vouched for it; key_pinned says which it was."""
    problems: list[str] = []
    checked = 0
    try:
        checked = _check(document, trusted_public_key, problems)
    except Exception as error:  # the contract: a report, never an exception
        problems.append(f"bundle could not be checked: {type(error).__name__}: {error}")
    return BundleReport(
        ok=not problems,
        checked=checked,
        problems=problems,
        key_pinned=trusted_public_key is not None,
    )


def _check(document: object, trusted_public_key: bytes | None, problems: list[str]) -> int:
    if not isinstance(document, dict):
        problems.append("bundle is not a JSON object")
        return 0
    if document.get("format") != FORMAT:
        problems.append(f"bundle format is {document.get('format')!r}, expected {FORMAT!r}")
    trainee = _trainee(document, problems)
    exported_at = document.get("exported_at")
    if not isinstance(exported_at, str) or not _is_aware_time(exported_at):
        problems.append("bundle field 'exported_at' must be an ISO-8601 time with a UTC offset")
    checkpoint = _checkpoint(document, trusted_public_key, problems)

    events = document.get("events")
    if not isinstance(events, list):
        problems.append("bundle field 'events' must be a list")
        return 0
    if not events:
        problems.append("bundle holds no events, so it proves nothing")
        return 0

    checked = 0
    # The hash each event must chain from; None once a malformed event broke the chain,
    # because that event's own problem already explains everything after it.
    previous: bytes | None = GENESIS
    last_position: int | None = None
    for number, raw in enumerate(events, start=1):
        try:
            event = BundleEvent.from_json(raw)
        except IntegrityFailure as failure:
            problems.append(f"event #{number} in the bundle: {failure}")
            previous = None
            continue
        checked += 1
        label = f"event at position {event.position} (version {event.version})"
        if trainee is not None and event.originator_id != trainee:
            problems.append(f"{label}: belongs to {event.originator_id}, not trainee {trainee}")
        if event.version != number:
            problems.append(
                f"{label}: expected version {number}; an event is missing or out of order"
            )
        if last_position is not None and event.position <= last_position:
            problems.append(f"{label}: does not come after position {last_position}")
        last_position = event.position
        if previous is not None:
            recomputed = event_hash(
                previous, event.originator_id, event.version, event.topic, event.state
            )
            if recomputed != event.event_hash:
                problems.append(f"{label}: hash does not match its content")
        # Chain on from the stated hash, so one edited event is reported once, not along
        # with every event after it; a forged stated hash fails its inclusion proof instead.
        previous = event.event_hash
        if checkpoint is not None:
            _check_inclusion(event, checkpoint, label, problems)
    return checked


def _check_inclusion(
    event: BundleEvent, checkpoint: Checkpoint, label: str, problems: list[str]
) -> None:
    if event.leaf_index >= checkpoint.tree_size:
        problems.append(
            f"{label}: leaf {event.leaf_index} is outside the checkpoint's tree of "
            f"{checkpoint.tree_size} leaves"
        )
        return
    leaf = leaf_hash(leaf_data(event.position, event.event_hash))
    if not verify_inclusion(
        leaf, event.leaf_index, checkpoint.tree_size, event.inclusion_proof, checkpoint.root_hash
    ):
        problems.append(
            f"{label}: inclusion proof does not lead to the checkpoint's root "
            f"from leaf {event.leaf_index}"
        )


def _trainee(document: dict[str, Any], problems: list[str]) -> UUID | None:
    try:
        return _uuid_field(document, "trainee_id")
    except IntegrityFailure as failure:
        problems.append(f"bundle {failure}")
        return None


def _checkpoint(
    document: dict[str, Any], trusted_public_key: bytes | None, problems: list[str]
) -> Checkpoint | None:
    """The parsed checkpoint, or None if unreadable. A checkpoint whose signature fails is
    still returned, so inclusion is checked against the root it claims."""
    try:
        checkpoint = Checkpoint.from_json(document.get("checkpoint"))
    except IntegrityFailure as failure:
        problems.append(f"{failure}; no inclusion proof could be checked")
        return None
    try:
        verify_checkpoint(checkpoint, trusted_public_key)
    except IntegrityFailure as failure:
        problems.append(str(failure))
    return checkpoint


def _is_aware_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).utcoffset() is not None
    except ValueError:
        return False


def _count_field(raw: dict[str, Any], name: str, minimum: int) -> int:
    value = raw.get(name)
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not minimum <= value < _UINT64_LIMIT
    ):
        raise IntegrityFailure(f"field '{name}' must be an integer of at least {minimum}")
    return value


def _uuid_field(raw: dict[str, Any], name: str) -> UUID:
    value = raw.get(name)
    try:
        if isinstance(value, str):
            return UUID(value)
    except ValueError:
        pass
    raise IntegrityFailure(f"field '{name}' must be a UUID string")


def _topic_field(raw: dict[str, Any]) -> str:
    topic = raw.get("topic")
    if not isinstance(topic, str):
        raise IntegrityFailure("field 'topic' must be a string")
    try:
        topic.encode("utf-8")  # JSON can carry lone surrogates, which cannot be hashed
    except UnicodeEncodeError:
        raise IntegrityFailure("field 'topic' is not valid Unicode text") from None
    return topic


def _base64_field(raw: dict[str, Any], name: str) -> bytes:
    value = raw.get(name)
    try:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pass
    raise IntegrityFailure(f"field '{name}' must be standard base64")


def _hash_text(value: object, name: str) -> bytes:
    try:
        if isinstance(value, str):
            decoded = bytes.fromhex(value)
            if len(decoded) == HASH_SIZE:
                return decoded
    except ValueError:
        pass
    raise IntegrityFailure(f"field '{name}' must hold {HASH_SIZE * 2}-character hex hashes")
