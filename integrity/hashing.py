"""The hashes every stored event is committed to.

An event's hash covers its stored bytes exactly as the event store holds them (stream id,
version, topic, state), length-prefixed so no two different events share an encoding,
and the hash of the previous event of the same stream. Hashing the stored bytes, not a
decoded form, means checking needs no decoder and no keys, and any change to a row,
however small, changes the hash.

Leaves and interior nodes of the Merkle tree follow RFC 6962 section 2.1: a 0x00 prefix
for leaves and 0x01 for nodes, so a leaf can never pass for a node.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

HASH_SIZE = 32
GENESIS = bytes(HASH_SIZE)  # the "previous hash" of a stream's first event
EVENT_DOMAIN = b"dualtrack/event/v1\x00"


def event_hash(
    previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    if len(previous) != HASH_SIZE:
        raise ValueError("the previous hash must be 32 bytes")
    digest = hashlib.sha256(EVENT_DOMAIN)
    digest.update(previous)
    for part in (originator_id.bytes, version.to_bytes(8, "big"), topic.encode(), state):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def leaf_data(position: int, hashed_event: bytes) -> bytes:
    """What a Merkle leaf commits to: the event's log position and its chained hash."""
    return position.to_bytes(8, "big") + hashed_event


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()
