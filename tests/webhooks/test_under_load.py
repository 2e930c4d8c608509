"""Concurrent writers, three registries that fail at random, and the worker running
throughout: every matching event arrives, first deliveries in commit order per trainee,
duplicates only as identical retries, every signature valid."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from api.app import create_app
from service import bootstrap
from service.bootstrap import Services
from service.clock import Clock
from service.principals import system
from service.settings import Settings
from service.webhooks.delivery import DeliveryWorker
from tests.api.conftest import GraphQL, enrollment
from tests.callers import Caller, base_admin, registry
from tests.webhooks.conftest import Writer, delivery_rows, projected_events
from tests.webhooks.receiver import DROP, FAIL, SLOW, Receiver
from tests.webhooks.test_registration import REGISTER

WRITERS = 4
TRAINEES_PER_WRITER = 3
DEADLINE_SECONDS = 45


@pytest.fixture
def live(settings: Settings) -> Iterator[Services]:
    """Services on the real clock, with a short timeout and quick retries."""
    fast = dataclasses.replace(
        settings, webhook_timeout_seconds=0.25, webhook_backoff_base_seconds=0.02,
        webhook_backoff_cap_seconds=0.2, webhook_retry_hours=1.0,
    )
    built = bootstrap.build(fast, clock=Clock())
    yield built
    built.close()


def test_every_matching_event_reaches_every_registry_despite_failures(live: Services) -> None:
    gql = GraphQL(httpx.ASGITransport(app=create_app(live)), live.settings)
    filters: dict[str, dict[str, Any]] = {
        "all": {},
        "entries": {"types": ["TraineeEnrolled", "RotationEntryRecorded", "RotationEntrySigned"]},
        "base-2": {"baseId": "base-2"},
    }
    # A registry manages its own base's endpoints (one without baseId gets its own base's
    # events); only the system itself registers one for every base.
    registries: dict[str, Caller | None] = {
        "all": None, "entries": registry("base-1"), "base-2": registry("base-2")}
    with ExitStack() as stack:
        receivers = {
            name: stack.enter_context(Receiver(
                seed=seed, fail_rate=0.15, slow_rate=0.04, drop_rate=0.08, slow_seconds=0.4,
            ).serving())
            for seed, name in enumerate(filters)
        }
        endpoints = {}
        for name, arguments in filters.items():
            caller = registries[name]
            if caller is None:
                endpoint, receivers[name].secret = live.webhooks.register(
                    url=receivers[name].url, types=None, base_id=None, description=None,
                    from_position=None, by=system("registry-admin"))
                endpoints[name] = endpoint.id
                continue
            registered = gql.ok(REGISTER, as_=caller, url=receivers[name].url,
                                **arguments)["registerWebhook"]
            receivers[name].secret = registered["secret"]
            endpoints[name] = registered["endpoint"]["id"]

        worker = DeliveryWorker(live)
        stop = threading.Event()
        running = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
        running.start()
        failures: list[BaseException] = []

        def write(number: int) -> None:
            try:
                writer = Writer(live, actor=f"writer-{number}")
                for n in range(TRAINEES_PER_WRITER):
                    serial = number * 100 + n
                    writer.trainee(serial, base_id=f"base-{1 + serial % 2}", entries=2)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        def write_over_graphql() -> None:
            try:
                for n in range(2):
                    gql.ok("mutation($input: EnrollTraineeInput!) { enrollTrainee(input: $input)"
                           " { traineeId } }", as_=base_admin("base-2", name="portal"),
                           input=enrollment(nationalId=f"22010119990101{n:04d}", baseId="base-2"))
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        threads.append(threading.Thread(target=write_over_graphql))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE_SECONDS)
        assert not failures, failures

        events = projected_events(live)
        bases = {e["trainee_id"]: e["data"]["base_id"] for e in events
                 if e["type"] == "TraineeEnrolled"}
        expected = {
            "all": events,
            "entries": [e for e in events if e["type"] in filters["entries"]["types"]
                        and bases[e["trainee_id"]] == "base-1"],
            "base-2": [e for e in events if bases[e["trainee_id"]] == "base-2"],
        }
        assert len(events) == WRITERS * TRAINEES_PER_WRITER * 7 + 2

        def finished() -> bool:
            for name, endpoint_id in endpoints.items():
                rows = delivery_rows(live, endpoint_id)
                if [r["state"] for r in rows] != ["DELIVERED"] * len(expected[name]):
                    return False
            return True

        deadline = time.monotonic() + DEADLINE_SECONDS
        while not finished() and time.monotonic() < deadline:
            assert running.is_alive()
            time.sleep(0.1)
        stop.set()
        running.join(timeout=10)
        assert finished(), {n: [r["state"] for r in delivery_rows(live, e)]
                            for n, e in endpoints.items()}

    for name, receiver in receivers.items():
        wanted = expected[name]
        order = {e["event_id"]: e["position"] for e in wanted}
        rows = delivery_rows(live, endpoints[name])
        # Every matching event was delivered, and only those, each acknowledged by a 2xx.
        assert [r["event_id"] for r in rows] == [e["event_id"] for e in wanted]
        assert receiver.acked() == set(order)
        assert set(receiver.by_id()) == set(order)
        # The receivers did fail: the guarantees held through retries.
        answers = {r.answer for r in receiver.received}
        assert {FAIL, DROP} <= answers, answers
        assert SLOW in answers or name != "all", answers
        assert any(r["attempts"] > 1 for r in rows)
        # Duplicates only as retries: the same id carries the same event.
        for webhook_id, copies in receiver.by_id().items():
            assert {c.envelope["id"] for c in copies} == {webhook_id}
            assert len({c.body for c in copies}) == 1
        assert all(r.signature_ok for r in receiver.received)
        # First deliveries in commit order per trainee.
        per_trainee: dict[str, list[int]] = {}
        for arrival in receiver.first_arrivals():
            per_trainee.setdefault(arrival.trainee_id, []).append(order[arrival.webhook_id])
        assert all(p == sorted(p) for p in per_trainee.values()), per_trainee
    assert worker._clients == {}  # closed with the worker
