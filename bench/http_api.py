"""The GraphQL API served over real HTTP, in a thread of this process, for the benchmark."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from service.bootstrap import Services
from service.settings import Settings
from service.tokens import mint

# The handbook as the contract (shared/contract/minimum.graphql) asks for it.
HANDBOOK = """query($t: ID!) { trainee(id: $t) {
  handbook { clinicalMonths complete missing
    rotations { id department entries { id kind occurredOn description signedBy late retracted } }
    assessments { id kind overall passed } }
  certificates { kind state unmet } } }"""

START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class ApiUnavailable(Exception):
    """The API module cannot be imported (it is written elsewhere, concurrently)."""


def app_factory() -> Callable[[Services], Any]:
    try:
        from api.app import create_app
    except Exception as error:  # any import-time failure means: nothing to serve
        raise ApiUnavailable(f"{type(error).__name__}: {error}".splitlines()[0]) from None
    return create_app


@contextmanager
def running_server(services: Services) -> Iterator[str]:
    """Serves dualtrack's app on 127.0.0.1 (a free port the OS picks); yields its base URL."""
    create_app = app_factory()
    with serving(create_app(services)) as url:
        yield url


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serves an ASGI app the way the benchmark serves every app it measures: uvicorn, one
    process, its own thread of this one, on a free loopback port; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the benchmark's HTTP server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the benchmark's HTTP server did not start in {START_TIMEOUT:g} s")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)


# A handbook entry, as a trainee records one (the mutation the command figures post).
RECORD_ENTRY = """mutation($t: ID!, $r: ID!, $on: Date!, $d: String!) { recordRotationEntry(
  traineeId: $t, rotationId: $r, kind: CASE, occurredOn: $on, description: $d) { position id } }"""


def auditor_headers(settings: Settings) -> dict[str, str]:
    """An auditor's bearer token: reads every trainee, as a regulator's portal does."""
    token = mint(settings, roles=["auditor"], subject="bench-auditor")
    return {"Authorization": f"Bearer {token}"}


def trainee_headers(settings: Settings, trainee_id: uuid.UUID) -> dict[str, str]:
    """The trainee's own bearer token: only trainees record their handbook entries."""
    token = mint(settings, roles=["trainee"], subject=str(trainee_id))
    return {"Authorization": f"Bearer {token}"}


def handbook_client(client: httpx.Client, trainee_id: uuid.UUID) -> Callable[[], int]:
    """A call that posts the handbook query once and returns how many entries came back."""
    body = {"query": HANDBOOK, "variables": {"t": str(trainee_id)}}

    def query() -> int:
        answer = client.post("/graphql", json=body)
        if answer.status_code != 200:
            raise RuntimeError(
                f"handbook query answered HTTP {answer.status_code}: {answer.text[:300]}")
        payload = answer.json()
        if payload.get("errors") or not (payload.get("data") or {}).get("trainee"):
            raise RuntimeError(f"handbook query failed: {answer.text[:300]}")
        rotations = payload["data"]["trainee"]["handbook"]["rotations"]
        return sum(len(rotation["entries"]) for rotation in rotations)

    return query
