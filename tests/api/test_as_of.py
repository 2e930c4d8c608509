"""Auditors replay any moment: `trainee(asOf:, version:)`, `Trainee.versions` and
`traineeChanges`, computed from the events, on both backends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from projections import replay
from projections import tables as rm
from service.bootstrap import Services
from service.clock import FixedClock
from tests.api.conftest import GraphQL
from tests.rich_history import Rich, rich_history

TRAINEE = """
query($id: ID!, $asOf: DateTime, $version: Int) {
  trainee(id: $id, asOf: $asOf, version: $version) {
    id name pathway degreeCategory licensedAtEnrollment specialty baseId university cohort
    enrolledOn stage version level
    standard { id version } policy { id }
    completionExam { eligible unmet }
    tutors { tutorId role department assignedOn }
    handbook {
      clinicalMonths creditedPriorMonths residentDutyMonths complete missing
      rotations { id department stage startOn endOn completed tutorId
        entries { id kind occurredOn description signedBy late retracted } }
      assessments { id kind occurredOn assessorId rotationId overall passed ratings }
    }
    certificates { kind state number grantedOn unmet revocationReason }
    auditTrail(first: 500) {
      items { position id type traineeId version occurredOn recordedAt actor data hash
              lagDays late backdated corrects correctedBy }
      nextCursor hasMore
    }
    versions { version position type occurredOn recordedAt actor }
  }
}"""

TRAIL_PAGE = """
query($id: ID!, $asOf: DateTime, $after: String) {
  trainee(id: $id, asOf: $asOf) {
    auditTrail(first: 2, after: $after) { items { version } nextCursor hasMore }
  }
}"""

CHANGES = """
query($id: ID!, $from: Int!, $to: Int) {
  traineeChanges(id: $id, fromVersion: $from, toVersion: $to) {
    fromVersion toVersion
    events { version type actor position hash }
    changes { path before after }
  }
}"""


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def read(gql: GraphQL, trainee_id: uuid.UUID, **arguments: Any) -> Any:
    return gql.ok(TRAINEE, id=str(trainee_id), **arguments)["trainee"]


def build(
    gql: GraphQL, services: Services, clock: FixedClock
) -> tuple[Rich, list[tuple[datetime, Any]]]:
    """Runs the rich history an hour apart, capturing the live answer after each step."""
    rich = rich_history(services)
    seen = []
    for _, step in rich.steps:
        clock.advance(hours=1)
        step()
        services.projector.catch_up()
        seen.append((clock.now(), read(gql, rich.trainee_id)))
    return rich, seen


def test_as_of_each_step_and_at_each_version_equals_the_live_answer_then(
    gql: GraphQL, services: Services, clock: FixedClock
) -> None:
    rich, seen = build(gql, services, clock)
    t = rich.trainee_id
    assert [answer["version"] for _, answer in seen] == list(range(1, len(seen) + 1))
    for moment, answer in seen:
        assert read(gql, t, asOf=stamp(moment)) == answer
        assert read(gql, t, version=answer["version"]) == answer
        # the same instant in Beijing time is the same moment
        beijing = moment.astimezone(services.settings.zone)
        assert read(gql, t, asOf=stamp(beijing)) == answer
    now = read(gql, t)
    assert read(gql, t, asOf=stamp(clock.now())) == now == seen[-1][1]
    assert read(gql, t, asOf=stamp(clock.now() + timedelta(days=365))) == now
    assert read(gql, t, asOf=stamp(clock.now()), version=3) == seen[2][1]
    assert read(gql, t, asOf=stamp(seen[2][0]), version=30) == seen[2][1]
    # the record as it stood is not the record now
    assert seen[5][1] != now and seen[5][1]["auditTrail"]["items"] == \
        now["auditTrail"]["items"][:6]


def test_as_of_is_computed_from_the_events_not_from_the_read_models(
    gql: GraphQL, services: Services, clock: FixedClock
) -> None:
    rich, seen = build(gql, services, clock)
    t = rich.trainee_id
    with services.engine.begin() as connection:
        connection.execute(rm.rotation_entries.update().values(signed_by="forger"))
        connection.execute(rm.trainees.update().values(name="Someone Else"))
    replay.clear_cache(services.records)
    assert read(gql, t)["name"] == "Someone Else"  # the live answer reads the read models
    assert read(gql, t, asOf=stamp(clock.now())) == seen[-1][1]
    with services.engine.begin() as connection:
        for table in reversed(rm.READ_MODEL_TABLES):
            connection.execute(table.delete())
    replay.clear_cache(services.records)
    assert read(gql, t) is None
    for moment, answer in seen[::7]:
        assert read(gql, t, asOf=stamp(moment)) == answer
    assert read(gql, t, asOf=stamp(clock.now())) == seen[-1][1]


def test_versions_list_the_audit_trail_live_and_as_of(
    gql: GraphQL, services: Services, clock: FixedClock
) -> None:
    rich, seen = build(gql, services, clock)
    keys = ("version", "position", "type", "occurredOn", "recordedAt", "actor")
    for _, answer in (seen[0], seen[9], seen[-1]):
        trail = answer["auditTrail"]["items"]
        assert answer["versions"] == [{k: item[k] for k in keys} for item in trail]
        assert [v["version"] for v in answer["versions"]] == list(range(1, answer["version"] + 1))
    moment = stamp(seen[9][0])
    assert read(gql, rich.trainee_id, asOf=moment)["versions"] == seen[9][1]["versions"]
    pages, after = [], None
    while True:
        page = gql.ok(TRAIL_PAGE, id=str(rich.trainee_id), asOf=moment,
                      after=after)["trainee"]["auditTrail"]
        pages.append([item["version"] for item in page["items"]])
        after = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert pages == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]


def first_version(seen: list[tuple[datetime, Any]], event_type: str) -> int:
    return next(int(v["version"]) for v in seen[-1][1]["versions"] if v["type"] == event_type)


def test_changes_between_two_versions_list_the_events_between_and_the_changed_paths(
    gql: GraphQL, services: Services, clock: FixedClock
) -> None:
    rich, seen = build(gql, services, clock)
    t = str(rich.trainee_id)
    entry, rotation, tutor = rich.entries[0]
    recorded = first_version(seen, "RotationEntryRecorded")  # rich.entries[0]'s
    signed = recorded + 1
    result = gql.ok(CHANGES, id=t, **{"from": recorded, "to": signed})["traineeChanges"]
    assert (result["fromVersion"], result["toVersion"]) == (recorded, signed)
    assert [(e["version"], e["type"], e["actor"]) for e in result["events"]] == [
        (signed, "RotationEntrySigned", tutor)]
    changes = {c["path"]: (c["before"], c["after"]) for c in result["changes"]}
    assert changes[f"handbook.rotations[{rotation}].entries[{entry}].signedBy"] == (None, tutor)
    assert changes["version"] == (recorded, signed)

    retracted = first_version(seen, "RotationEntryRetracted")
    result = gql.ok(CHANGES, id=t, **{"from": retracted - 1, "to": retracted})["traineeChanges"]
    changes = {c["path"]: (c["before"], c["after"]) for c in result["changes"]}
    wrong = f"handbook.rotations[{rich.rotations[0]}].entries[{rich.retracted}]"
    assert changes[f"{wrong}.retracted"] == (False, True)
    assert changes[f"{wrong}.retractionReason"] == (None, "recorded on the wrong trainee")

    # a whole rotation scheduled: one change, null before
    scheduled = first_version(seen, "RotationScheduled")
    result = gql.ok(CHANGES, id=t, **{"from": scheduled - 1, "to": scheduled})["traineeChanges"]
    path = f"handbook.rotations[{rich.rotations[0]}]"
    added = [c for c in result["changes"] if c["path"] == path]
    assert len(added) == 1 and added[0]["before"] is None
    assert added[0]["after"]["department"] == "ward" and added[0]["after"]["entries"] == {}

    # to the latest by default; the events are the audit trail's, the changes the document's
    latest = seen[-1][1]
    result = gql.ok(CHANGES, id=t, **{"from": 0})["traineeChanges"]
    assert result["toVersion"] == latest["version"]
    trail = latest["auditTrail"]["items"]
    assert result["events"] == [{k: e[k] for k in ("version", "type", "actor", "position", "hash")}
                                for e in trail]
    paths = {c["path"]: c for c in result["changes"]}  # from nothing: each field whole
    assert all(c["before"] is None for c in result["changes"])
    assert paths["certificates"]["after"]["DIPLOMA"]["state"] == "REVOKED"
    assert paths["stage"] == {"path": "stage", "before": None, "after": latest["stage"]}
    degree = gql.ok(CHANGES, id=t, **{"from": latest["version"] - 2,
                                      "to": latest["version"] - 1})["traineeChanges"]
    assert {"path": "certificates[DEGREE].state", "before": "ELIGIBLE", "after": "GRANTED"} \
        in degree["changes"]
    same = gql.ok(CHANGES, id=t, **{"from": 5, "to": 5})["traineeChanges"]
    assert same["events"] == [] and same["changes"] == []


def test_bad_arguments_are_refused_by_name_and_before_enrollment_is_null(
    gql: GraphQL, services: Services, clock: FixedClock
) -> None:
    rich, seen = build(gql, services, clock)
    t, latest = str(rich.trainee_id), seen[-1][1]["version"]
    naive = gql.error(TRAINEE, id=t, asOf="2026-11-22T10:00:00")
    assert naive["extensions"]["code"] == "BAD_USER_INPUT"
    assert "asOf" in naive["message"] and "time zone" in naive["message"]
    before = seen[0][0] - timedelta(seconds=1)
    assert read(gql, rich.trainee_id, asOf=stamp(before)) is None
    assert read(gql, rich.trainee_id, version=0) is None
    assert read(gql, uuid.uuid4(), asOf=stamp(clock.now())) is None
    # a national-ID claim is never told apart from no trainee
    claim = services.records.national_id_claim_id("P-REPLAY-0001")
    assert read(gql, claim, version=5) is None and read(gql, claim, version=1) is None
    assert gql.error(CHANGES, id=str(claim), **{"from": 0})["extensions"]["code"] == "NOT_FOUND"
    beyond = gql.error(TRAINEE, id=t, version=latest + 1)
    assert beyond["extensions"]["code"] == "BAD_USER_INPUT"
    assert beyond["message"] == f"version {latest + 1} is beyond the trainee's latest " \
        f"version {latest}"
    assert "version" in gql.error(TRAINEE, id=t, version=-1)["message"]

    def refused(**arguments: Any) -> Any:
        return gql.error(CHANGES, **arguments)

    unknown = refused(id=str(uuid.uuid4()), **{"from": 0})
    assert unknown["extensions"]["code"] == "NOT_FOUND" and unknown["message"].startswith("id ")
    negative = refused(id=t, **{"from": -1})
    assert negative["extensions"]["code"] == "BAD_USER_INPUT"
    assert negative["message"] == "fromVersion must be 0 or more, got -1"
    backwards = refused(id=t, **{"from": 5, "to": 4})
    assert backwards["message"] == "fromVersion 5 is after toVersion 4"
    assert refused(id=t, **{"from": latest + 1})["message"] == \
        f"fromVersion {latest + 1} is after toVersion {latest}"
    too_far = refused(id=t, **{"from": 1, "to": latest + 1})
    assert too_far["extensions"]["code"] == "BAD_USER_INPUT"
    assert too_far["message"] == f"toVersion {latest + 1} is beyond the trainee's latest " \
        f"version {latest}"
    assert refused(id="not-an-id", **{"from": 0})["message"].startswith("id is not a valid id")
