"""Registering, listing, pausing, resuming and removing endpoints over GraphQL, with a real
receiver on loopback and the delivery worker run tick by tick."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from service import positions
from service.bootstrap import Services
from service.clock import FixedClock
from service.principals import system
from service.webhooks.delivery import DeliveryWorker
from service.webhooks.registry import DELIVERABLE_TYPES
from tests.api.conftest import GraphQL
from tests.callers import Caller, registry
from tests.webhooks.conftest import Writer, delivery_rows, endpoint_rows, projected_events
from tests.webhooks.receiver import Receiver

REGISTER = """
mutation($url: String!, $types: [String!], $baseId: ID, $description: String,
         $fromPosition: String) {
  registerWebhook(url: $url, types: $types, baseId: $baseId, description: $description,
                  fromPosition: $fromPosition) {
    secret
    endpoint { id url types baseId description state cursor registeredBy registeredAt }
  }
}
"""
ENDPOINT_FIELDS = """id url types baseId state cursor registeredBy changedBy changedAt
  history { action actor at detail } deliveryCounts { pending delivered dead }"""
WEBHOOKS = "query($all: Boolean!) { webhooks(includeRemoved: $all) { " + ENDPOINT_FIELDS + " } }"
PAUSE = "mutation($id: ID!) { pauseWebhook(id: $id) { state changedBy } }"
RESUME = "mutation($id: ID!) { resumeWebhook(id: $id) { state changedBy } }"
REMOVE = "mutation($id: ID!) { removeWebhook(id: $id) { state changedBy } }"
DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryState, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $id, status: $status, first: $first, after: $after) {
    items { id eventId position eventType traineeId state attempts lastStatusCode lastError
            nextAttemptAt deliveredAt }
    hasMore nextCursor
  }
}
"""


# Webhooks are managed by a registry, of its own base (service.access).
REGISTRY = registry(name="registry-admin")
REGISTRY_2 = registry("base-2", name="registry-admin")


def register(gql: GraphQL, url: str, as_: Caller = REGISTRY, **arguments: Any) -> Any:
    return gql.ok(REGISTER, as_=as_, url=url, **arguments)["registerWebhook"]


@pytest.fixture
def receiver(clock: FixedClock) -> Any:
    with Receiver(now=lambda: clock.now().timestamp()).serving() as serving:
        yield serving


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"url": "ftp://registry.example/hooks"}, "url must use https, got ftp: scheme"),
        ({"url": "registry.example/hooks"}, "url must use https, got no scheme"),
        ({"url": "http://registry.example/hooks"},
         "url must use https; plain http is allowed only to a loopback host"),
        ({"url": "https://user:pw@registry.example/hooks"}, "url must not carry a user name"),
        ({"url": "https://registry example/hooks"}, "url must not contain spaces"),
        ({"url": "https:///hooks"}, "url has no host"),
        ({"url": "https://registry.example:99999/"}, "url is not a valid URL"),
        ({"url": ""}, "url must not be empty"),
        ({"types": ["LicenceGranted", "Nope"]}, "types: unknown event type 'Nope'"),
        ({"types": ["NationalIdClaimed"]}, "types: unknown event type 'NationalIdClaimed'"),
        ({"baseId": "  "}, "baseId must not be empty"),
        ({"fromPosition": "42"}, "fromPosition is not a cursor this service issued"),
        ({"fromPosition": positions.encode(10**9)}, "fromPosition 0000001000000000 is beyond"),
        ({"description": "x" * 501}, "description is longer than 500 characters"),
    ],
)
def test_a_bad_registration_is_refused_naming_the_field_and_writes_nothing(
    gql: GraphQL, services: Services, arguments: dict[str, Any], says: str
) -> None:
    error = gql.error(REGISTER, as_=REGISTRY,
                      **({"url": "https://registry.example/hooks"} | arguments))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"], error["message"]
    assert endpoint_rows(services) == []


