"""Retries with backoff, holding a trainee's later events back, dead letters and their
redelivery, on the service's clock (moved by the test) against a real receiver."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.bootstrap import Services
from service.clock import FixedClock
from service.webhooks import signing
from service.webhooks.delivery import Backoff, DeliveryWorker, next_attempt_at
from tests.api.conftest import GraphQL
from tests.callers import registry
from tests.webhooks.conftest import Writer, delivery_rows, projected_events
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_registration import DELIVERIES, REGISTER, REGISTRY, WEBHOOKS

WINDOW = timedelta(seconds=36)  # webhook_retry_hours=0.01 in tests/webhooks/conftest.py


def test_backoff_doubles_to_the_cap_with_jitter_and_retries_for_the_whole_window() -> None:
    backoff = Backoff(5, 3600, random.Random(7))
    for attempts in range(1, 30):
        ceiling = min(3600, 5 * 2 ** (attempts - 1))
        for _ in range(20):
            assert ceiling / 2 <= backoff.delay(attempts) <= ceiling
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = timedelta(hours=72)
    now, attempts, tries = start, 1, [start]
    while (retry := next_attempt_at(now, start, attempts, backoff, window)) is not None:
        assert retry <= start + window and retry > now
        now, attempts = retry, attempts + 1
        tries.append(now)
    assert tries[-1] == start + window  # the last try is at the window's end, then dead
    assert 70 < len(tries) < 120  # about hourly once at the cap
    assert next_attempt_at(start + window, start, 9, backoff, window) is None


def test_the_standard_webhooks_test_vector() -> None:
    # From the Standard Webhooks reference libraries' tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    headers = {"webhook-id": msg_id, "webhook-timestamp": "1614265330",
               "webhook-signature": f"v1,bm9ub3NlbnNl {expected}"}
    assert signing.verify(secret, headers, body, now=1614265330 + 299) == msg_id
    with pytest.raises(signing.InvalidSignature, match="from now"):
        signing.verify(secret, headers, body, now=1614265330 + 301)
    with pytest.raises(signing.InvalidSignature, match="no signature matches"):
        signing.verify(secret, headers, body + b" ", now=1614265330)


@pytest.fixture
def receiver(clock: FixedClock) -> Any:
    with Receiver(now=lambda: clock.now().timestamp()).serving() as serving:
        yield serving


def test_failures_are_retried_in_order_per_trainee_then_dead_lettered_and_redelivered(
    gql: GraphQL, services: Services, writer: Writer, receiver: Receiver,
    worker: DeliveryWorker, clock: FixedClock,
) -> None:
    registered = gql.ok(REGISTER, as_=REGISTRY, url=receiver.url)["registerWebhook"]
    endpoint_id = registered["endpoint"]["id"]
    receiver.secret = registered["secret"]
    receiver.down = True
    first = writer.enroll(1)
    writer.training(first, entries=1)  # tutor, rotation, entry, signature: to be held back
    second = writer.enroll(2)
    events = projected_events(services)
    of_first = [e["event_id"] for e in events if e["trainee_id"] == str(first)]
    [of_second] = [e["event_id"] for e in events if e["trainee_id"] == str(second)]

    def rows() -> dict[str, dict[str, Any]]:
        return {r["event_id"]: r for r in delivery_rows(services, endpoint_id)}

    # First pass: each trainee's first event is tried and fails; the first trainee's later
    # events wait behind its first, untried; the cursor passed them all.
    worker.run_once()
    assert [r.webhook_id for r in receiver.received] == [of_first[0], of_second]
    state = rows()
    assert [(state[i]["state"], state[i]["attempts"]) for i in of_first] == [
        ("PENDING", 1), ("PENDING", 0), ("PENDING", 0), ("PENDING", 0), ("PENDING", 0)]
    assert state[of_first[0]]["last_status_code"] == 503
    assert state[of_first[0]]["last_error"] == "HTTP 503: try later"
    retry_in = state[of_first[0]]["next_attempt_at"].replace(tzinfo=UTC) - clock.now()
    assert timedelta(seconds=0.5) <= retry_in <= timedelta(seconds=1)  # base 1 s, jittered

    # Nothing is due before its time.
    assert worker.run_once() == 0 and len(receiver.received) == 2

    # Retried with growing, capped waits until the window is spent: then dead letters.
    started = clock.now()
    for _ in range(40):
        clock.advance(seconds=8)
        worker.run_once()
        if rows()[of_first[0]]["state"] == "DEAD":
            break
    dead = rows()[of_first[0]]
    assert dead["state"] == "DEAD" and rows()[of_second]["state"] == "DEAD"
    tries = [int(r.timestamp) for r in receiver.received if r.webhook_id == of_first[0]]
    assert tries == sorted(tries) and len(tries) == dead["attempts"] >= 6
    assert tries[-1] - tries[0] >= WINDOW.total_seconds()
    assert max(b - a for a, b in zip(tries, tries[1:], strict=False)) <= 8 + 8
    # While the first event was pending, none of the trainee's later ones was sent.
    first_dead_at = clock.now()
    assert all(r.webhook_id in (of_first[0], of_second) or int(r.timestamp) >= int(
        first_dead_at.timestamp()) for r in receiver.received)
    assert started < first_dead_at

    # A dead letter no longer holds its trainee back: the next event is sent (and fails
    # while the receiver is down), the ones after it wait behind it.
    assert rows()[of_first[1]]["attempts"] == 1
    assert [rows()[i]["attempts"] for i in of_first[2:]] == [0, 0, 0]

    receiver.down = False
    clock.advance(seconds=2)
    worker.drain()
    assert [rows()[i]["state"] for i in of_first[1:]] == ["DELIVERED"] * 4
    firsts = [r.webhook_id for r in receiver.first_arrivals()]
    assert [i for i in firsts if i in of_first[1:]] == of_first[1:]

    # The delivery log over GraphQL, dead letters only.
    dead_letters = gql.ok(DELIVERIES, id=endpoint_id, status="DEAD")["webhookDeliveries"]
    assert [(d["eventId"], d["lastStatusCode"], d["nextAttemptAt"]) for d in
            dead_letters["items"]] == [(of_first[0], 503, None), (of_second, 503, None)]

    # Redelivered: one by id, then the rest of the endpoint's dead letters.
    delivery = gql.ok("mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { state attempts "
                      "nextAttemptAt } }", as_=REGISTRY,
                      id=dead_letters["items"][0]["id"])["redeliverWebhook"]
    assert delivery["state"] == "PENDING" and delivery["attempts"] == dead["attempts"]
    worker.drain()
    assert rows()[of_first[0]]["state"] == "DELIVERED"
    assert rows()[of_first[0]]["attempts"] == dead["attempts"] + 1
    count = gql.ok("mutation($id: ID!) { redeliverDeadLetters(endpointId: $id) }",
                   as_=registry(name="registry-clerk"), id=endpoint_id)["redeliverDeadLetters"]
    assert count == 1
    worker.drain()
    assert {r["state"] for r in rows().values()} == {"DELIVERED"}
    assert receiver.acked() == set(rows())
    assert all(r.signature_ok for r in receiver.received)

    error = gql.error("mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
                      as_=REGISTRY, id=dead_letters["items"][0]["id"])
    assert error["extensions"]["code"] == "CONFLICT"
    assert "only dead letters (DEAD) are redelivered" in error["message"]
    error = gql.error("mutation { redeliverWebhook(deliveryId: \"999999\") { id } }",
                      as_=REGISTRY)
    assert error["extensions"]["code"] == "NOT_FOUND"
    [listed] = gql.ok(WEBHOOKS, all=False)["webhooks"]
    assert [(h["action"], h["actor"], h["detail"] is not None) for h in listed["history"]][1:] == [
        ("REDELIVERED", "registry-admin", True), ("REDELIVERED", "registry-clerk", True)]


def test_every_attempt_is_signed_and_carries_the_cloudevents_envelope(
    gql: GraphQL, services: Services, writer: Writer, receiver: Receiver,
    worker: DeliveryWorker, clock: FixedClock,
) -> None:
    registered = gql.ok(REGISTER, as_=REGISTRY, url=receiver.url,
                        types=["TraineeEnrolled"])["registerWebhook"]
    receiver.secret = registered["secret"]
    receiver.down = True
    trainee = writer.enroll(1)
    worker.run_once()
    clock.advance(seconds=5)
    receiver.down = False
    worker.run_once()
    [event] = projected_events(services)
    attempts = receiver.by_id()[event["event_id"]]
    assert len(attempts) == 2
    assert attempts[0].body == attempts[1].body  # the same bytes, a later timestamp
    assert int(attempts[1].timestamp) - int(attempts[0].timestamp) == 5
    assert all(a.signature_ok and a.content_type == "application/cloudevents+json"
               for a in attempts)
    envelope = json.loads(attempts[1].body)
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == event["event_id"] == attempts[1].webhook_id
    assert envelope["type"] == "cn.dualtrack.event.TraineeEnrolled"
    assert envelope["subject"] == str(trainee)
    assert envelope["position"] == f"{event['position']:016d}"
    assert envelope["data"]["version"] == 1 and "name" not in envelope["data"]
    assert "nationalId" not in json.dumps(envelope) and "national_id" not in json.dumps(envelope)
