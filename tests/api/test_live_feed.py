"""A registry reading the log while writers are busy: the JSON feed paged from the start,
and GraphQL subscriptions over a real WebSocket (graphql-transport-ws), one of which drops
its connection and resumes from its last position. Each must end with every committed
event exactly once, in commit order.

Writers use services of their own (another engine, another projector), as another API
process would, so the server hears of their progress only through the database:
LISTEN/NOTIFY on PostgreSQL, polling on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets

from api.app import create_app
from domain import commands as c
from domain.errors import Conflict
from service import bootstrap
from service.bootstrap import Services
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.callers import AUDITOR, registry
from tests.history import enroll
from tests.servers import serving

WRITERS = 4
COMMANDS_EACH = 120
DEADLINE_SECONDS = 90
SUBSCRIBE = """subscription($after: String, $base: ID) {
  events(after: $after, baseId: $base) { position id type traineeId } }"""


@dataclass
class Writing:
    """Writer threads sharing two trainees on two bases, so that concurrent saves to one
    stream conflict (and, on PostgreSQL, leave gaps in the id sequence)."""

    services: Services
    commands_each: int = COMMANDS_EACH
    trainees: dict[str, uuid.UUID] = field(default_factory=dict)
    rotations: dict[str, uuid.UUID] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)

    def prepare(self) -> None:
        for n, base in enumerate(("base-1", "base-2")):
            trainee = enroll(self.services, national_id=f"11010119990101{n:04d}", base_id=base)
            rotation = uuid.uuid4()
            self.services.records.execute(c.ScheduleRotation(
                trainee, rotation, "cardiology", 1, date(2024, 9, 1), date(2024, 12, 1),
                "dr-wang"), system("base"))
            self.trainees[base], self.rotations[base] = trainee, rotation
        self.services.projector.catch_up()

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        return threads

    def _write(self, writer: int) -> None:
        base = ("base-1", "base-2")[writer % 2]
        try:
            for n in range(self.commands_each):
                command = c.RecordRotationEntry(
                    self.trainees[base], uuid.uuid4(), self.rotations[base], "CASE",
                    date(2024, 9, 2 + n % 20), f"case {writer}-{n}")
                try:
                    outcome = self.services.records.execute(command, system(f"writer-{writer}"))
                except Conflict:
                    continue  # refused, so never acknowledged: it must not appear
                self.services.after_write(outcome)
        except BaseException as error:  # noqa: B036 - reported by the test, not swallowed
            self.errors.append(error)


@pytest.fixture
def writing(settings: Settings, clock: FixedClock) -> Iterator[Writing]:
    writer_services = bootstrap.build(settings, clock=clock)
    yield Writing(writer_services)
    writer_services.close()


def committed(services: Services, base: str | None = None) -> list[tuple[str, str]]:
    """Every projected event (position cursor, id), in commit order."""
    sql = ("SELECT a.position, a.event_id FROM rm_audit_events a JOIN rm_trainees t "
           "ON t.id = a.trainee_id WHERE (:base IS NULL OR t.base_id = :base) "
           "ORDER BY a.position")
    with services.engine.connect() as connection:
        return [(f"{p:016d}", e) for p, e in connection.execute(sa.text(sql), {"base": base})]


def test_the_json_feed_paged_during_writes_holds_every_event_once_in_order(
    services: Services, writing: Writing
) -> None:
    writing.prepare()
    seen: list[tuple[str, str]] = []
    auditor = AUDITOR.authorization(services.settings)
    with serving(create_app(services)) as url, httpx.Client(
        base_url=url, timeout=30, headers=auditor
    ) as http:
        threads = writing.run()
        after = None
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            writers_done = not any(thread.is_alive() for thread in threads)
            page = http.get("/feed/events", params={"limit": 37, **(
                {"after": after} if after else {})}).json()
            seen += [(item["position"], item["id"]) for item in page["items"]]
            after = page["nextCursor"]
            if writers_done and not page["hasMore"] and len(seen) >= len(committed(services)):
                break
        for thread in threads:
            thread.join(timeout=DEADLINE_SECONDS)
    assert not writing.errors
    assert seen == committed(services)
    assert len(seen) > WRITERS * COMMANDS_EACH // 2


def test_the_json_feed_refuses_what_it_did_not_issue(services: Services) -> None:
    auditor = AUDITOR.authorization(services.settings)
    with serving(create_app(services)) as url, httpx.Client(
        base_url=url, timeout=30, headers=auditor
    ) as http:
        bad_cursor = http.get("/feed/events", params={"after": "yesterday"})
        too_many = http.get("/feed/events", params={"limit": 5000})
        bad_id = http.get("/feed/events", params={"traineeId": "nobody"})
        anonymous = http.get("/feed/events", headers={"Authorization": ""})
        forged = http.get("/feed/events", headers={"Authorization": "Bearer not.a.token"})
        elsewhere = http.get("/feed/events", params={"baseId": "base-2"},
                             headers=registry("base-1").authorization(services.settings))
    assert bad_cursor.status_code == too_many.status_code == bad_id.status_code == 400
    assert "not a cursor this service issued" in bad_cursor.json()["error"]["message"]
    assert "limit must be between 1 and 1000" in too_many.json()["error"]["message"]
    assert bad_id.json()["error"]["code"] == "BAD_USER_INPUT"
    assert anonymous.status_code == forged.status_code == 401
    assert anonymous.json()["error"]["code"] == forged.json()["error"]["code"] == "UNAUTHENTICATED"
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"] == "FORBIDDEN"


async def subscribe(url: str, received: list[dict[str, Any]], *, credentials: dict[str, str],
                    after: str | None = None, base: str | None = None,
                    stop_after: int | None = None, until: threading.Event,
                    want: list[int]) -> None:
    """One graphql-transport-ws session: collects events until `until` is set and `want[0]`
    events arrived, or `stop_after` arrived (then it hangs up, as a dropped client does).
    Credentials go in connection_init, where a browser's client puts them."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": credentials}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIBE, "variables": {"after": after, "base": base}}}))
        got = 0
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if until.is_set() and len(received) >= want[0]:
                return
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=0.5))
            except TimeoutError:
                continue
            assert message["type"] == "next", message
            received.append(message["payload"]["data"]["events"])
            got += 1
            if stop_after is not None and got >= stop_after:
                return