def test_registration_shows_the_secret_once_and_records_who_and_when(
    gql: GraphQL, clock: FixedClock
) -> None:
    registered = register(
        gql, "https://registry.example/hooks", types=["LicenceGranted", "DegreeAwarded",
                                                      "LicenceGranted"],
        baseId="base-1", description="Provincial physician register",
    )
    secret = registered["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    endpoint = registered["endpoint"]
    assert endpoint["types"] == ["LicenceGranted", "DegreeAwarded"]
    assert endpoint["baseId"] == "base-1"
    assert endpoint["state"] == "ACTIVE"
    assert endpoint["registeredBy"] == "registry-admin"
    assert endpoint["registeredAt"].startswith(clock.now().isoformat()[:19])
    other = register(gql, "https://other.example/hooks")
    assert other["secret"] != secret
    assert other["endpoint"]["types"] == []  # every type

    listed = gql(WEBHOOKS, all=False)
    assert secret not in str(listed) and other["secret"] not in str(listed)
    by_id = {e["id"]: e for e in listed["data"]["webhooks"]}
    assert set(by_id) == {endpoint["id"], other["endpoint"]["id"]}
    history = by_id[endpoint["id"]]["history"]
    assert [(h["action"], h["actor"]) for h in history] == [("REGISTERED", "registry-admin")]
    fields = gql.ok('{ __type(name: "WebhookEndpoint") { fields { name } } }')
    assert "secret" not in {f["name"] for f in fields["__type"]["fields"]}


def test_the_known_event_types_are_the_trainee_events() -> None:
    assert "TraineeEnrolled" in DELIVERABLE_TYPES
    assert "RotationEntryCorrected" in DELIVERABLE_TYPES
    assert "NationalIdClaimed" not in DELIVERABLE_TYPES
    assert len(DELIVERABLE_TYPES) == 20


def test_a_new_endpoint_starts_at_the_end_of_the_log_unless_given_a_position(
    gql: GraphQL, services: Services, writer: Writer, receiver: Receiver,
    worker: DeliveryWorker,
) -> None:
    writer.trainee(1)
    earlier = projected_events(services)
    mid = earlier[2]["position"]
    now_on = register(gql, receiver.url)
    everything = register(gql, receiver.url, fromPosition=positions.encode(0))
    after_mid = register(gql, receiver.url, fromPosition=positions.encode(mid))
    ids = {now_on["endpoint"]["id"]: now_on, everything["endpoint"]["id"]: everything,
           after_mid["endpoint"]["id"]: after_mid}
    receiver.secret = now_on["secret"]
    # Each endpoint has its own secret; the receiver checks with one at a time.
    got: dict[str, list[str]] = {}
    for endpoint_id, registered in ids.items():
        receiver.secret = registered["secret"]
        worker.deliver(endpoint_id)
        got[endpoint_id] = [r["event_id"] for r in delivery_rows(services, endpoint_id)]
    assert got[now_on["endpoint"]["id"]] == []
    assert got[everything["endpoint"]["id"]] == [e["event_id"] for e in earlier]
    assert got[after_mid["endpoint"]["id"]] == [
        e["event_id"] for e in earlier if e["position"] > mid]
    assert all(r.signature_ok and r.answer == "ok" for r in receiver.received)


def test_filters_pause_resume_and_remove(
    gql: GraphQL, services: Services, writer: Writer, receiver: Receiver,
    worker: DeliveryWorker,
) -> None:
    registered = register(gql, receiver.url, as_=REGISTRY_2,
                          types=["TraineeEnrolled", "RotationEntrySigned"], baseId="base-2")
    endpoint_id = registered["endpoint"]["id"]
    receiver.secret = registered["secret"]

    def delivered() -> list[str]:
        return [r["event_id"] for r in delivery_rows(services, endpoint_id)
                if r["state"] == "DELIVERED"]

    def matching() -> list[str]:
        of_base_2 = {t for t in bases if bases[t] == "base-2"}
        return [e["event_id"] for e in projected_events(services)
                if e["type"] in ("TraineeEnrolled", "RotationEntrySigned")
                and e["trainee_id"] in of_base_2]

    bases = {str(writer.trainee(1, "base-1")): "base-1", str(writer.trainee(2, "base-2")): "base-2"}
    assert worker.drain() > 0
    assert delivered() == matching() and len(matching()) == 3
    assert [r.webhook_id for r in receiver.received] == matching()

    paused = gql.ok(PAUSE, as_=registry("base-2", name="registry-admin-2"),
                    id=endpoint_id)["pauseWebhook"]
    assert paused == {"state": "PAUSED", "changedBy": "registry-admin-2"}
    assert gql.ok(PAUSE, as_=REGISTRY_2,  # idempotent
                  id=endpoint_id)["pauseWebhook"]["state"] == "PAUSED"
    cursor = endpoint_rows(services)[0]["position"]
    bases[str(writer.trainee(3, "base-2"))] = "base-2"
    assert worker.drain() == 0
    assert len(receiver.received) == 3 and endpoint_rows(services)[0]["position"] == cursor

    assert gql.ok(RESUME, as_=REGISTRY_2, id=endpoint_id)["resumeWebhook"]["state"] == "ACTIVE"
    worker.drain()
    assert delivered() == matching() and len(matching()) == 6
    assert [r.webhook_id for r in receiver.received] == matching()  # in log order

    # Paused while a request is in flight: that one completes, nothing after it is sent.
    def pause_on_first(_: Any) -> None:
        receiver.on_request = None
        services.webhooks.pause(endpoint_id, system("registry-admin"))

    receiver.on_request = pause_on_first
    bases[str(writer.trainee(4, "base-2"))] = "base-2"
    worker.drain()
    assert len(receiver.received) == 7
    assert len(delivered()) == 7
    gql.ok(RESUME, as_=REGISTRY_2, id=endpoint_id)
    worker.drain()
    assert delivered() == matching() and len(receiver.received) == 9

    removed = gql.ok(REMOVE, as_=registry("base-2", name="registry-admin-3"),
                     id=endpoint_id)["removeWebhook"]
    assert removed == {"state": "REMOVED", "changedBy": "registry-admin-3"}
    writer.trainee(5, "base-2")
    assert worker.drain() == 0
    assert len(receiver.received) == 9
    assert gql(WEBHOOKS, all=False)["data"]["webhooks"] == []
    [listed] = gql.ok(WEBHOOKS, all=True)["webhooks"]
    assert [(h["action"], h["actor"]) for h in listed["history"]] == [
        ("REGISTERED", "registry-admin"), ("PAUSED", "registry-admin-2"),
        ("RESUMED", "registry-admin"), ("PAUSED", "registry-admin"),
        ("RESUMED", "registry-admin"), ("REMOVED", "registry-admin-3")]
    assert listed["deliveryCounts"] == {"pending": 0, "delivered": 9, "dead": 0}
    redeliver_all = "mutation($id: ID!) { redeliverDeadLetters(endpointId: $id) }"
    for mutation in (PAUSE, RESUME, REMOVE, redeliver_all):
        error = gql.error(mutation, as_=REGISTRY_2, id=endpoint_id)
        assert error["extensions"]["code"] == "CONFLICT"
        assert "was removed" in error["message"]
    one = "query($id: ID!) { webhook(id: $id) { id state changedBy } }"
    assert gql.ok(one, id=endpoint_id)["webhook"] == {
        "id": endpoint_id, "state": "REMOVED", "changedBy": "registry-admin-3"}
    assert gql.ok(one, id="00000000-0000-0000-0000-000000000000")["webhook"] is None


def test_the_delivery_log_pages_and_unknown_ids_are_named(
    gql: GraphQL, services: Services, writer: Writer, receiver: Receiver,
    worker: DeliveryWorker,
) -> None:
    registered = register(gql, receiver.url)
    endpoint_id = registered["endpoint"]["id"]
    receiver.secret = registered["secret"]
    writer.trainee(1)
    worker.drain()
    events = projected_events(services)
    first = gql.ok(DELIVERIES, id=endpoint_id, first=4)["webhookDeliveries"]
    assert first["hasMore"] is True
    rest = gql.ok(DELIVERIES, id=endpoint_id, first=50,
                  after=first["nextCursor"])["webhookDeliveries"]
    items = first["items"] + rest["items"]
    assert rest["hasMore"] is False
    assert [i["eventId"] for i in items] == [e["event_id"] for e in events]
    assert [i["position"] for i in items] == [positions.encode(e["position"]) for e in events]
    assert {(i["state"], i["attempts"], i["lastStatusCode"]) for i in items} == {
        ("DELIVERED", 1, 200)}
    assert gql.ok(DELIVERIES, id=endpoint_id, status="DEAD")["webhookDeliveries"]["items"] == []

    unknown = "00000000-0000-0000-0000-000000000000"
    for query, variables in ((DELIVERIES, {"id": unknown}), (PAUSE, {"id": unknown})):
        error = gql.error(query, as_=REGISTRY, **variables)
        assert error["extensions"]["code"] == "NOT_FOUND", error
    error = gql.error(DELIVERIES, id="nope")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "endpointId is not a valid id" in error["message"]
    error = gql.error("mutation { redeliverWebhook(deliveryId: \"x\") { id } }", as_=REGISTRY)
    assert "deliveryId is not a delivery id" in error["message"]
