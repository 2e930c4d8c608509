"""The NATS JetStream relay, run as an operator runs it (`dualtrack relay`, a subprocess),
against the local nats-server with JetStream (DUALTRACK_TEST_NATS_URL, default
nats://127.0.0.1:4222). Each test uses a stream and subject prefix of its own and deletes
the stream afterwards, so runs never see each other's messages. Tests never skip: if
NATS is down they fail and say so."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa
from nats.js.api import StreamConfig

from bench.dataset import ROTATION_END, ROTATION_START, entry_command
from domain import commands as c
from projections.queries import events_page
from service import relay
from service.bootstrap import Services
from service.feed import cloud_event
from service.principals import system
from service.settings import Settings
from tests.history import enroll, realistic
from tests.test_cli import REPO, _env, dualtrack, free_port

NATS_URL_VARIABLE = "DUALTRACK_TEST_NATS_URL"
NATS_URL = os.environ.get(NATS_URL_VARIABLE, "nats://127.0.0.1:4222")


# -- NATS helpers ---------------------------------------------------------------------


def _nats(work: Callable[[Any], Any]) -> Any:
    """Runs `work(jetstream)` on a fresh connection and closes it."""

    async def run() -> Any:
        async def failed(error: Exception) -> None:
            raise ConnectionError(str(error) or type(error).__name__)

        connection = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False,
                                        max_reconnect_attempts=1, reconnect_time_wait=0,
                                        error_cb=failed)
        try:
            return await work(connection.jetstream(timeout=10))
        finally:
            await connection.close()

    return asyncio.run(run())


@dataclass
class Message:
    sequence: int
    subject: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Stream:
    name: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {"DUALTRACK_NATS_URL": NATS_URL, "DUALTRACK_NATS_STREAM": self.name,
                "DUALTRACK_NATS_SUBJECT_PREFIX": self.prefix}

    def count(self) -> int:
        async def count(js: Any) -> int:
            try:
                return int((await js.stream_info(self.name)).state.messages)
            except nats.js.errors.NotFoundError:
                return 0

        return int(_nats(count))

    def consume(self) -> list[Message]:
        """Every message, read by an ordered push consumer from the stream's start."""
        expected = self.count()

        async def consume(js: Any) -> list[Message]:
            subscription = await js.subscribe(f"{self.prefix}.>", stream=self.name,
                                              ordered_consumer=True)
            messages: list[Message] = []
            try:
                deadline = time.monotonic() + 30
                while len(messages) < expected and time.monotonic() < deadline:
                    msg = await subscription.next_msg(timeout=5)
                    messages.append(Message(msg.metadata.sequence.stream, msg.subject,
                                            dict(msg.headers or {}), json.loads(msg.data)))
                with contextlib.suppress(nats.errors.TimeoutError):
                    extra = await subscription.next_msg(timeout=0.3)
                    pytest.fail(f"the stream holds more than it reported: {extra}")
            finally:
                await subscription.unsubscribe()
            return messages

        return list(_nats(consume))


@pytest.fixture
def stream() -> Iterator[Stream]:
    async def reachable(js: Any) -> None:
        await js.account_info()

    try:
        _nats(reachable)
    except Exception as error:  # noqa: BLE001 - any failure here means "no usable NATS"
        pytest.fail(f"NATS with JetStream at {NATS_URL} is required (set {NATS_URL_VARIABLE};"
                    f" start nats-server -js): {type(error).__name__}: {error}")
    token = uuid.uuid4().hex[:12]
    made = Stream(name=f"DTTEST_{token.upper()}", prefix=f"dttest.{token}.events")
    yield made

    async def delete(js: Any) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(made.name)

    _nats(delete)


# -- the relay as a process -----------------------------------------------------------


