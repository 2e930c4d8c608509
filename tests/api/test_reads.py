"""Paging, statement counts, and the API served by a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from service.bootstrap import Services
from tests.api.conftest import ENROLL, GraphQL, enrollment
from tests.callers import base_admin
from tests.callers import trainee as own
from tests.servers import serving


def test_trainees_and_events_page_with_opaque_cursors(gql: GraphQL) -> None:
    ids = sorted(gql.enroll(nationalId=f"1101011999010100{n:02d}") for n in range(5))
    seen, after = [], None
    while True:
        page = gql.ok("""query($after: String) { trainees(first: 2, after: $after) {
                         items { id } nextCursor hasMore } }""", after=after)["trainees"]
        seen += [item["id"] for item in page["items"]]
        if not page["hasMore"]:
            break
        after = page["nextCursor"]
    assert seen == ids

    positions, after = [], None
    for _ in range(10):
        page = gql.ok("""query($after: String) { events(first: 4, after: $after,
                         types: ["TraineeEnrolled"]) { items { position type }
                         nextCursor hasMore } }""", after=after)["events"]
        positions += [item["position"] for item in page["items"]]
        after = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert len(positions) == 5 and positions == sorted(positions)
    assert gql.ok("""query { trainees(baseId: "base-1", cohort: 2025) { items { id } } }""")[
        "trainees"]["items"]
    assert gql.ok("""query { trainees(cohort: 1999) { items { id } hasMore } }""") == {
        "trainees": {"items": [], "hasMore": False}}
    bad = gql.error("""query { events(after: "garbage") { hasMore } }""")
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = gql.error("""query { events(first: 100000) { hasMore } }""")
    assert "first must be between 1 and 500" in too_many["message"]


HANDBOOK = """query($t: ID!) { trainee(id: $t) { tutors { tutorId } certificates { state }
  handbook { rotations { department entries { kind occurredOn } }
    assessments { kind passed } } } }"""
SCHEDULE = """mutation($t: ID!, $s: Date!, $e: Date!) { scheduleRotation(traineeId: $t,
  department: "cardiology", stage: 1, startOn: $s, endOn: $e) { id } }"""
RECORD_ENTRY = """mutation($t: ID!, $r: ID!, $on: Date!) { recordRotationEntry(traineeId: $t,
  rotationId: $r, kind: CASE, occurredOn: $on, description: "case") { id } }"""
RECORD_EXAM = """mutation($t: ID!, $r: ID!, $on: Date!) { recordAssessment(traineeId: $t,
  kind: DEPARTURE_EXAM, occurredOn: $on, rotationId: $r, passed: true) { id } }"""


def handbook_statements(
    gql: GraphQL, services: Services, *, rotations: int, entries: int, assessments: int
) -> int:
    """SQL statements run by one handbook request of a trainee with `rotations` rotations,
    each with `entries` entries, and `assessments` assessments."""
    serial = rotations * 10000 + entries * 100 + assessments
    t = gql.enroll(nationalId=f"22010119990{serial:07d}", enrolledOn="2025-01-01")
    for month in range(rotations):
        start, end = f"2025-{month + 1:02d}-01", f"2025-{month + 2:02d}-01"
        rotation = gql.ok(SCHEDULE, t=t, s=start, e=end)["scheduleRotation"]["id"]
        for _ in range(entries):
            gql.ok(RECORD_ENTRY, as_=own(t), t=t, r=rotation, on=start)
        if month == 0:
            for _ in range(assessments):
                gql.ok(RECORD_EXAM, t=t, r=rotation, on=start)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(services.engine, "before_cursor_execute", count)
    try:
        trainee = gql.ok(HANDBOOK, t=t)["trainee"]
    finally:
        sa.event.remove(services.engine, "before_cursor_execute", count)
    handbook = trainee["handbook"]
    assert len(handbook["rotations"]) == rotations
    assert [len(r["entries"]) for r in handbook["rotations"]] == [entries] * rotations
    assert len(handbook["assessments"]) == assessments
    return len(statements)


def test_a_handbook_costs_the_same_statements_however_long_it_is(
    gql: GraphQL, services: Services
) -> None:
    """No N+1: more rotations, more entries and more assessments cost no more statements."""
    short = handbook_statements(gql, services, rotations=1, entries=1, assessments=1)
    assert handbook_statements(gql, services, rotations=4, entries=1, assessments=1) == short
    assert handbook_statements(gql, services, rotations=1, entries=5, assessments=1) == short
    assert handbook_statements(gql, services, rotations=1, entries=1, assessments=4) == short
    assert handbook_statements(gql, services, rotations=3, entries=4, assessments=3) == short


@pytest.fixture
def server_url(services: Services) -> Iterator[str]:
    with serving(create_app(services)) as url:
        yield url


def test_a_real_server_records_and_answers_over_http(
    server_url: str, services: Services
) -> None:
    registrar = base_admin(name="registrar").authorization(services.settings)
    with httpx.Client(base_url=server_url, timeout=30) as client:
        assert client.get("/health").json() == {"status": "ok"}
        enrolled = client.post(
            "/graphql", json={"query": ENROLL, "variables": {"input": enrollment()}},
            headers=registrar,
        ).json()
        trainee_id = enrolled["data"]["enrollTrainee"]["traineeId"]
        read = client.post("/graphql", json={
            "query": "query($t: ID!) { trainee(id: $t) { name auditTrail { items { actor } } } }",
            "variables": {"t": trainee_id},
        }, headers=own(trainee_id).authorization(services.settings)).json()
    assert read["data"]["trainee"]["name"] == "Li Lei"
    # The actor is the token's subject, whatever the request says.
    assert read["data"]["trainee"]["auditTrail"]["items"][0]["actor"] == "registrar"
