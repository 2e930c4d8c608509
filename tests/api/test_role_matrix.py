"""Every operation of the schema, for every role: allowed, or refused with FORBIDDEN and
nothing written. The matrix must name every root field of the schema, so an operation
added later cannot escape it.

The world: one trainee of base-1 and Peking University, tutored by dr-wang in cardiology
(a rotating tutor, and the tutor of the cardiology rotation); a registry's webhook for
base-1 with a dead letter; a signed checkpoint before and after the last events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets

from api.app import create_app
from api.schema import schema
from service.bootstrap import Services
from service.principals import system
from service.webhooks import tables as w
from tests.api.conftest import GraphQL, enrollment, event_count
from tests.callers import (
    AUDITOR,
    STAFF,
    Caller,
    base_admin,
    registry,
    school_admin,
    trainee,
    tutor,
)
from tests.servers import serving

ROLES = ("trainee", "tutor", "base_admin", "school_admin", "auditor", "registry")
READERS = {"trainee", "tutor", "base_admin", "school_admin", "auditor"}
EVERYONE = set(ROLES)
REFUSALS = {"FORBIDDEN"}


@dataclass
class World:
    gql: GraphQL
    services: Services
    trainee_id: str = ""
    rotation_id: str = ""
    endpoint_id: str = ""
    dead_letter: int = 0
    first_checkpoint: int = 0
    callers: dict[str, Caller] = field(default_factory=dict)

    def entry(self) -> str:
        """A fresh entry of the trainee's cardiology rotation, recorded by the trainee."""
        return str(self.gql.ok(
            """mutation($t: ID!, $r: ID!) { recordRotationEntry(traineeId: $t, rotationId: $r,
               kind: CASE, occurredOn: "2026-11-20", description: "pneumonia") { id } }""",
            as_=trainee(self.trainee_id), t=self.trainee_id, r=self.rotation_id,
        )["recordRotationEntry"]["id"])

    def endpoint(self, paused: bool = False) -> str:
        webhooks = self.services.webhooks
        endpoint, _ = webhooks.register(
            url="http://127.0.0.1:9/hook", types=None, base_id="base-1", description=None,
            from_position=None, by=system("registry-setup"),
        )
        if paused:
            webhooks.pause(endpoint.id, system("registry-setup"))
        return endpoint.id


@dataclass(frozen=True)
class Operation:
    """A root field called one way: its document, the variables for an attempt (made
    afresh for each, so an allowed attempt never spoils the next), who may call it, and,
    for those allowed, the code the domain answers with when the world does not meet its
    rules (None: it succeeds)."""

    field: str
    document: str
    allowed: set[str]
    variables: Callable[[World], dict[str, Any]] = lambda world: {"t": world.trainee_id}
    domain_code: str | None = None


def trainee_query(name: str, document: str, allowed: set[str] = READERS) -> Operation:
    return Operation(name, document, allowed)


def command(name: str, document: str, allowed: set[str], domain_code: str | None = None,
            variables: Callable[[World], dict[str, Any]] | None = None) -> Operation:
    return Operation(
        name, document, allowed,
        variables or (lambda world: {"t": world.trainee_id}), domain_code,
    )