class RelayProcess:
    def __init__(self, env: dict[str, str], log: Path, *args: str):
        self.log = log
        with log.open("a") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "relay", *args], cwd=REPO,
                env=_env(env), stdout=output, stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text()

    def alive(self) -> None:
        assert self.process.poll() is None, self.text()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no clean-up, as in a crash
        self.process.wait(timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30,
               process: RelayProcess | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None:
            process.alive()
        assert time.monotonic() < deadline, f"timed out waiting until {what}" + (
            f"\n{process.text()}" if process else "")
        time.sleep(0.05)


def relay_env(settings: Settings, stream: Stream) -> dict[str, str]:
    return {"DUALTRACK_DATABASE_URL": settings.database_url,
            "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file, **stream.env}


def projected(services: Services) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while page := events_page(services.engine, after_position=rows[-1]["position"] if rows
                              else 0, limit=1000):
        rows.extend(page)
    return rows


def position_of(services: Services, stream: Stream) -> int:
    return relay.stored_position(services.engine, relay.consumer_name(stream.name))


def assert_exactly_the_projected_events_in_order(services: Services, stream: Stream) -> None:
    rows = projected(services)
    messages = stream.consume()
    assert stream.count() == len(messages) == len(rows)
    assert [m.sequence for m in messages] == list(range(1, len(rows) + 1))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [row["event_id"] for row in rows]
    assert [int(m.headers["Dualtrack-Position"]) for m in messages] == [
        row["position"] for row in rows]
    assert [m.subject for m in messages] == [f"{stream.prefix}.{row['type']}" for row in rows]
    assert [m.body for m in messages] == [json.loads(json.dumps(cloud_event(row)))
                                          for row in rows]


# -- the tests ------------------------------------------------------------------------

WRITERS = 4
ENTRIES_PER_WRITER = 500  # each writer: enrollment + rotation + entries = 502 events


def test_thousands_of_concurrent_events_reach_the_stream_once_each_in_commit_order_despite_kills(
    services: Services, settings: Settings, stream: Stream, tmp_path: Path
) -> None:
    stop_projecting = threading.Event()
    projector = threading.Thread(target=services.projector.run_forever, args=(stop_projecting,))
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            trainee = enroll(services, national_id=f"RELAY{n:013d}", name=f"Writer {n}")
            rotation = uuid.uuid4()
            services.records.execute(c.ScheduleRotation(
                trainee, rotation, "cardiology", 1, ROTATION_START, ROTATION_END,
                tutor_id="dr-relay"), system("base"))
            for k in range(ENTRIES_PER_WRITER):
                services.records.execute(entry_command(trainee, rotation, k), system(f"writer-{n}"))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    log = tmp_path / "relay.log"
    env = relay_env(settings, stream)
    projector.start()
    for writer in writers:
        writer.start()
    expected = WRITERS * (ENTRIES_PER_WRITER + 2)
    process = RelayProcess(env, log)
    kills = []
    try:
        for share in (0.2, 0.5):
            wait_until(lambda s=share: position_of(services, stream) > 0
                       and stream.count() >= s * expected,
                       f"{share:.0%} is published", process=process)
            process.kill()
            kills.append(position_of(services, stream))
            process = RelayProcess(env, log)
        for writer in writers:
            writer.join(timeout=120)
        assert not failures, failures
        wait_until(lambda: services.projector.position() == services.projector.head(),
                   "the projector caught up", seconds=60)
        head = projected(services)[-1]["position"]
        wait_until(lambda: position_of(services, stream) == head,
                   "the relay stored the last position", seconds=60, process=process)
        assert process.stop() == 0, process.text()
    finally:
        stop_projecting.set()
        projector.join(timeout=30)
        if process.process.poll() is None:
            process.kill()

    assert len(projected(services)) == expected
    assert all(0 < killed < head for killed in kills), (kills, head)
    assert_exactly_the_projected_events_in_order(services, stream)
    assert process.text().count("publishing to stream") >= 3


def test_a_rolled_back_position_publishes_nothing_twice(
    services: Services, settings: Settings, stream: Stream
) -> None:
    realistic(services)
    services.projector.catch_up()
    env = relay_env(settings, stream)
    first = dualtrack("relay", "--until-caught-up", "--page-size", "7", env=env)
    assert first.returncode == 0, first.stderr
    rows = projected(services)
    assert stream.count() == len(rows) == 28
    assert f"published 28 events; the stream holds every projected event up to position " \
           f"{rows[-1]['position']:016d}" in first.stdout

    # A crash between JetStream's acknowledgement and the position update: the stored
    # position is older than what the stream holds.
    relay.store_position(services.engine, relay.consumer_name(stream.name), rows[9]["position"])
    again = dualtrack("relay", "--until-caught-up", env=env)
    assert again.returncode == 0, again.stderr
    assert "resuming after it" in again.stderr
    assert "published 0 events" in again.stdout
    assert stream.count() == 28
    assert position_of(services, stream) == rows[-1]["position"]

    # And were they published again (a relay without the reconciliation, or a second
    # relay), JetStream drops them on their Nats-Msg-Id.
    async def republish(js: Any) -> list[bool]:
        acks = []
        for row in rows:
            subject, payload, headers = relay.message_of(row, stream.prefix)
            acks.append(await js.publish(subject, payload, headers=headers, stream=stream.name))
        return [bool(ack.duplicate) for ack in acks]

    assert _nats(republish) == [True] * 28
    assert stream.count() == 28

    # New events after that follow on, in order.
    enroll(services, national_id="110101199901019999")
    services.projector.catch_up()
    assert dualtrack("relay", "--until-caught-up", env=env).returncode == 0
    assert_exactly_the_projected_events_in_order(services, stream)


class Outage:
    """A TCP forwarder to NATS that a test opens and cuts, standing in for NATS going
    down and coming back on the relay's configured address."""

    def __init__(self, port: int):
        self.port = port
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        host, _, nats_port = NATS_URL.split("://")[1].rpartition(":")
        self.upstream = (host, int(nats_port))
        self.threads: list[threading.Thread] = []

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self.listener = listener
        self._thread(self._accept, listener)

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.threads = []

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, upstream]
            self._thread(self._pump, client, upstream)
            self._thread(self._pump, upstream, client)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_RDWR)


