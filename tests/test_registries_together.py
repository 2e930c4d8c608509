"""Every way a registry consumes, at once, on PostgreSQL: thousands of events written by
concurrent writers while a WebSocket subscriber listens, the webhook worker delivers to a
receiver that fails at random, and the relay publishes to JetStream; the worker and the
relay are each killed mid-flight and restarted. Afterwards the subscriber, the endpoint
and the stream each hold every event, in commit order, the webhooks with duplicates only
under the same id."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from service import bootstrap
from service.bootstrap import Services
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.api.test_live_feed import Writing, committed, subscribe
from tests.callers import AUDITOR
from tests.servers import serving
from tests.test_relay import (
    RelayProcess,
    Stream,
    assert_exactly_the_projected_events_in_order,
    relay_env,
    stream,  # noqa: F401 - the fixture
)
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_worker_process import start_worker

DEADLINE_SECONDS = 150


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def writing(settings: Settings, clock: FixedClock) -> Iterator[Writing]:
    writer_services = bootstrap.build(settings, clock=clock)
    yield Writing(writer_services, commands_each=400)
    writer_services.close()


def wait_for(condition: Any, what: str, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{log.read_text()}"
        time.sleep(0.1)


def test_subscriber_webhook_and_stream_each_hold_every_event_in_order(
    services: Services, settings: Settings, writing: Writing, stream: Stream,  # noqa: F811
    tmp_path: Path,
) -> None:
    writing.prepare()
    log = tmp_path / "consumers.log"
    subscribed: list[dict[str, Any]] = []
    finished, want = threading.Event(), [0]

    with serving(create_app(services)) as url, Receiver(
        seed=7, fail_rate=0.1, drop_rate=0.03
    ).serving() as receiver:
        _, receiver.secret = services.webhooks.register(
            url=receiver.url, types=None, base_id=None, description="all events",
            from_position="0000000000000000", by=system("registry-admin"))
        # The subscriber reads every base's events, as an auditor may.
        credentials = AUDITOR.authorization(settings)
        listening = threading.Thread(target=lambda: asyncio.run(
            subscribe(url, subscribed, credentials=credentials, until=finished, want=want)))
        listening.start()
        worker = start_worker(settings, log)
        relay = RelayProcess(relay_env(settings, stream), log)
        try:
            writers = writing.run()
            wait_for(lambda: len(receiver.acked()) > 100, "the first deliveries", log)
            worker.kill()
            worker.wait(timeout=10)
            worker = start_worker(settings, log)
            wait_for(lambda: stream.count() > 200, "the first publications", log)
            relay.kill()
            relay = RelayProcess(relay_env(settings, stream), log)
            for thread in writers:
                thread.join(timeout=DEADLINE_SECONDS)
            expected = committed(services)
            want[0] = len(expected)
            finished.set()
            every_id = {event_id for _, event_id in expected}
            wait_for(lambda: receiver.acked() >= every_id, "every webhook acknowledged", log)
            wait_for(lambda: stream.count() >= len(expected), "every event published", log)
            listening.join(timeout=DEADLINE_SECONDS)
        finally:
            finished.set()
            worker.kill()
            worker.wait(timeout=10)
            relay.kill()

    assert not writing.errors
    assert len(expected) > 900
    assert [(e["position"], e["id"]) for e in subscribed] == expected
    copies = receiver.by_id()
    assert set(copies) == every_id
    assert all(len({c.body for c in same}) == 1 for same in copies.values())
    firsts = [r.position for r in receiver.first_arrivals()]
    for trainee in writing.trainees.values():
        of_trainee = [r.position for r in receiver.first_arrivals()
                      if r.trainee_id == str(trainee)]
        assert of_trainee == sorted(of_trainee)
    assert len(firsts) == len(expected)
    assert_exactly_the_projected_events_in_order(services, stream)