OPERATIONS = [
    # -- queries ------------------------------------------------------------------------
    trainee_query("trainee", "query($t: ID!) { trainee(id: $t) { id name } }"),
    trainee_query("traineeChanges", "query($t: ID!) { traineeChanges(id: $t, fromVersion: 0) "
                  "{ toVersion } }"),
    Operation("trainees", "{ trainees { items { id } } }", READERS, lambda world: {}),
    Operation("traineeByNationalId", """query { traineeByNationalId(
              nationalId: "110101199901011234") { id } }""",
              {"base_admin", "school_admin", "auditor"}, lambda world: {}),
    trainee_query("events", "query($t: ID!) { events(traineeId: $t) { items { id } } }"),
    Operation("events", "{ events { items { id } } }", {"base_admin", "auditor", "registry"},
              lambda world: {}),
    Operation("qualityFigures", "{ qualityFigures { baseId } }", {"base_admin", "auditor"},
              lambda world: {}),
    Operation("universityFigures", "{ universityFigures { university } }",
              {"school_admin", "auditor"}, lambda world: {}),
    trainee_query("verifyIntegrity", "query($t: ID!) { verifyIntegrity(traineeId: $t) { ok } }"),
    Operation("verifyIntegrity", "{ verifyIntegrity { ok } }", {"auditor"}, lambda world: {}),
    Operation("checkpoints", "{ checkpoints { treeSize } }", EVERYONE, lambda world: {}),
    Operation("inclusionProof", """{ inclusionProof(position: "0000000000000001")
              { leafIndex } }""", EVERYONE, lambda world: {}),
    Operation("consistencyProof", "query($n: Int!) { consistencyProof(fromSize: $n) "
              "{ proof } }", EVERYONE, lambda world: {"n": world.first_checkpoint}),
    Operation("webhooks", "{ webhooks { id } }", {"auditor", "registry"}, lambda world: {}),
    Operation("webhook", "query($w: ID!) { webhook(id: $w) { id } }", {"auditor", "registry"},
              lambda world: {"w": world.endpoint_id}),
    Operation("webhookDeliveries", """query($w: ID!) { webhookDeliveries(endpointId: $w)
              { items { id } } }""", {"auditor", "registry"},
              lambda world: {"w": world.endpoint_id}),
    # -- mutations ----------------------------------------------------------------------
    Operation("enrollTrainee", """mutation($i: EnrollTraineeInput!) { enrollTrainee(input: $i)
              { id } }""", {"base_admin", "school_admin"},
              lambda world: {"i": enrollment(nationalId=f"M{uuid.uuid4().hex[:17]}")}),
    command("assignTutor", """mutation($t: ID!) { assignTutor(traineeId: $t, tutorId: "dr-li",
            role: HOSPITAL_TUTOR, department: "cardiology", assignedOn: "2026-11-01") { id } }""",
            {"base_admin", "school_admin"}),
    command("scheduleRotation", """mutation($t: ID!) { scheduleRotation(traineeId: $t,
            department: "cardiology", stage: 1, startOn: "2026-12-01", endOn: "2027-01-01")
            { id } }""", {"base_admin"}),
    command("completeRotation", """mutation($t: ID!, $r: ID!) { completeRotation(
            traineeId: $t, rotationId: $r, completedOn: "2026-11-21") { id } }""",
            {"base_admin"}, variables=lambda world: {"t": world.trainee_id,
                                                     "r": world.rotation_id}),
    command("recordRotationEntry", """mutation($t: ID!, $r: ID!) { recordRotationEntry(
            traineeId: $t, rotationId: $r, kind: CASE, occurredOn: "2026-11-20",
            description: "asthma") { id } }""", {"trainee"},
            variables=lambda world: {"t": world.trainee_id, "r": world.rotation_id}),
    command("signRotationEntry", """mutation($t: ID!, $e: ID!) { signRotationEntry(
            traineeId: $t, entryId: $e, tutorId: "dr-wang") { id } }""", {"tutor"},
            variables=lambda world: {"t": world.trainee_id, "e": world.entry()}),
    command("retractRotationEntry", """mutation($t: ID!, $e: ID!) { retractRotationEntry(
            traineeId: $t, entryId: $e, reason: "twice") { id } }""", {"trainee", "base_admin"},
            variables=lambda world: {"t": world.trainee_id, "e": world.entry()}),
    command("correctRotationEntry", """mutation($t: ID!, $e: ID!) { correctRotationEntry(
            traineeId: $t, entryId: $e, kind: CASE, occurredOn: "2026-11-20",
            description: "asthma", reason: "misread") { id } }""", {"trainee"},
            variables=lambda world: {"t": world.trainee_id, "e": world.entry()}),
    command("recordAssessment", """mutation($t: ID!, $r: ID!) { recordAssessment(traineeId: $t,
            kind: DEPARTURE_EXAM, occurredOn: "2026-11-20", rotationId: $r, passed: true)
            { id } }""", {"tutor", "base_admin"},
            variables=lambda world: {"t": world.trainee_id, "r": world.rotation_id}),
    command("recordEthicsViolation", """mutation($t: ID!) { recordEthicsViolation(
            traineeId: $t, occurredOn: "2026-11-01", description: "late", confirmed: false)
            { id } }""", {"base_admin", "school_admin"}),
    command("grantLicence", """mutation($t: ID!) { grantLicence(traineeId: $t, number: "L-1",
            grantedOn: "2026-11-20") { id } }""", {"base_admin"}, "RULES_NOT_MET"),
    command("recordLicensingExam", """mutation($t: ID!) { recordLicensingExam(traineeId: $t,
            sittingOn: "2026-11-20", passed: true) { id } }""", {"base_admin"}, "RULES_NOT_MET"),
    command("recordNationalExam", """mutation($t: ID!) { recordNationalExam(traineeId: $t,
            exam: FOREIGN_LANGUAGE, sittingOn: "2026-11-20", passed: true) { id } }""",
            {"school_admin"}, "CONFLICT"),
    command("issueResidencyCertificate", """mutation($t: ID!) { issueResidencyCertificate(
            traineeId: $t, number: "R-1", issuedOn: "2026-11-20") { id } }""", {"base_admin"},
            "RULES_NOT_MET"),
    command("recordPublication", """mutation($t: ID!) { recordPublication(traineeId: $t,
            kind: "CASE_ANALYSIS", title: "A case", publishedOn: "2026-11-01") { id } }""",
            {"school_admin"}),
    command("recordCoursework", """mutation($t: ID!) { recordCoursework(traineeId: $t,
            course: "Statistics", passed: true, completedOn: "2026-11-01") { id } }""",
            {"school_admin"}),
    command("recordThesisDefense", """mutation($t: ID!) { recordThesisDefense(traineeId: $t,
            defendedOn: "2026-11-01", passed: true, committee: ["prof-a"]) { id } }""",
            {"school_admin"}),
    command("issueDiploma", """mutation($t: ID!) { issueDiploma(traineeId: $t, number: "D-1",
            issuedOn: "2026-11-20") { id } }""", {"school_admin"}, "RULES_NOT_MET"),
    command("awardDegree", """mutation($t: ID!) { awardDegree(traineeId: $t, number: "G-1",
            awardedOn: "2026-11-20") { id } }""", {"school_admin"}, "RULES_NOT_MET"),
    command("revokeCertificate", """mutation($t: ID!) { revokeCertificate(traineeId: $t,
            kind: RESIDENCY_CERTIFICATE, revokedOn: "2026-11-20", reason: "fraud") { id } }""",
            {"base_admin"}, "CONFLICT"),
    command("revokeCertificate", """mutation($t: ID!) { revokeCertificate(traineeId: $t,
            kind: DEGREE, revokedOn: "2026-11-20", reason: "fraud") { id } }""",
            {"school_admin"}, "CONFLICT"),
    Operation("registerWebhook", """mutation { registerWebhook(url: "http://127.0.0.1:9/h")
              { endpoint { baseId } } }""", {"registry"}, lambda world: {}),
    Operation("pauseWebhook", "mutation($w: ID!) { pauseWebhook(id: $w) { state } }",
              {"registry"}, lambda world: {"w": world.endpoint()}),
    Operation("resumeWebhook", "mutation($w: ID!) { resumeWebhook(id: $w) { state } }",
              {"registry"}, lambda world: {"w": world.endpoint(paused=True)}),
    Operation("removeWebhook", "mutation($w: ID!) { removeWebhook(id: $w) { state } }",
              {"registry"}, lambda world: {"w": world.endpoint()}),
    Operation("redeliverWebhook", "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) "
              "{ state } }", {"registry"}, lambda world: {"d": str(world.dead_letter)}),
    Operation("redeliverDeadLetters", "mutation($w: ID!) { redeliverDeadLetters("
              "endpointId: $w) }", {"registry"}, lambda world: {"w": world.endpoint_id}),
]