def test_subscribers_catch_up_then_follow_live_and_resume_after_a_drop(
    services: Services, writing: Writing
) -> None:
    writing.prepare()
    everything: list[dict[str, Any]] = []
    resumed: list[dict[str, Any]] = []
    of_base: list[dict[str, Any]] = []
    finished = threading.Event()
    # How many events the whole log and base-1 hold, once the writers finished.
    want_all, want_base = [0], [0]

    auditor = AUDITOR.authorization(services.settings)
    # A registry names no base: its feed is its own base's.
    base_registry = registry("base-1").authorization(services.settings)

    async def clients(url: str) -> None:
        async def dropping_then_resuming() -> None:
            await subscribe(url, resumed, credentials=auditor, stop_after=50, until=finished,
                            want=want_all)
            await subscribe(url, resumed, credentials=auditor, after=resumed[-1]["position"],
                            until=finished, want=want_all)

        await asyncio.gather(
            subscribe(url, everything, credentials=auditor, until=finished, want=want_all),
            dropping_then_resuming(),
            subscribe(url, of_base, credentials=base_registry, until=finished, want=want_base),
        )

    with serving(create_app(services)) as url:
        listening = threading.Thread(target=lambda: asyncio.run(clients(url)))
        listening.start()
        for thread in writing.run():
            thread.join(timeout=DEADLINE_SECONDS)
        want_all[0] = len(committed(services))
        want_base[0] = len(committed(services, "base-1"))
        finished.set()
        listening.join(timeout=DEADLINE_SECONDS)
        assert not listening.is_alive(), "subscribers did not finish in time"

    assert not writing.errors
    expected = committed(services)
    assert [(e["position"], e["id"]) for e in everything] == expected
    assert [(e["position"], e["id"]) for e in resumed] == expected
    assert [(e["position"], e["id"]) for e in of_base] == committed(services, "base-1")
    base_one = str(writing.trainees["base-1"])
    assert {e["traineeId"] for e in of_base} == {base_one}
