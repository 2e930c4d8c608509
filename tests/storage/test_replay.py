"""Replay: a trainee's record as it stood at any moment, computed from the stored events
with the live projection's own handlers, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain import commands as c
from projections import replay
from projections import tables as t
from service import bootstrap
from service.clock import FixedClock
from service.principals import system
from tests.rich_history import rich_history

# ---------------------------------------------------------------------------------------
# helpers


def _normal(value: Any) -> Any:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare them as UTC."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)
    return value


def rows(view: replay.TraineeView | None) -> dict[str, Any] | None:
    """Every row of a view, comparable across databases."""
    if view is None:
        return None

    def norm(many: Any) -> list[dict[str, Any]]:
        return [{k: _normal(v) for k, v in row.items()} for row in many]

    return {
        "trainee": norm([view.trainee]),
        "tutors": norm(view.tutors),
        "rotations": norm(view.rotations),
        "entries": {rotation: norm(entries) for rotation, entries in view.entries.items()},
        "assessments": norm(view.assessments),
        "certificates": norm(view.certificates),
        "audit": norm(view.audit),
    }


def live(services: bootstrap.Services, trainee_id: uuid.UUID) -> dict[str, Any] | None:
    """The live read models of the trainee, read back the way a replayed view is."""
    return rows(replay._read_view(services.engine, str(trainee_id)))


def run_steps(
    services: bootstrap.Services, clock: FixedClock
) -> tuple[uuid.UUID, list[tuple[datetime, int, dict[str, Any] | None]]]:
    """Runs the rich history an hour apart; after each step: when, version, live rows."""
    rich = rich_history(services)
    seen = []
    for _, step in rich.steps:
        clock.advance(hours=1)
        step()
        services.projector.catch_up()
        state = live(services, rich.trainee_id)
        assert state is not None
        seen.append((clock.now(), state["trainee"][0]["version"], state))
    return rich.trainee_id, seen


# ---------------------------------------------------------------------------------------
# replay equals the live projection, at every step


def test_every_version_and_moment_replays_to_the_rows_the_live_projection_held(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    assert [version for _, version, _ in seen] == list(range(1, len(seen) + 1))
    assert len(seen) > 30
    for moment, version, state in seen:
        assert rows(replay.replay(services.records, trainee_id, version=version)) == state
        assert rows(replay.replay(services.records, trainee_id, as_of=moment)) == state
        # a moment between two steps shows the earlier one
        later = moment + timedelta(minutes=30)
        assert rows(replay.replay(services.records, trainee_id, as_of=later)) == state
    latest = replay.replay(services.records, trainee_id)
    assert latest is not None and rows(latest) == seen[-1][2]
    certificates = {row["kind"]: row["state"] for row in latest.certificates}
    assert certificates == {"LICENCE": "GRANTED", "RESIDENCY_CERTIFICATE": "GRANTED",
                            "DIPLOMA": "REVOKED", "DEGREE": "GRANTED"}


def test_before_enrollment_an_unknown_id_and_a_national_id_claim_replay_to_nothing(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    enrolled_at = seen[0][0]
    records = services.records
    assert replay.replay(records, trainee_id, as_of=enrolled_at - timedelta(seconds=1)) is None
    assert replay.replay(records, trainee_id, version=0) is None
    assert replay.replay(records, uuid.uuid4()) is None
    assert replay.latest_version(records, uuid.uuid4()) == 0
    claim = records.national_id_claim_id("P-REPLAY-0001")
    assert replay.latest_version(records, claim) == 1
    assert replay.replay(records, claim) is None
    with pytest.raises(ValueError, match="aware"):
        replay.replay(records, trainee_id, as_of=datetime(2026, 11, 22, 12, 0))


def test_replay_reads_the_events_not_the_read_models(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    middle = seen[len(seen) // 2]
    with services.engine.begin() as connection:
        connection.execute(t.rotation_entries.update().values(signed_by="forger"))
        connection.execute(t.trainees.update().values(stage=3, name="Someone Else"))
        connection.execute(t.audit_events.update().values(hash="0" * 64))
    replay.clear_cache(services.records)
    assert rows(replay.replay(services.records, trainee_id)) == seen[-1][2]
    with services.engine.begin() as connection:
        for table in reversed(t.READ_MODEL_TABLES):
            connection.execute(table.delete())
    replay.clear_cache(services.records)
    assert live(services, trainee_id) is None
    assert rows(replay.replay(services.records, trainee_id, as_of=middle[0])) == middle[2]
    assert rows(replay.replay(services.records, trainee_id)) == seen[-1][2]


def test_views_are_cached_by_version_and_later_events_are_picked_up(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    records = services.records
    first = replay.replay(records, trainee_id)
    assert first is replay.replay(records, trainee_id)
    assert first is replay.replay(records, trainee_id, version=first.version)
    assert first is replay.replay(records, trainee_id, as_of=clock.now() + timedelta(days=1))
    clock.advance(hours=1)
    records.execute(c.RecordEthicsViolation(trainee_id, uuid.uuid4(), date(2026, 11, 1),
                                            "late to a shift", False), system("base"))
    grown = replay.replay(records, trainee_id)
    assert grown is not None and grown.version == first.version + 1
    assert grown.audit[-1]["type"] == "EthicsViolationRecorded"
    assert replay.replay(records, trainee_id, version=first.version) is first


def test_a_replay_from_a_checkpoint_equals_a_replay_from_the_start(
    services: bootstrap.Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainee_id, seen = run_steps(services, clock)
    monkeypatch.setattr(replay, "CHECKPOINT_EVERY", 4)
    records = services.records
    replay.clear_cache(records)
    assert rows(replay.replay(records, trainee_id)) == seen[-1][2]  # leaves checkpoints
    checkpoints = replay._replayer(records).checkpoints.images[trainee_id]
    assert sorted(checkpoints) == list(range(4, len(seen) + 1, 4))
    for _, version, state in reversed(seen):  # each from the nearest image below it
        assert rows(replay.replay(records, trainee_id, version=version)) == state


def test_the_chained_hash_of_each_event_is_the_one_the_live_trail_holds(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, seen = run_steps(services, clock)
    view = replay.replay(services.records, trainee_id)
    assert view is not None
    hashes = [row["hash"] for row in view.audit]
    assert hashes == [row["hash"] for row in seen[-1][2]["audit"]]
    assert len(set(hashes)) == len(hashes)


# ---------------------------------------------------------------------------------------
# documents and their differences (pure)


def test_a_document_keys_collections_by_id_and_holds_only_json_values(
    services: bootstrap.Services, clock: FixedClock
) -> None:
    trainee_id, _ = run_steps(services, clock)
    view = replay.replay(services.records, trainee_id)
    assert view is not None
    document = view.document()
    rotation = view.rotations[0]
    entry = view.entries[rotation["id"]][0]
    assert document["handbook"]["rotations"][rotation["id"]]["entries"][entry["id"]] == {
        "kind": entry["kind"], "occurredOn": entry["occurred_on"].isoformat(),
        "description": entry["description"], "signedBy": entry["signed_by"],
        "late": entry["late"], "retracted": entry["retracted"],
        "retractionReason": entry["retraction_reason"]}
    assert set(document["certificates"]) == {"LICENCE", "RESIDENCY_CERTIFICATE", "DIPLOMA",
                                             "DEGREE"}
    assert document["certificates"]["DIPLOMA"]["revocationReason"] == "issued in error"
    import json

    assert json.loads(json.dumps(document)) == document


def test_diff_names_each_changed_leaf_by_a_dotted_path_with_ids() -> None:
    before = {
        "stage": 1,
        "handbook": {"missing": ["R4: a"], "rotations": {
            "r1": {"department": "ward", "entries": {"e1": {"signedBy": None}}},
            "r2": {"department": "clinic", "entries": {}},
        }},
        "certificates": {"DEGREE": {"state": "NOT_ELIGIBLE", "unmet": ["R10: x"]}},
    }
    after = {
        "stage": 2,
        "handbook": {"missing": [], "rotations": {
            "r1": {"department": "ward", "entries": {"e1": {"signedBy": "dr-ward"},
                                                      "e2": {"signedBy": None}}},
            "r3": {"department": "icu", "entries": {}},
        }},
        "certificates": {"DEGREE": {"state": "GRANTED", "unmet": []}},
    }
    changes = [(ch.path, ch.before, ch.after) for ch in replay.diff(before, after)]
    assert changes == [
        ("stage", 1, 2),
        ("handbook.missing", ["R4: a"], []),
        ("handbook.rotations[r1].entries[e1].signedBy", None, "dr-ward"),
        ("handbook.rotations[r1].entries[e2]", None, {"signedBy": None}),
        ("handbook.rotations[r3]", None, {"department": "icu", "entries": {}}),
        ("handbook.rotations[r2]", {"department": "clinic", "entries": {}}, None),
        ("certificates[DEGREE].state", "NOT_ELIGIBLE", "GRANTED"),
        ("certificates[DEGREE].unmet", ["R10: x"], []),
    ]
    assert replay.diff(after, after) == []
    assert replay.diff(None, {"stage": 1}) == [replay.FieldChange("stage", None, 1)]
    assert replay.diff({"stage": 1}, None) == [replay.FieldChange("stage", 1, None)]


def test_checkpoint_images_stay_within_their_budget_dropping_the_oldest_first() -> None:
    images = replay._Checkpoints(budget=10)
    one, two = uuid.uuid4(), uuid.uuid4()
    images.put(one, 4, b"aaaa")
    images.put(one, 8, b"bbbb")
    assert images.nearest(one, 7) == (4, b"aaaa") and images.nearest(one, 3) == (0, None)
    images.put(two, 4, b"cccc")  # over budget: trainee one's lowest image goes
    assert images.used == 8 and images.nearest(one, 7) == (0, None)
    assert images.nearest(one, 9) == (8, b"bbbb") and images.nearest(two, 4) == (4, b"cccc")
    images.put(two, 8, b"x" * 11)  # larger than the whole budget: not kept
    assert images.used == 8


def test_the_caches_keep_the_most_recently_used_within_their_budget() -> None:
    cache: replay._LRU[str, str] = replay._LRU(budget=5, weigh=len)
    cache.put("a", "xx")
    cache.put("b", "xx")
    assert cache.get("a") == "xx"  # now b is the least recently used
    cache.put("c", "xx")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("xx", None, "xx")
    cache.put("d", "x" * 6)  # heavier than the whole budget: not kept, nothing dropped
    assert cache.get("d") is None and cache.used == 4
    cache.put("a", "xxx")
    assert cache.used == 5 and cache.get("a") == "xxx"