def root_fields() -> set[str]:
    fields: set[str] = set()
    for root in (schema.query, schema.mutation):
        definition = schema.get_type_by_name(root.__name__)  # type: ignore[union-attr]
        fields |= {f.graphql_name or _camel(f.python_name) for f in definition.fields}  # type: ignore[union-attr]
    return fields


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_matrix_names_every_query_and_mutation_of_the_schema() -> None:
    assert {operation.field for operation in OPERATIONS} == root_fields()


@pytest.fixture
def world(gql: GraphQL, services: Services) -> World:
    t = gql.enroll(enrolledOn="2026-09-01", cohort=2026)
    rotation = gql.ok("""mutation($t: ID!) {
        a: assignTutor(traineeId: $t, tutorId: "dr-wang", role: ROTATING_TUTOR,
                       department: "cardiology", assignedOn: "2026-09-01") { id }
        b: scheduleRotation(traineeId: $t, department: "cardiology", stage: 1,
                            startOn: "2026-09-01", endOn: "2026-12-01", tutorId: "dr-wang")
           { id } }""", t=t)["b"]["id"]
    made = World(gql, services, trainee_id=t, rotation_id=rotation)
    made.first_checkpoint = services.evidence.checkpoint().tree_size
    made.entry()
    services.evidence.checkpoint()
    made.endpoint_id = made.endpoint()
    with services.engine.begin() as connection:
        made.dead_letter = connection.execute(w.deliveries.insert().values(
            endpoint_id=made.endpoint_id, position=1, event_id=str(uuid.uuid4()),
            event_type="TraineeEnrolled", trainee_id=t, state=w.DEAD, attempts=9,
            enqueued_at=datetime.now(UTC), dead_at=datetime.now(UTC),
        ).returning(w.deliveries.c.id)).scalar_one()
    made.callers = {
        "trainee": trainee(t), "tutor": tutor("dr-wang"), "base_admin": base_admin(),
        "school_admin": school_admin(), "auditor": AUDITOR, "registry": registry(),
    }
    return made


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.field)
def test_each_role_is_allowed_or_refused_with_nothing_written(
    world: World, operation: Operation
) -> None:
    outcomes: dict[str, str] = {}
    for role in ROLES:
        variables = operation.variables(world)
        before = event_count(world.services)
        body = world.gql(operation.document, as_=world.callers[role], **variables)
        codes = {error["extensions"]["code"] for error in body.get("errors", [])}
        outcomes[role] = ",".join(sorted(codes)) or "ok"
        if role not in operation.allowed:
            assert event_count(world.services) == before, f"{role} was refused yet wrote"
    expected = {
        role: (operation.domain_code or "ok") if role in operation.allowed else "FORBIDDEN"
        for role in ROLES
    }
    assert outcomes == expected


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.field)
def test_no_operation_answers_without_credentials(world: World, operation: Operation) -> None:
    variables = operation.variables(world)
    before = event_count(world.services)
    body = world.gql(operation.document, as_=None, **variables)
    assert {error["extensions"]["code"] for error in body["errors"]} == {"UNAUTHENTICATED"}
    assert event_count(world.services) == before