@pytest.mark.parametrize("backend", ["postgresql"])  # NATS's outage, whatever the database
def test_nats_down_is_reported_and_retried_without_losing_the_position(
    services: Services, settings: Settings, stream: Stream, tmp_path: Path
) -> None:
    realistic(services)
    services.projector.catch_up()
    outage = Outage(free_port())
    address = f"nats://127.0.0.1:{outage.port}"
    log = tmp_path / "relay.log"
    process = RelayProcess(relay_env(settings, stream) | {"DUALTRACK_NATS_URL": address}, log)
    try:
        wait_until(lambda: f"cannot reach NATS at {address}" in process.text(),
                   "the relay says NATS is unreachable", process=process)
        time.sleep(2)  # several retries, logged once
        process.alive()
        assert process.text().count("cannot reach NATS") == 1, process.text()
        assert position_of(services, stream) == 0 and stream.count() == 0

        outage.open()
        head = projected(services)[-1]["position"]
        wait_until(lambda: position_of(services, stream) == head, "the relay caught up",
                   process=process)
        assert "recovered after" in process.text()

        outage.cut()  # NATS goes away while the relay runs, and events keep coming
        enroll(services, national_id="110101199901019999")
        services.projector.catch_up()
        wait_until(lambda: "lost the connection" in process.text()
                   or process.text().count("cannot reach NATS") >= 2,
                   "the relay notices the outage", process=process)
        assert position_of(services, stream) == head
        outage.open()
        head = projected(services)[-1]["position"]
        wait_until(lambda: position_of(services, stream) == head, "the relay caught up again",
                   process=process)
        assert process.stop() == 0, process.text()
    finally:
        if process.process.poll() is None:
            process.kill()
        outage.cut()
    assert_exactly_the_projected_events_in_order(services, stream)
    assert "Traceback" not in process.text()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DUALTRACK_NATS_URL", "http://127.0.0.1:4222", "DUALTRACK_NATS_URL must be nats://"),
        ("DUALTRACK_NATS_STREAM", "dual.track", "DUALTRACK_NATS_STREAM must be a JetStream"),
        ("DUALTRACK_NATS_SUBJECT_PREFIX", "dualtrack.*", "DUALTRACK_NATS_SUBJECT_PREFIX must"),
        ("DUALTRACK_NATS_DUPLICATE_WINDOW_SECONDS", "0", "must be at least 1"),
        ("DUALTRACK_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x", "cannot reach the"),
    ],
)
def test_bad_relay_settings_give_one_line(variable: str, value: str, says: str,
                                          tmp_path: Path) -> None:
    env = {"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", variable: value}
    result = dualtrack("relay", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_stream_that_would_not_take_the_events_stops_the_relay_with_one_line(
    services: Services, settings: Settings, stream: Stream
) -> None:
    async def occupy(js: Any) -> None:
        await js.add_stream(StreamConfig(name=stream.name, subjects=[f"{stream.prefix}x.>"]))

    _nats(occupy)
    result = dualtrack("relay", env=relay_env(settings, stream))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"dualtrack: error: JetStream stream {stream.name} exists but does not take "
        f"{stream.prefix}.> (its subjects: {stream.prefix}x.>); set DUALTRACK_NATS_STREAM "
        "or DUALTRACK_NATS_SUBJECT_PREFIX")


def test_stream_subjects_that_take_the_prefix() -> None:
    prefix = "dualtrack.events"
    for subjects in (["dualtrack.events.>"], ["dualtrack.>"], [">"], ["dualtrack.*.*"],
                     ["other.>", "dualtrack.events.*"], ["*.events.>"]):
        assert relay.takes_subjects(subjects, prefix), subjects
    for subjects in ([], ["dualtrack.events"], ["dualtrack.events.x"], ["dualtrack.*"],
                     ["dualtrack.events.*.*"], ["other.>"]):
        assert not relay.takes_subjects(subjects, prefix), subjects


def test_the_relay_reads_a_position_it_never_stored_as_the_start(services: Services) -> None:
    assert relay.stored_position(services.engine, "nats-relay:NOWHERE") == 0
    relay.store_position(services.engine, "nats-relay:NOWHERE", 41)
    relay.store_position(services.engine, "nats-relay:NOWHERE", 42)
    assert relay.stored_position(services.engine, "nats-relay:NOWHERE") == 42
    with services.engine.connect() as connection:
        assert connection.execute(sa.text(
            "SELECT count(*) FROM consumer_positions WHERE consumer = 'nats-relay:NOWHERE'"
        )).scalar() == 1
