"""Evidence bundles: a genuine one checks out offline, and every tampering is reported."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from integrity.bundle import FORMAT, BundleEvent, bundle_document, verify_bundle
from integrity.checkpoints import CheckpointSigner
from integrity.hashing import GENESIS, event_hash, leaf_data, leaf_hash
from integrity.merkle import MemoryNodes, inclusion_proof, root

TRAINEE = UUID("6f1c2b8e-6d1a-4c1e-9a53-0b8f3f7f2a11")
OTHER_TRAINEE = UUID("0d9a7e44-3c55-4b8e-8f0e-2f6a4c1d9b22")
TOPIC = "domain.trainee:Trainee.RotationRecorded"
WHEN = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
SIGNER = CheckpointSigner.from_seed(hashlib.sha256(b"test signer").digest())
# The log interleaves two trainees; ours owns these leaves (versions 1..5 in order).
TRAINEE_LEAVES = (1, 4, 5, 9, 13)
LOG_SIZE = 17


def build_log(
    signer: CheckpointSigner = SIGNER, trainee_states: dict[int, bytes] | None = None
) -> tuple[dict[UUID, list[BundleEvent]], Any]:
    """Every stream's events with inclusion proofs, and a checkpoint over the whole log."""
    trainee_states = trainee_states or {}
    streams: dict[UUID, list[BundleEvent]] = {TRAINEE: [], OTHER_TRAINEE: []}
    previous = {TRAINEE: GENESIS, OTHER_TRAINEE: GENESIS}
    leaves: list[bytes] = []
    for leaf_index in range(LOG_SIZE):
        owner = TRAINEE if leaf_index in TRAINEE_LEAVES else OTHER_TRAINEE
        version = len(streams[owner]) + 1
        state = trainee_states.get(version, f'{{"rotation": {version}}}'.encode())
        if owner == OTHER_TRAINEE:
            state = f'{{"other": {leaf_index}}}'.encode()
        position = 100 + 3 * leaf_index  # log positions need not be contiguous
        hashed = event_hash(previous[owner], owner, version, TOPIC, state)
        previous[owner] = hashed
        leaves.append(leaf_hash(leaf_data(position, hashed)))
        streams[owner].append(
            BundleEvent(
                position=position,
                leaf_index=leaf_index,
                originator_id=owner,
                version=version,
                topic=TOPIC,
                state=state,
                event_hash=hashed,
                inclusion_proof=[],
                data={"rotation": version},
            )
        )
    store = MemoryNodes.from_leaves(leaves)
    for events in streams.values():
        for event in events:
            event.inclusion_proof = inclusion_proof(event.leaf_index, LOG_SIZE, store.fetch)
    checkpoint = signer.sign("dualtrack.test/log", LOG_SIZE, root(LOG_SIZE, store.fetch), WHEN)
    return streams, checkpoint


def genuine_bundle() -> dict[str, Any]:
    streams, checkpoint = build_log()
    return bundle_document(TRAINEE, streams[TRAINEE], checkpoint, WHEN)


@pytest.fixture
def bundle() -> dict[str, Any]:
    return genuine_bundle()


def label(event: dict[str, Any]) -> str:
    return f"event at position {event['position']} (version {event['version']})"


def test_genuine_bundle_verifies(bundle: dict[str, Any]) -> None:
    assert bundle["format"] == FORMAT
    assert [event["version"] for event in bundle["events"]] == [1, 2, 3, 4, 5]
    report = verify_bundle(bundle, trusted_public_key=SIGNER.public_key)
    assert report.problems == []
    assert report.ok and report.checked == 5 and report.key_pinned


def test_genuine_bundle_survives_json(bundle: dict[str, Any]) -> None:
    report = verify_bundle(json.loads(json.dumps(bundle)))
    assert report.ok and report.checked == 5
    assert not report.key_pinned


def test_changed_state_is_pinpointed(bundle: dict[str, Any]) -> None:
    event = bundle["events"][2]
    event["state"] = base64.b64encode(b'{"rotation": 99}').decode()
    report = verify_bundle(bundle, SIGNER.public_key)
    assert not report.ok
    assert report.problems == [f"{label(event)}: hash does not match its content"]


def test_changed_state_with_a_matching_hash_is_caught(bundle: dict[str, Any]) -> None:
    events = bundle["events"]
    state = b'{"rotation": 99}'
    previous = bytes.fromhex(events[1]["event_hash"])
    events[2]["state"] = base64.b64encode(state).decode()
    events[2]["event_hash"] = event_hash(previous, TRAINEE, 3, TOPIC, state).hex()
    problems = verify_bundle(bundle, SIGNER.public_key).problems
    assert any(p.startswith(label(events[2])) and "inclusion proof" in p for p in problems)
    assert f"{label(events[3])}: hash does not match its content" in problems


