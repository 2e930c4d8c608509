"""Concurrent clients that record rotation entries over GraphQL while the test crashes
things, and remember exactly which requests were acknowledged.

Each request carries a description used by no other request, so the event it wrote (if
any) is found in the log by it. Only a 200 answer with the entry's position and no
error is an acknowledgement; a refused connection, a reset, a timeout, a 5xx or a
GraphQL error is not (the command may or may not have been committed). A client never
resends a request: it sends a new one, with a new description.

The test moves the load from one *phase* to the next at each crash, so it can show that
commands were acknowledged before and after every one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from service import positions
from service.bootstrap import Services
from service.settings import Settings
from tests.callers import trainee
from tests.storage.test_group_commit import with_rotation

RECORD_ENTRY = """mutation($t: ID!, $r: ID!, $d: String!) { recordRotationEntry(traineeId: $t,
  rotationId: $r, kind: CASE, occurredOn: "2025-02-01", description: $d) { position } }"""
# Long enough for a request waiting on the worker (worker mode waits up to 10 s before
# projecting the write itself), short enough that a hung request cannot stall a test.
REQUEST_TIMEOUT = 15.0
# After a failure (the server or the database is down), before the next request.
BACKOFF_SECONDS = 0.1


@dataclass(frozen=True)
class Target:
    """A trainee's rotation, and the trainee's bearer token (only they record entries)."""

    trainee_id: str
    rotation_id: str
    token: str


def enrolled_targets(services: Services, settings: Settings, count: int) -> list[Target]:
    """Enrolls `count` trainees, each with a rotation to record entries in."""
    targets = []
    for n in range(count):
        trainee_id, rotation_id = with_rotation(services, f"11010119990105{n:04d}")
        token = trainee(str(trainee_id)).token(settings)
        targets.append(Target(str(trainee_id), str(rotation_id), token))
    return targets


@dataclass(frozen=True)
class Ack:
    client: int
    description: str
    position: int
    phase: int


@dataclass(frozen=True)
class Unacknowledged:
    client: int
    description: str
    phase: int
    reason: str


class Load:
    def __init__(self, url: str, targets: list[Target], clients: int, tag: str):
        self.url = f"{url}/graphql"
        self.targets, self.clients, self.tag = targets, clients, tag
        self.phase = 0
        self.acked: list[Ack] = []
        self.unacknowledged: list[Unacknowledged] = []
        self.unexpected: list[BaseException] = []  # a bug in the client itself
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), name=f"client-{n}", daemon=True)
            for n in range(clients)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self._threads), "a client hung"
        assert not self.unexpected, self.unexpected

    def next_phase(self) -> None:
        with self._lock:
            self.phase += 1

    def acks_per_phase(self) -> list[int]:
        with self._lock:
            counted = Counter(ack.phase for ack in self.acked)
            return [counted[phase] for phase in range(self.phase + 1)]

    def wait_for_acks(
        self, count: int, within: float, alive: Callable[[], None] | None = None
    ) -> None:
        """Waits until the current phase has `count` acknowledgements; `alive()` may raise
        to tell why none come (a process died)."""
        deadline = time.monotonic() + within
        while self.acks_per_phase()[-1] < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {self.acks_per_phase()[-1]} of {count} commands were acknowledged "
                    f"within {within:.0f}s in phase {self.phase}; last failures: "
                    f"{[u.reason for u in self.unacknowledged[-3:]]}"
                )
            if alive is not None:
                alive()
            time.sleep(0.02)

    def _client(self, n: int) -> None:
        target = self.targets[n % len(self.targets)]
        headers = {"Authorization": f"Bearer {target.token}"}
        sent = 0
        try:
            with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
                while not self._stop.is_set():
                    description = f"{self.tag} client {n} request {sent}"
                    sent += 1
                    variables = {"t": target.trainee_id, "r": target.rotation_id,
                                 "d": description}
                    position, reason = _send(http, self.url, headers, variables)
                    with self._lock:
                        if position is not None:
                            self.acked.append(Ack(n, description, position, self.phase))
                        else:
                            self.unacknowledged.append(
                                Unacknowledged(n, description, self.phase, reason))
                    if position is None:
                        self._stop.wait(BACKOFF_SECONDS)
        except BaseException as error:  # noqa: BLE001 - reported by stop(), not lost
            self.unexpected.append(error)


def _send(
    http: httpx.Client, url: str, headers: dict[str, str], variables: dict[str, str]
) -> tuple[int | None, str]:
    """The acknowledged position, or None and why the request was not acknowledged."""
    try:
        answer = http.post(url, json={"query": RECORD_ENTRY, "variables": variables},
                           headers=headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"
    if answer.status_code != 200:
        return None, f"HTTP {answer.status_code}"
    try:
        body = answer.json()
    except ValueError:
        return None, "not JSON"
    if body.get("errors"):
        return None, f"GraphQL error {body['errors'][0].get('extensions', {}).get('code')}"
    try:
        return positions.decode(body["data"]["recordRotationEntry"]["position"]), ""
    except (KeyError, TypeError):
        return None, f"no position in {body}"
