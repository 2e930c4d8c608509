"""The audit trail as an auditor reads it: who recorded what, when it happened against when
it was recorded, corrections beside what they correct, and hashes that check out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from integrity import merkle
from integrity.checkpoints import Checkpoint, verify_checkpoint
from service.bootstrap import Services
from tests.api.conftest import GraphQL, event_count
from tests.callers import trainee as trainee_
from tests.callers import tutor

TRAIL = """
query($t: ID!) {
  trainee(id: $t) {
    handbook { rotations { entries { id description occurredOn signedBy retracted } } }
    auditTrail(first: 100) {
      items { position type version actor occurredOn recordedAt lagDays late backdated
              corrects correctedBy hash data }
    }
  }
}"""
TUTOR = """mutation($t: ID!) { assignTutor(traineeId: $t, tutorId: "dr-wang",
           role: ROTATING_TUTOR, department: "cardiology", assignedOn: "2026-09-01") { id } }"""
SCHEDULE = """mutation($t: ID!) { scheduleRotation(traineeId: $t, department: "cardiology",
           stage: 1, startOn: "2026-09-01", endOn: "2026-12-01") { id } }"""
ENTRY = """mutation($t: ID!, $r: ID!, $on: Date!, $what: String!) {
  recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE, occurredOn: $on,
                      description: $what) { id position } }"""
SIGN = """mutation($t: ID!, $e: ID!) {
  signRotationEntry(traineeId: $t, entryId: $e, tutorId: "dr-wang") { position } }"""
CORRECT = """mutation($t: ID!, $e: ID!, $on: Date!, $what: String!, $why: String!) {
  correctRotationEntry(traineeId: $t, entryId: $e, kind: CASE, occurredOn: $on,
                       description: $what, reason: $why) { id position } }"""
RETRACT = """mutation($t: ID!, $e: ID!) {
  retractRotationEntry(traineeId: $t, entryId: $e, reason: "entered twice") { position } }"""


def trail(gql: GraphQL, trainee: str) -> list[dict[str, Any]]:
    return list(gql.ok(TRAIL, t=trainee)["trainee"]["auditTrail"]["items"])


def entries(gql: GraphQL, trainee: str) -> dict[str, dict[str, Any]]:
    rotations = gql.ok(TRAIL, t=trainee)["trainee"]["handbook"]["rotations"]
    return {entry["id"]: entry for rotation in rotations for entry in rotation["entries"]}


def kept_handbook(gql: GraphQL) -> tuple[str, str]:
    """Today is 2026-11-22 (Shanghai); the rotation runs from 2026-09-01."""
    trainee = gql.enroll(enrolledOn="2026-09-01", cohort=2026)
    gql.ok(TUTOR, t=trainee)
    return trainee, gql.ok(SCHEDULE, t=trainee)["scheduleRotation"]["id"]


def test_business_time_recorded_time_and_who_side_by_side(gql: GraphQL) -> None:
    trainee, rotation = kept_handbook(gql)
    timely = gql.ok(ENTRY, as_=trainee_(trainee),
                    t=trainee, r=rotation, on="2026-11-20", what="pneumonia")
    late = gql.ok(ENTRY, as_=trainee_(trainee), t=trainee, r=rotation, on="2026-09-10",
                  what="heart failure")
    by_position = {item["position"]: item for item in trail(gql, trainee)}
    on_time, behind = (by_position[timely["recordRotationEntry"]["position"]],
                       by_position[late["recordRotationEntry"]["position"]])
    assert on_time["occurredOn"] == "2026-11-20" and on_time["recordedAt"].startswith("2026-11-22")
    assert (on_time["lagDays"], on_time["late"], on_time["backdated"]) == (2, False, False)
    # 73 days after the fact, and dated before the entry already on the record.
    assert (behind["lagDays"], behind["late"], behind["backdated"]) == (73, True, True)
    assert behind["actor"] == trainee  # the trainee, from their token


def test_a_correction_stands_beside_what_it_corrects(gql: GraphQL, services: Services) -> None:
    trainee, rotation = kept_handbook(gql)
    recorded = gql.ok(ENTRY, as_=trainee_(trainee), t=trainee, r=rotation, on="2026-11-20",
                      what="pnuemonia")["recordRotationEntry"]
    gql.ok(SIGN, as_=tutor("dr-wang"), t=trainee, e=recorded["id"])
    corrected = gql.ok(CORRECT, as_=trainee_(trainee), t=trainee, e=recorded["id"], on="2026-11-19",
                       what="community-acquired pneumonia",
                       why="misspelt, and seen the day before")["correctRotationEntry"]

    entry = entries(gql, trainee)[recorded["id"]]
    assert (entry["description"], entry["occurredOn"]) == (
        "community-acquired pneumonia", "2026-11-19")
    assert entry["signedBy"] is None  # the tutor signed the old content; sign again
    by_position = {item["position"]: item for item in trail(gql, trainee)}
    original, correction = by_position[recorded["position"]], by_position[corrected["position"]]
    assert original["data"]["description"] == "pnuemonia"  # the record as first made stays
    assert original["correctedBy"] == [corrected["position"]]
    assert correction["type"] == "RotationEntryCorrected"
    assert correction["corrects"] == recorded["position"]
    assert correction["data"]["reason"] == "misspelt, and seen the day before"

    retracted = gql.ok(RETRACT, as_=trainee_(trainee),
                       t=trainee, e=recorded["id"])["retractRotationEntry"]
    original = {item["position"]: item for item in trail(gql, trainee)}[recorded["position"]]
    assert original["correctedBy"] == [corrected["position"], retracted["position"]]

    before = event_count(services)
    refused = gql.error(CORRECT, as_=trainee_(trainee),
                        t=trainee, e=recorded["id"], on="2026-11-19", what="x",
                        why="again")
    assert "retracted" in refused["message"]
    assert event_count(services) == before


def test_a_correction_is_checked_like_an_entry(gql: GraphQL, services: Services) -> None:
    trainee, rotation = kept_handbook(gql)
    entry = gql.ok(ENTRY, as_=trainee_(trainee), t=trainee, r=rotation, on="2026-11-20",
                   what="pneumonia")["recordRotationEntry"]["id"]
    before = event_count(services)
    outside = gql.error(CORRECT, as_=trainee_(trainee),
                        t=trainee, e=entry, on="2026-08-01", what="x", why="y")
    assert "is outside rotation" in outside["message"]
    blank = gql.error(CORRECT, as_=trainee_(trainee),
                      t=trainee, e=entry, on="2026-11-20", what="x", why="  ")
    assert "reason must not be empty" in blank["message"]
    assert event_count(services) == before


def test_every_hash_in_the_trail_is_the_sealed_one_and_proves_into_a_checkpoint(
    gql: GraphQL, services: Services
) -> None:
    trainee, rotation = kept_handbook(gql)
    gql.ok(ENTRY, as_=trainee_(trainee), t=trainee, r=rotation, on="2026-11-20", what="pneumonia")
    services.evidence.checkpoint()
    with services.engine.connect() as connection:
        sealed = dict(connection.execute(sa.text(
            "SELECT position, event_hash FROM integrity_leaves")).all())
    items = trail(gql, trainee)
    assert [item["hash"] for item in items] == [sealed[int(item["position"])] for item in items]

    report = gql.ok("{ verifyIntegrity { ok checked firstBadPosition checkpointsVerified } }")
    assert report["verifyIntegrity"] == {
        "ok": True, "checked": len(sealed), "firstBadPosition": None,
        "checkpointsVerified": len(services.evidence.checkpoints())}
    mine = gql.ok("query($t: ID!) { verifyIntegrity(traineeId: $t) { ok checked } }", t=trainee)
    assert mine["verifyIntegrity"] == {"ok": True, "checked": len(items)}

    answer = gql.ok("""query($p: String!) { inclusionProof(position: $p) {
        leafIndex leafHash proof checkpoint { origin tree_size: treeSize root_hash: rootHash
        timestamp key_id: keyId public_key: publicKey signature } } }""",
                    p=items[-1]["position"])["inclusionProof"]
    checkpoint = Checkpoint.from_json(answer["checkpoint"])
    verify_checkpoint(checkpoint, services.ledger.signer.public_key)
    assert merkle.verify_inclusion(
        bytes.fromhex(answer["leafHash"]), answer["leafIndex"], checkpoint.tree_size,
        [bytes.fromhex(node) for node in answer["proof"]], checkpoint.root_hash)


def test_proof_requests_that_cannot_be_answered_say_why(gql: GraphQL) -> None:
    gql.enroll()
    assert "no signed checkpoint of size 999" in gql.error(
        "{ consistencyProof(fromSize: 999) { proof } }")["message"]
    assert "not a cursor" in gql.error(
        '{ inclusionProof(position: "abc") { proof } }')["message"]
    assert "no sealed event at position" in gql.error(
        '{ inclusionProof(position: "0000000000009999") { proof } }')["message"]


def test_the_event_tables_only_grow(gql: GraphQL, services: Services) -> None:
    """Nothing the service does, corrections and rebuilds included, updates or deletes a
    stored event or a piece of evidence: every earlier row is still there, byte for byte."""
    trainee, rotation = kept_handbook(gql)
    first = gql.ok(ENTRY, as_=trainee_(trainee), t=trainee, r=rotation, on="2026-11-20",
                   what="pneumonia")["recordRotationEntry"]["id"]
    services.evidence.checkpoint()
    before = evidence_rows(services)

    gql.ok(SIGN, as_=tutor("dr-wang"), t=trainee, e=first)
    gql.ok(CORRECT, as_=trainee_(trainee),
           t=trainee, e=first, on="2026-11-20", what="pneumonia, severe", why="detail")
    gql.ok(RETRACT, as_=trainee_(trainee), t=trainee, e=first)
    services.projector.rebuild()
    services.evidence.checkpoint()
    after = evidence_rows(services)

    for table, rows in before.items():
        assert rows <= after[table], f"{table} lost or changed rows"
        assert len(after[table]) > len(rows), f"{table} did not grow"


def evidence_rows(services: Services) -> dict[str, set[tuple[Any, ...]]]:
    tables = {"dualtrack_events": "id, originator_id, originator_version, topic, state",
              "integrity_leaves": "*", "integrity_nodes": "*", "integrity_checkpoints": "*"}
    with services.engine.connect() as connection:
        return {
            table: {tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                    for row in connection.execute(sa.text(f"SELECT {columns} FROM {table}"))}
            for table, columns in tables.items()
        }
