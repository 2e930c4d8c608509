"""A registry's webhook endpoint on 127.0.0.1, as a test double with real HTTP.

It checks each request's Standard Webhooks signature the way the README tells receivers
to (written here again, independently of the service's signing code), records what it
got, and misbehaves at random from a seeded RNG: 500s, answers slower than the worker's
timeout, connections dropped without an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK, FAIL, SLOW, DROP, HELD, BAD_SIGNATURE = "ok", "fail", "slow", "drop", "held", "bad-signature"


@dataclass
class Received:
    seq: int
    webhook_id: str
    timestamp: str
    body: bytes
    envelope: dict[str, Any]
    content_type: str
    signature_ok: bool
    answer: str = ""

    @property
    def position(self) -> str:
        return str(self.envelope["position"])

    @property
    def trainee_id(self) -> str:
        return str(self.envelope["subject"])


def verify(secret: str, headers: Any, body: bytes, now: float) -> bool:
    """The README's receiver check: HMAC-SHA256 over id.timestamp.body with the secret's
    decoded bytes, compared in constant time; stale timestamps refused."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > 5 * 60:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected.encode(), candidate.encode())
        for candidate in headers.get("webhook-signature", "").split()
    )


@dataclass
class Receiver:
    seed: int = 0
    fail_rate: float = 0.0
    slow_rate: float = 0.0
    drop_rate: float = 0.0
    slow_seconds: float = 1.0
    now: Callable[[], float] = time.time
    secret: str = ""
    down: bool = False
    # Called with each request before it is answered (e.g. to pause the endpoint).
    on_request: Callable[[Received], None] | None = None
    # Holds the n-th request (1-based) until `release` is set, then answers it.
    hold_request: int | None = None
    received: list[Received] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    max_in_flight: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._in_flight = 0

    # -- what tests read ------------------------------------------------------------------

    def acked(self) -> set[str]:
        """Webhook ids answered 2xx in time: what the worker may count as delivered."""
        with self._lock:
            return {r.webhook_id for r in self.received if r.answer == OK}

    def by_id(self) -> dict[str, list[Received]]:
        with self._lock:
            grouped: dict[str, list[Received]] = {}
            for r in self.received:
                grouped.setdefault(r.webhook_id, []).append(r)
            return grouped

    def first_arrivals(self) -> list[Received]:
        """Each event's first arrival, in arrival order."""
        seen: set[str] = set()
        firsts = []
        with self._lock:
            for r in self.received:
                if r.webhook_id not in seen:
                    seen.add(r.webhook_id)
                    firsts.append(r)
        return firsts

    # -- serving --------------------------------------------------------------------------

    def _behaviour(self, seq: int) -> str:
        if self.hold_request is not None and seq == self.hold_request:
            return HELD
        if self.down:
            return FAIL
        with self._lock:
            draw = self._rng.random()
        if draw < self.fail_rate:
            return FAIL
        if draw < self.fail_rate + self.slow_rate:
            return SLOW
        if draw < self.fail_rate + self.slow_rate + self.drop_rate:
            return DROP
        return OK

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length", "0"))
        body = request.rfile.read(length)
        with self._lock:
            seq = len(self.received) + 1
            record = Received(
                seq=seq,
                webhook_id=request.headers.get("webhook-id", ""),
                timestamp=request.headers.get("webhook-timestamp", ""),
                body=body,
                envelope=json.loads(body),
                content_type=request.headers.get("content-type", ""),
                signature_ok=verify(self.secret, request.headers, body, self.now()),
            )
            self.received.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        behaviour = BAD_SIGNATURE if not record.signature_ok else self._behaviour(seq)
        try:
            if self.on_request is not None:
                self.on_request(record)
            if behaviour == HELD:
                with self._lock:  # its sender is expected to die: it no longer counts
                    self._in_flight -= 1
                self.holding.set()
                self.release.wait(60)
                record.answer = HELD
                _answer(request, 200)
                return
            if behaviour == SLOW:
                time.sleep(self.slow_seconds)
                record.answer = SLOW
                _answer(request, 200)
            elif behaviour == DROP:
                record.answer = DROP
                request.close_connection = True
                request.connection.shutdown(socket.SHUT_RDWR)
            elif behaviour in (FAIL, BAD_SIGNATURE):
                record.answer = behaviour
                _answer(request, 401 if behaviour == BAD_SIGNATURE else 503, b"try later")
            else:
                _answer(request, 200)
                record.answer = OK
        finally:
            if behaviour != HELD:
                with self._lock:
                    self._in_flight -= 1

    @contextmanager
    def serving(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/dualtrack"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def _answer(request: BaseHTTPRequestHandler, status: int, body: bytes = b"") -> None:
    try:
        request.send_response(status)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    except OSError:
        pass  # the sender gave up (timed out) or died: what it would see anyway
