"""A replay's private in-memory SQLite database, and the chained hashes of a stream.

Every scratch database holds every read-model table (projections.tables), empty or as a
checkpoint image left it, and is reached through one shared SQLAlchemy engine, so that
the handlers' compiled statements are kept between replays.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from integrity.hashing import EVENT_DOMAIN
from projections import tables as t

__all__ = ["ChainedHash", "restore", "scratch_database"]


class _KeptOpen(sqlite3.Connection):
    """A scratch database's connection, which the shared engine's pool may "close" after
    each use: the replay closes it for good when it is done."""

    def close(self) -> None:
        pass

    def close_for_good(self) -> None:
        super().close()


_current = threading.local()
_engine: sa.Engine | None = None
_engine_lock = threading.Lock()
_empty_image: bytes | None = None


def _shared_engine() -> sa.Engine:
    """One engine for every scratch database, each thread's own (NullPool: every
    checkout asks the creator, which hands out the thread's current scratch connection).
    One engine keeps SQLAlchemy's compiled statements between replays; an engine per
    replay compiled every handler's statements again, each time."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = sa.create_engine("sqlite://", poolclass=NullPool,
                                       creator=lambda: _current.raw)
        return _engine


@contextmanager
def scratch_database(image: bytes | None) -> Iterator[tuple[sa.Engine, sqlite3.Connection]]:
    """A private in-memory SQLite database for one replay: every read-model table, empty
    or as a checkpoint image left it; closed afterwards. One at a time per thread."""
    global _empty_image
    raw = sqlite3.connect(":memory:", check_same_thread=False, factory=_KeptOpen)
    outer = getattr(_current, "raw", None)
    _current.raw = raw
    try:
        engine = _shared_engine()
        if image is None and _empty_image is None:
            t.metadata.create_all(engine)
            _empty_image = raw.serialize()
        else:
            restore(raw, image)
        yield engine, raw
    finally:
        _current.raw = outer
        raw.close_for_good()


def restore(raw: sqlite3.Connection, image: bytes | None) -> None:
    """The scratch database as the image left it, or empty."""
    raw.deserialize(image or _empty_image)  # type: ignore[arg-type]


class ChainedHash:
    """integrity.hashing.event_hash for the events of one stream, with what is the same
    for all of them encoded once and each event hashed in one call (a fifth of the
    cost of a cold replay went to hashing). tests/storage/test_view_snapshots.py holds
    the two equal."""

    def __init__(self, originator_id: UUID):
        self.stream = _part(originator_id.bytes)
        self.topics: dict[str, bytes] = {}

    def __call__(self, previous: bytes, version: int, topic: str, state: bytes) -> bytes:
        topic_part = self.topics.get(topic)
        if topic_part is None:
            topic_part = self.topics[topic] = _part(topic.encode())
        return hashlib.sha256(b"".join((
            EVENT_DOMAIN, previous, self.stream, _VERSION_LENGTH, version.to_bytes(8, "big"),
            topic_part, len(state).to_bytes(8, "big"), state,
        ))).digest()


def _part(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


_VERSION_LENGTH = (8).to_bytes(8, "big")