def test_changed_event_hash_is_caught(bundle: dict[str, Any]) -> None:
    event = bundle["events"][1]
    event["event_hash"] = hashlib.sha256(b"forged").hexdigest()
    problems = verify_bundle(bundle).problems
    assert f"{label(event)}: hash does not match its content" in problems
    assert any(p.startswith(label(event)) and "inclusion proof" in p for p in problems)


def test_removed_event_is_caught(bundle: dict[str, Any]) -> None:
    del bundle["events"][2]
    report = verify_bundle(bundle, SIGNER.public_key)
    assert not report.ok
    now_third = bundle["events"][2]
    assert any(
        p.startswith(label(now_third)) and "expected version 3" in p for p in report.problems
    )
    assert f"{label(now_third)}: hash does not match its content" in report.problems


def test_removed_first_event_is_caught(bundle: dict[str, Any]) -> None:
    del bundle["events"][0]
    report = verify_bundle(bundle)
    assert not report.ok
    assert any("expected version 1" in p for p in report.problems)


def test_swapped_events_are_caught(bundle: dict[str, Any]) -> None:
    events = bundle["events"]
    events[1], events[2] = events[2], events[1]
    problems = verify_bundle(bundle, SIGNER.public_key).problems
    assert any(p.startswith(label(events[1])) and "expected version 2" in p for p in problems)
    assert any(p.startswith(label(events[2])) and "does not come after" in p for p in problems)


def test_bad_proof_is_caught(bundle: dict[str, Any]) -> None:
    event = bundle["events"][0]
    node = bytearray.fromhex(event["inclusion_proof"][1])
    node[5] ^= 0x01
    event["inclusion_proof"][1] = node.hex()
    problems = verify_bundle(bundle, SIGNER.public_key).problems
    assert problems == [
        f"{label(event)}: inclusion proof does not lead to the checkpoint's root from leaf 1"
    ]


def test_wrong_leaf_index_is_caught(bundle: dict[str, Any]) -> None:
    bundle["events"][0]["leaf_index"] = 0
    bundle["events"][1]["leaf_index"] = LOG_SIZE
    problems = verify_bundle(bundle).problems
    assert len(problems) == 2
    assert "outside the checkpoint's tree of 17 leaves" in problems[1]


def test_forged_checkpoint_root_is_caught(bundle: dict[str, Any]) -> None:
    bundle["checkpoint"]["root_hash"] = hashlib.sha256(b"another log").hexdigest()
    report = verify_bundle(bundle)
    assert not report.ok
    assert any("signature does not verify" in p for p in report.problems)
    assert sum("inclusion proof" in p for p in report.problems) == 5


def test_rebuilt_log_signed_by_another_key_needs_the_trusted_key_to_catch() -> None:
    forger = CheckpointSigner.from_seed(hashlib.sha256(b"forger").digest())
    streams, checkpoint = build_log(forger, trainee_states={3: b'{"rotation": "forged"}'})
    forged = bundle_document(TRAINEE, streams[TRAINEE], checkpoint, WHEN)
    unpinned = verify_bundle(forged)
    assert unpinned.ok and not unpinned.key_pinned  # only a pinned key can tell
    pinned = verify_bundle(forged, trusted_public_key=SIGNER.public_key)
    assert not pinned.ok and pinned.key_pinned
    assert len(pinned.problems) == 1 and "not by the trusted key" in pinned.problems[0]


def test_wrong_trusted_key_is_reported(bundle: dict[str, Any]) -> None:
    report = verify_bundle(bundle, trusted_public_key=CheckpointSigner.generate().public_key)
    assert not report.ok and report.key_pinned
    assert "not by the trusted key" in report.problems[0]


def test_event_of_another_trainee_is_caught() -> None:
    streams, checkpoint = build_log()
    # The other trainee's first event is genuine, chained and in the log, but not ours.
    events = [streams[OTHER_TRAINEE][0], *streams[TRAINEE][1:]]
    document = bundle_document(TRAINEE, events, checkpoint, WHEN)
    problems = verify_bundle(document, SIGNER.public_key).problems
    intruder = document["events"][0]
    assert f"{label(intruder)}: belongs to {OTHER_TRAINEE}, not trainee {TRAINEE}" in problems


