"""Persisted view snapshots of the as-of replay, on both backends: with them every version
and moment replays to what a replay from the events alone gives, fewer events are
decoded, and a snapshot that was altered, moved, outlived by altered events or made by an
older projection is ignored (logged, counted) with the answer unchanged."""

from __future__ import annotations

import gc
import logging
import sqlite3
import uuid
import weakref
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from domain import commands as c
from integrity.hashing import GENESIS, event_hash
from projections import replay, scratch_reads
from projections import tables as t
from projections import view_snapshots as vs
from projections.handlers import Context, project
from projections.scratch import scratch_database
from projections.summary import refresh_trainee
from service import bootstrap
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.storage.test_replay import rows, run_steps
from tests.store_admin import bypassing_append_only

EVERY = 4  # events between snapshots here, so the rich history has several
S = vs.view_snapshots.c


@pytest.fixture(autouse=True)
def every(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "CHECKPOINT_EVERY", EVERY)


def cold(records: Any, trainee_id: uuid.UUID, **asked: Any) -> dict[str, Any] | None:
    """A replay with every process cache cleared first, as a new process would make it."""
    replay.clear_cache(records)
    return rows(replay.replay(records, trainee_id, **asked))


def decoding(work: Callable[[], Any]) -> tuple[Any, int]:
    """What the work returned, and how many events it decoded."""
    before = replay.stats["events decoded"]
    result = work()
    return result, replay.stats["events decoded"] - before


def stored(services: bootstrap.Services, trainee_id: uuid.UUID) -> list[Any]:
    with services.engine.connect() as connection:
        return list(connection.execute(
            sa.select(vs.view_snapshots).where(S.trainee_id == str(trainee_id))
            .order_by(S.version)
        ))


def change(services: bootstrap.Services, trainee_id: uuid.UUID, version: int,
           **values: Any) -> None:
    with services.engine.begin() as connection:
        connection.execute(vs.view_snapshots.update().where(
            S.trainee_id == str(trainee_id), S.version == version).values(**values))


def flipped(data: bytes, at: int = -1) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def other_trainee(services: bootstrap.Services, clock: FixedClock, events: int) -> uuid.UUID:
    """A second trainee with `events` events: enrollment, then ethics violations."""
    from tests.history import enroll

    trainee_id = enroll(services, national_id="P-SNAPSHOT-0002")
    for _ in range(events - 1):
        clock.advance(hours=1)
        services.records.execute(c.RecordEthicsViolation(
            trainee_id, uuid.uuid4(), date(2026, 11, 1), "late to a shift", False),
            system("base"))
    return trainee_id


# ---------------------------------------------------------------------------------------
# used, and equal to a replay without them


def test_with_snapshots_every_version_and_moment_replays_to_the_view_without_them(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records, latest = services.records, len(seen)
    written = vs.counts["written"]
    assert cold(records, trainee_id) == seen[-1][2]  # takes the snapshots as it passes
    assert vs.counts["written"] - written == latest // EVERY
    snapshots = stored(services, trainee_id)
    assert [row.version for row in snapshots] == list(range(EVERY, latest + 1, EVERY))
    assert [row.base_version for row in snapshots] == [row.version - EVERY for row in snapshots]

    used = vs.counts["used"]
    for moment, version, state in seen:
        base = version // EVERY * EVERY
        snapshotted, decoded = decoding(partial(cold, records, trainee_id, version=version))
        assert decoded == version - base  # only the events after the snapshot below
        alone, everything = decoding(partial(cold, records, trainee_id, version=version,
                                             snapshots=False))
        assert everything == version
        assert snapshotted == alone == state
        assert cold(records, trainee_id, as_of=moment) == state
        assert cold(records, trainee_id, as_of=moment + timedelta(minutes=30)) == state
    assert vs.counts["used"] > used
    assert len(stored(services, trainee_id)) == latest // EVERY  # none taken twice


def test_an_emptied_or_altered_read_model_changes_no_answer_from_snapshots(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    cold(records, trainee_id)
    with services.engine.begin() as connection:
        connection.execute(t.rotation_entries.update().values(signed_by="forger"))
        connection.execute(t.trainees.update().values(stage=3, name="Someone Else"))
    assert cold(records, trainee_id) == seen[-1][2]
    with services.engine.begin() as connection:
        for table in reversed(t.READ_MODEL_TABLES):
            connection.execute(table.delete())
    middle = seen[len(seen) // 2]
    assert cold(records, trainee_id, as_of=middle[0]) == middle[2]
    assert cold(records, trainee_id) == seen[-1][2]


def test_the_name_stays_encrypted_in_the_snapshots(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    cold(services.records, trainee_id)
    name = seen[-1][2]["trainee"][0]["name"].encode()
    assert name == b"Li Lei"
    snapshots = stored(services, trainee_id)
    assert snapshots and all(name not in row.delta and name not in row.timeline
                             for row in snapshots)


# ---------------------------------------------------------------------------------------
# never trusted


@pytest.mark.parametrize("part", ["delta", "timeline"])
def test_a_snapshot_altered_in_its_bytes_is_ignored_and_the_answer_stands(
    services: bootstrap.Services, clock: FixedClock, caplog: pytest.LogCaptureFixture,
    part: str,
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    cold(records, trainee_id)
    altered = 3 * EVERY
    [row] = [row for row in stored(services, trainee_id) if row.version == altered]
    change(services, trainee_id, altered, **{part: flipped(getattr(row, part))})
    rejected = vs.counts["rejected: authentication"]
    with caplog.at_level(logging.WARNING, logger="dualtrack.view_snapshots"):
        for _, version, state in seen:
            assert cold(records, trainee_id, version=version) == state
    assert vs.counts["rejected: authentication"] > rejected
    warning = next(r for r in caplog.records if r.name == "dualtrack.view_snapshots")
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert f"trainee {trainee_id} at version {altered} ignored" in message
    assert f"its {part} fails authentication" in message and "Li Lei" not in message
    # the replay that ignored it took a good one in its place
    [again] = [row for row in stored(services, trainee_id) if row.version == altered]
    assert getattr(again, part) != flipped(getattr(row, part))
    rejected = vs.counts["rejected"]
    view, decoded = decoding(partial(cold, records, trainee_id, version=altered + 1))
    assert view == seen[altered][2]
    assert decoded == 1 and vs.counts["rejected"] == rejected


def test_a_snapshot_moved_to_another_trainee_or_version_is_ignored(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    other = other_trainee(services, clock, 2 * EVERY + 1)
    other_view = cold(records, other)
    cold(records, trainee_id)
    assert other_view is not None and len(stored(services, other)) == 2
    mine = {row.version: row for row in stored(services, trainee_id)}

    # its sealed parts under the other trainee's header (hash and all): authentication
    change(services, other, EVERY, timeline=mine[EVERY].timeline, delta=mine[EVERY].delta)
    rejected = vs.counts["rejected: authentication"]
    assert cold(records, other) == other_view
    assert cold(records, other, version=EVERY) == rows(replay.replay(
        records, other, version=EVERY, snapshots=False))
    assert vs.counts["rejected: authentication"] > rejected

    # the whole row copied to the other trainee: its hash is not the other's
    with services.engine.begin() as connection:
        connection.execute(vs.view_snapshots.delete().where(S.trainee_id == str(other)))
        connection.execute(vs.view_snapshots.insert(), [
            {**row._asdict(), "trainee_id": str(other)} for row in mine.values()
            if row.version <= 2 * EVERY])
    rejected = vs.counts["rejected: hash"]
    assert cold(records, other) == other_view
    assert vs.counts["rejected: hash"] > rejected

    # another version's parts, under this version's header
    change(services, trainee_id, 2 * EVERY, timeline=mine[EVERY].timeline,
           delta=mine[EVERY].delta)
    rejected = vs.counts["rejected: authentication"]
    for _, version, state in seen[EVERY:3 * EVERY]:
        assert cold(records, trainee_id, version=version) == state
    assert vs.counts["rejected: authentication"] > rejected


def test_a_snapshot_over_events_that_were_altered_since_is_ignored(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    """An insider with the key re-encrypts an event with another description: the
    snapshot's chained hash no longer matches, so the answer shows what is stored now."""
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    cold(records, trainee_id)
    stream = replay._replayer(records).stream(trainee_id)
    chain_end = stored(services, trainee_id)[-1].version
    target = next(step for step in stream.steps[:chain_end]
                  if step.topic.endswith("RotationEntryRecorded"))
    state = records.mapper.transcoder.decode(records.mapper.cipher.decrypt(target.state))
    state["description"] = "forged entry"
    forged = records.mapper.cipher.encrypt(records.mapper.transcoder.encode(state))
    events = records.events_table
    with services.engine.begin() as connection, bypassing_append_only(connection):
        connection.execute(events.update().where(
            events.c.originator_id == trainee_id,
            events.c.originator_version == target.version).values(state=forged))

    rejected = vs.counts["rejected: hash"]
    answer = cold(records, trainee_id)
    assert answer == cold(records, trainee_id, snapshots=False) != seen[-1][2]
    assert vs.counts["rejected: hash"] > rejected
    assert answer is not None
    descriptions = [entry["description"] for entries in answer["entries"].values()
                    for entry in entries]
    assert "forged entry" in descriptions


def test_snapshots_of_an_older_projection_format_are_ignored_then_replaced(
    services: bootstrap.Services, clock: FixedClock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    cold(records, trainee_id)
    old = {row.format for row in stored(services, trainee_id)}
    monkeypatch.setattr(vs, "PROJECTION_FORMAT", vs.PROJECTION_FORMAT + 1)
    rejected = vs.counts["rejected: format"]
    with caplog.at_level(logging.INFO, logger="dualtrack.view_snapshots"):
        view, decoded = decoding(partial(cold, records, trainee_id, version=len(seen) - 1))
    assert view == seen[-2][2]
    assert decoded == len(seen) - 1  # nothing taken from them
    assert vs.counts["rejected: format"] > rejected
    notice = next(r for r in caplog.records if r.name == "dualtrack.view_snapshots")
    assert notice.levelno == logging.INFO and "another format" in notice.getMessage()
    new = {row.format for row in stored(services, trainee_id)}
    assert len(old) == len(new) == 1 and old != new
    assert next(iter(new)).startswith(f"{vs.PROJECTION_FORMAT}:")
    # a replay under other settings of the handlers does not take them either
    assert vs.projection_format(timedelta(days=14), "Asia/Shanghai") != vs.projection_format(
        timedelta(days=7), "Asia/Shanghai")


def test_a_snapshot_that_cannot_be_stored_costs_only_speed(
    services: bootstrap.Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trainee_id, seen = run_steps(services, clock)

    def refuse(*_: object) -> int:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(vs.Snapshots, "write", refuse)
    replay.clear_cache(services.records)
    failed = vs.counts["write failed"]
    with caplog.at_level(logging.WARNING, logger="dualtrack.replay"):
        assert rows(replay.replay(services.records, trainee_id, version=2 * EVERY)) == \
            seen[2 * EVERY - 1][2]
        replayer = replay._replayer(services.records)
        replayer.checkpoints = replay._Checkpoints(replay.CHECKPOINT_BYTES)  # from 0 again
        assert rows(replay.replay(services.records, trainee_id)) == seen[-1][2]
    assert vs.counts["write failed"] == failed + 1  # not tried again for a while
    assert f"view snapshots of trainee {trainee_id} not stored (OperationalError)" in \
        caplog.text
    assert stored(services, trainee_id) == []


# ---------------------------------------------------------------------------------------
# the shortcuts a replay takes hold to what they replace


def test_the_stream_hashes_are_the_ledger_encoding_and_the_fast_reader_reads_alike(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, _ = run_steps(services, clock)
    replayer = replay._replayer(services.records)
    stream = replayer.stream(trainee_id)
    previous = GENESIS
    for step in stream.steps:
        previous = event_hash(previous, trainee_id, step.version, step.topic, step.state)
        assert step.hash == previous.hex()
    with scratch_database(None) as (engine, raw):
        for done, step in enumerate(stream.steps, start=1):
            with sa.orm.Session(engine) as session, session.begin():
                project(Context(session, step.notification, replayer.late_after,
                                replayer.zone, step.hash), replayer.decoded(step))
            if done % 7 == 0 or done == len(stream.steps):
                with sa.orm.Session(engine) as session, session.begin():
                    refresh_trainee(session, str(trainee_id), services.records.regime_of_row)
                fast = scratch_reads.read_view(raw, str(trainee_id))
                assert fast is not None and fast == replay._read_view(engine, str(trainee_id))


def forge(services: bootstrap.Services, trainee_id: uuid.UUID, version: int,
          sql: str) -> None:
    """What only a holder of the key can do: re-seal a snapshot with other rows."""
    sealer = replay._replayer(services.records).snapshots.sealer
    [row] = [row for row in stored(services, trainee_id) if row.version == version]
    header = vs.Header(trainee_id, row.version, row.base_version, row.format, row.event_hash)
    packed = sqlite3.connect(":memory:")
    packed.deserialize(zlib.decompress(sealer.open(header, vs.DELTA, row.delta)))
    packed.execute(sql)
    packed.commit()
    change(services, trainee_id, version,
           delta=sealer.seal(header, vs.DELTA, zlib.compress(packed.serialize())))
    packed.close()


def test_a_snapshot_forged_with_the_key_is_named_by_verifying_against_the_events(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    cold(records, trainee_id)
    assert replay.verify_snapshots(records, trainee_id) == []
    forged = 2 * EVERY
    forge(services, trainee_id, forged, "UPDATE rm_trainees SET specialty = 'forged'")
    # the checks cannot tell a snapshot sealed with the key from a true one ...
    answer = cold(records, trainee_id, version=forged)
    assert answer is not None and answer["trainee"][0]["specialty"] == "forged"
    # ... replaying the events beside it can, and deleting it (derived data) mends it
    assert replay.verify_snapshots(records, trainee_id) == [forged]
    with services.engine.begin() as connection:
        connection.execute(vs.view_snapshots.delete().where(S.version == forged))
    assert cold(records, trainee_id, version=forged) == seen[forged - 1][2]
    assert replay.verify_snapshots(records, trainee_id) == []


def test_a_closed_application_is_not_kept_alive_by_its_replayer(
    settings: Settings, clock: FixedClock
) -> None:
    """Else its engine, and its pooled connections, would live as long as the process."""
    built = bootstrap.build(settings, clock=clock)
    trainee_id = other_trainee(built, clock, EVERY + 1)
    assert replay.replay(built.records, trainee_id) is not None
    assert replay._replayer(built.records).records is built.records
    application = weakref.ref(built.records)
    built.close()
    del built
    gc.collect()
    assert application() is None