def test_roles_bound_elsewhere_read_and_write_nothing_of_this_trainee(world: World) -> None:
    """The same roles, of another trainee, department, base or university."""
    strangers = [trainee(str(uuid.uuid4())), tutor("dr-zhou"), base_admin("base-2"),
                 school_admin("Fudan University"), registry("base-2")]
    read = "query($t: ID!) { trainee(id: $t) { id } }"
    entry = """mutation($t: ID!, $r: ID!) { recordRotationEntry(traineeId: $t, rotationId: $r,
               kind: CASE, occurredOn: "2026-11-20", description: "x") { id } }"""
    before = event_count(world.services)
    for stranger in strangers:
        assert world.gql.error(read, as_=stranger, t=world.trainee_id)["extensions"][
            "code"] == "FORBIDDEN", stranger
        assert world.gql.error(entry, as_=stranger, t=world.trainee_id, r=world.rotation_id)[
            "extensions"]["code"] == "FORBIDDEN", stranger
    listed = world.gql.ok("{ trainees { items { id } } }", as_=base_admin("base-2"))
    assert listed["trainees"]["items"] == []
    mine = world.gql.ok("{ trainees { items { id } } }", as_=trainee(world.trainee_id))
    assert [item["id"] for item in mine["trainees"]["items"]] == [world.trainee_id]
    # A tutor in another department of the same trainee signs nothing there.
    world.gql.ok("""mutation($t: ID!) { assignTutor(traineeId: $t, tutorId: "dr-heart",
                    role: ROTATING_TUTOR, department: "neurology", assignedOn: "2026-09-01")
                    { id } }""", t=world.trainee_id)
    sign = """mutation($t: ID!, $e: ID!) { signRotationEntry(traineeId: $t, entryId: $e,
              tutorId: "dr-heart") { id } }"""
    entry_id = world.entry()
    written = event_count(world.services)
    refused = world.gql.error(sign, as_=tutor("dr-heart"), t=world.trainee_id, e=entry_id)
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert "only in their own department" in refused["message"]
    assert event_count(world.services) == written
    assert before < written  # the world did grow: the assignment and the entry