def test_bundle_for_a_different_trainee_id_is_caught(bundle: dict[str, Any]) -> None:
    bundle["trainee_id"] = str(OTHER_TRAINEE)
    report = verify_bundle(bundle)
    assert sum("belongs to" in p for p in report.problems) == 5


def test_empty_bundle_proves_nothing(bundle: dict[str, Any]) -> None:
    bundle["events"] = []
    report = verify_bundle(bundle)
    assert not report.ok and report.checked == 0
    assert "no events" in report.problems[0]


def mutate(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = genuine_bundle()
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


DELETE = object()
EVENT = ("events", 0)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("format",), "dualtrack-evidence/2", "format"),
        (("format",), DELETE, "format"),
        (("trainee_id",), 17, "trainee_id"),
        (("trainee_id",), "not-a-uuid", "trainee_id"),
        (("exported_at",), DELETE, "exported_at"),
        (("exported_at",), "last tuesday", "exported_at"),
        (("checkpoint",), DELETE, "checkpoint is not a JSON object"),
        (("checkpoint", "tree_size"), "17", "'tree_size'"),
        (("checkpoint", "signature"), "abc", "'signature'"),
        (("events",), DELETE, "'events'"),
        (("events",), {"0": {}}, "'events'"),
        ((*EVENT,), "an event", "event #1 in the bundle: is not a JSON object"),
        ((*EVENT, "position"), "100", "'position'"),
        ((*EVENT, "position"), -1, "'position'"),
        ((*EVENT, "position"), 2**70, "'position'"),
        ((*EVENT, "leaf_index"), DELETE, "'leaf_index'"),
        ((*EVENT, "originator_id"), "trainee", "'originator_id'"),
        ((*EVENT, "version"), True, "'version'"),
        ((*EVENT, "version"), 0, "'version'"),
        ((*EVENT, "topic"), None, "'topic'"),
        ((*EVENT, "topic"), "\ud800", "'topic'"),
        ((*EVENT, "state"), "not base64!", "'state'"),
        ((*EVENT, "state"), ["bytes"], "'state'"),
        ((*EVENT, "event_hash"), "abcd", "'event_hash'"),
        ((*EVENT, "event_hash"), None, "'event_hash'"),
        ((*EVENT, "inclusion_proof"), "deadbeef", "'inclusion_proof'"),
        ((*EVENT, "inclusion_proof"), [None], "'inclusion_proof'"),
        ((*EVENT, "data"), "decoded", "'data'"),
    ],
)
def test_malformed_documents_are_reported_not_raised(
    path: tuple[Any, ...], value: Any, expected: str
) -> None:
    report = verify_bundle(mutate(path, value), SIGNER.public_key)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


@pytest.mark.parametrize(
    "document",
    [None, [], "bundle", 42, {}, {"format": FORMAT}, {"format": FORMAT, "events": [None, 1]}],
)
def test_garbage_is_reported_not_raised(document: Any) -> None:
    report = verify_bundle(document)
    assert not report.ok and report.problems
    assert report.checked == 0


def test_a_malformed_event_does_not_hide_the_others(bundle: dict[str, Any]) -> None:
    broken = copy.deepcopy(bundle)
    broken["events"][1]["state"] = 12
    broken["events"][3]["state"] = base64.b64encode(b"edited").decode()
    report = verify_bundle(broken)
    assert report.checked == 4
    assert report.problems[0].startswith("event #2 in the bundle")
    assert f"{label(broken['events'][3])}: hash does not match its content" in report.problems


def test_garbage_trusted_key_is_reported_not_raised(bundle: dict[str, Any]) -> None:
    report = verify_bundle(bundle, trusted_public_key="not bytes")  # type: ignore[arg-type]
    assert not report.ok and report.key_pinned


def test_export_time_must_be_aware() -> None:
    streams, checkpoint = build_log()
    with pytest.raises(ValueError, match="timezone-aware"):
        bundle_document(TRAINEE, streams[TRAINEE], checkpoint, datetime(2026, 11, 22))


def test_checking_needs_no_database_or_web_framework() -> None:
    # In a fresh interpreter, since this test session has already imported the whole app.
    forbidden = (
        "sqlalchemy alembic psycopg2 eventsourcing fastapi starlette strawberry pydantic "
        "uvicorn yaml domain service projections api cli migrations"
    )
    probe = (
        "import sys, integrity.bundle, integrity.checkpoints, integrity.merkle\n"
        f"print(' '.join(name for name in {forbidden.split()!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []
