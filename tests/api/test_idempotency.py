"""The Idempotency-Key header: a retry after a lost response returns the original result
and writes nothing new, across restarts; a key reused for another request is refused."""

from __future__ import annotations

import threading

import httpx

from api.app import create_app
from service import bootstrap
from service.bootstrap import Services
from service.clock import FixedClock
from service.settings import Settings
from tests.api.conftest import ENROLL, GraphQL, enrollment, event_count
from tests.api.test_record_flow import SCHEDULE
from tests.callers import trainee as own

ENTRY = """
mutation($t: ID!, $r: ID!, $text: String!) {
  recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE, occurredOn: "2025-09-10",
                      description: $text) { id position traineeId }
}"""
HANDBOOK_ENTRIES = """
query($t: ID!) { trainee(id: $t) { version handbook { rotations { entries { id } } } } }"""


def a_rotation(gql: GraphQL) -> tuple[str, str]:
    trainee_id = gql.enroll()
    rotation_id = gql.ok(SCHEDULE, t=trainee_id, dept="cardiology", start="2025-09-01",
                         end="2025-12-01")["scheduleRotation"]["id"]
    return trainee_id, rotation_id


def record(client: GraphQL, trainee_id: str, rotation_id: str, text: str) -> object:
    """The trainee records an entry (only a trainee may)."""
    return client.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text=text)


def entry_ids(gql: GraphQL, trainee_id: str) -> list[str]:
    rotations = gql.ok(HANDBOOK_ENTRIES, t=trainee_id)["trainee"]["handbook"]["rotations"]
    return [entry["id"] for rotation in rotations for entry in rotation["entries"]]


def test_a_retried_command_returns_its_original_result_and_writes_nothing(
    gql: GraphQL, services: Services
) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    keyed = gql.with_headers(**{"Idempotency-Key": "tablet-7/entry-1"})
    first = keyed.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
    written = event_count(services)

    again = keyed.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")

    assert again == first
    assert event_count(services) == written
    assert entry_ids(gql, trainee_id) == [first["recordRotationEntry"]["id"]]


def test_without_a_key_the_same_request_is_recorded_twice(gql: GraphQL) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    gql.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
    gql.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
    assert len(entry_ids(gql, trainee_id)) == 2


def test_a_key_reused_for_another_request_is_refused_and_nothing_is_written(
    gql: GraphQL, services: Services
) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    keyed = gql.with_headers(**{"Idempotency-Key": "k-1"})
    keyed.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
    written = event_count(services)

    error = keyed.error(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="asthma")

    assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "different request" in error["message"]
    assert event_count(services) == written


def test_keys_belong_to_their_caller(gql: GraphQL) -> None:
    """Two trainees' tablets may choose the same key: each records its own entry."""
    keyed = gql.with_headers(**{"Idempotency-Key": "shared-key"})
    recorded = []
    for national_id in ("110101199901011234", "110101199901015678"):
        trainee_id = gql.enroll(nationalId=national_id)
        rotation_id = gql.ok(SCHEDULE, t=trainee_id, dept="cardiology", start="2025-09-01",
                             end="2025-12-01")["scheduleRotation"]["id"]
        keyed.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
        recorded.append(len(entry_ids(gql, trainee_id)))
    assert recorded == [1, 1]


def test_each_mutation_of_a_request_has_its_own_receipt(gql: GraphQL) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    two = """
    mutation($t: ID!, $r: ID!) {
      a: recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE,
                             occurredOn: "2025-09-10", description: "one") { id }
      b: recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE,
                             occurredOn: "2025-09-10", description: "one") { id }
    }"""
    keyed = gql.with_headers(**{"Idempotency-Key": "batch-1"})
    first = keyed.ok(two, as_=own(trainee_id), t=trainee_id, r=rotation_id)
    again = keyed.ok(two, as_=own(trainee_id), t=trainee_id, r=rotation_id)
    assert again == first and first["a"]["id"] != first["b"]["id"]
    assert sorted(entry_ids(gql, trainee_id)) == sorted([first["a"]["id"], first["b"]["id"]])


def test_a_retried_enrollment_returns_the_trainee_not_a_conflict(
    gql: GraphQL, services: Services
) -> None:
    keyed = gql.with_headers(**{"Idempotency-Key": "enrol-li-lei"})
    first = keyed.ok(ENROLL, input=enrollment())
    written = event_count(services)
    assert keyed.ok(ENROLL, input=enrollment()) == first
    assert event_count(services) == written
    # Without the key the same enrollment is what it is: a second one, refused.
    assert gql.error(ENROLL, input=enrollment())["extensions"]["code"] == "CONFLICT"


def test_a_bad_key_is_refused_by_name_and_nothing_is_written(
    gql: GraphQL, services: Services
) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    written = event_count(services)
    for bad in ("x" * 300, "tab\tinside"):
        error = gql.with_headers(**{"Idempotency-Key": bad}).error(
            ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="pneumonia")
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "Idempotency-Key" in error["message"]
    assert event_count(services) == written


def test_a_refused_command_leaves_its_key_free(gql: GraphQL) -> None:
    trainee_id, rotation_id = a_rotation(gql)
    keyed = gql.with_headers(**{"Idempotency-Key": "after-a-refusal"})
    unknown_rotation = "00000000-0000-0000-0000-000000000001"
    refusal = keyed.error(ENTRY, as_=own(trainee_id), t=trainee_id, r=unknown_rotation, text="x")
    assert refusal["extensions"]["code"] in {"NOT_FOUND", "BAD_USER_INPUT"}
    # The key recorded nothing, so the corrected request may use it.
    keyed.ok(ENTRY, as_=own(trainee_id), t=trainee_id, r=rotation_id, text="x")
    assert len(entry_ids(gql, trainee_id)) == 1


def test_the_original_result_survives_a_restart(settings: Settings, clock: FixedClock) -> None:
    def client(services: Services) -> GraphQL:
        return GraphQL(httpx.ASGITransport(app=create_app(services)), settings).with_headers(
            **{"Idempotency-Key": "survives"})

    before = bootstrap.build(settings, clock=clock)
    try:
        trainee_id, rotation_id = a_rotation(client(before))
        first = record(client(before), trainee_id, rotation_id, "pneumonia")
    finally:
        before.close()
    after = bootstrap.build(settings, clock=clock)
    try:
        written = event_count(after)
        assert record(client(after), trainee_id, rotation_id, "pneumonia") == first
        assert event_count(after) == written
    finally:
        after.close()


def test_concurrent_retries_of_one_key_record_it_once(
    gql: GraphQL, services: Services
) -> None:
    """The retries race each other into one batch and across batches: one is recorded,
    every one of them answers with its result."""
    trainee_id, rotation_id = a_rotation(gql)
    keyed = gql.with_headers(**{"Idempotency-Key": "raced"})
    answers: list[object] = []
    failures: list[BaseException] = []

    def retry() -> None:
        try:
            answers.append(record(keyed, trainee_id, rotation_id, "raced"))
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and len(answers) == 8
    assert all(answer == answers[0] for answer in answers)
    first: dict[str, dict[str, str]] = answers[0]  # type: ignore[assignment]
    assert entry_ids(gql, trainee_id) == [first["recordRotationEntry"]["id"]]