def test_the_actor_is_the_token_subject_whatever_the_request_says(world: World) -> None:
    """Headers that name someone else are ignored: the actor comes only from the token."""

    document = """mutation($t: ID!) { recordEthicsViolation(traineeId: $t,
        occurredOn: "2026-11-01", description: "late", confirmed: false) { position } }"""
    headers = {**base_admin(name="admin-real").authorization(world.services.settings),
               "X-Actor": "dr-wang", "X-Forwarded-User": "dr-wang"}
    response = asyncio.run(world.gql._post(
        {"query": document, "variables": {"t": world.trainee_id}}, headers))
    position = response.json()["data"]["recordEthicsViolation"]["position"]
    trail = world.gql.ok("""query($t: ID!) { trainee(id: $t) {
        auditTrail(first: 100) { items { position actor } } } }""", t=world.trainee_id)
    actors = {item["position"]: item["actor"] for item in trail["trainee"]["auditTrail"]["items"]}
    assert actors[position] == "admin-real"
    assert set(actors.values()) == {STAFF.subject, world.trainee_id, "admin-real"}


SUBSCRIBE = "subscription { events { type traineeId } }"


async def first_message(url: str, credentials: dict[str, str] | None) -> dict[str, Any]:
    """Subscribes over a real WebSocket and returns the first message after connecting."""
    socket_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(socket_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": credentials or {}}))
        try:
            acknowledged = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
        except websockets.ConnectionClosed as closed:
            return {"closed": closed.rcvd.code if closed.rcvd else None}
        assert acknowledged["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": SUBSCRIBE}}))
        return dict(json.loads(await asyncio.wait_for(socket.recv(), timeout=10)))


def test_the_live_feed_over_a_websocket_for_each_role(world: World) -> None:
    settings = world.services.settings
    with serving(create_app(world.services)) as url:
        answers = {
            role: asyncio.run(first_message(url, world.callers[role].authorization(settings)))
            for role in ROLES
        }
        anonymous = asyncio.run(first_message(url, None))
        forged = asyncio.run(first_message(url, {"Authorization": "Bearer forged"}))
    outcomes = {
        role: "ok" if answer["type"] == "next" and "errors" not in answer["payload"]
        else ",".join(e["extensions"]["code"] for e in answer["payload"]["errors"])
        for role, answer in answers.items()
    }
    allowed = {"base_admin", "auditor", "registry"}
    assert outcomes == {role: "ok" if role in allowed else "FORBIDDEN" for role in ROLES}
    assert answers["registry"]["payload"]["data"]["events"]["traineeId"] == world.trainee_id
    assert anonymous == forged == {"closed": 4403}
