"""The delivery worker (`dualtrack deliver`): every matching event to every active endpoint,
at least once, in order per trainee.

For each active endpoint, one pass ("tick") does, under the endpoint's lock:

1. Retries. Pending deliveries that are due and are the earliest pending one of their
   trainee are sent again, in log order.
2. New events. The projected events after the endpoint's cursor are read in log order
   (`events_page`) and filtered by the endpoint's types and base. An event of a trainee
   that already has a pending delivery to this endpoint is queued behind it without being
   sent; any other is sent now.

Each outcome is recorded in one transaction together with the cursor's move past the
event, so the cursor never passes an event whose outcome is not recorded:

- a 2xx answer: the delivery is DELIVERED (the receiver acknowledged it);
- anything else, a timeout or a connection error: the delivery is PENDING with its next
  attempt after an exponential, jittered backoff; once it has failed for the whole retry
  window (at least `webhook_retry_hours` from its first attempt, the last attempt at or
  after the window's end) it is DEAD, a dead letter, and no longer holds back its trainee's
  later events (they go on; the dead letter waits in the log to be redelivered);
- a crash before the outcome is recorded: nothing was recorded, so the event (or the
  retry) is sent again after the restart, with the same webhook-id.

On PostgreSQL a session-level advisory lock per endpoint lets one worker process at a time
deliver to an endpoint (the others skip it), and the lock goes with a dead worker's
connection. SQLite has no such lock: run one `dualtrack deliver` there.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from projections import queries
from service import positions
from service.bootstrap import Services
from service.feed import cloud_event
from service.webhooks import signing
from service.webhooks import tables as w
from service.webhooks.registry import Delivery, Endpoint, utc

CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "dualtrack-webhooks/1"
# The second key of the two-key advisory locks (the first is the endpoint's).
LOCK_CLASS = 0x77686B73  # "whks"
MAX_ERROR = 500
BODY_READ_LIMIT = 64 * 1024

Log = Callable[[str], None]
Row = dict[str, Any]


@dataclass(frozen=True)
class Attempt:
    """What one POST came to."""

    ok: bool
    started: datetime
    status_code: int | None = None
    error: str | None = None


class Backoff:
    """The wait after the n-th failed attempt: base * 2^(n-1), capped, with "equal jitter"
    (half of it fixed, half random), so retries of many deliveries spread out."""

    def __init__(self, base_seconds: float, cap_seconds: float, rng: random.Random):
        self.base = base_seconds
        self.cap = cap_seconds
        self.rng = rng

    def delay(self, failed_attempts: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(max(failed_attempts - 1, 0), 62))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def next_attempt_at(
    now: datetime, first_attempt_at: datetime, failed_attempts: int, backoff: Backoff,
    window: timedelta,
) -> datetime | None:
    """When to try again after a failure at `now`, or None: the window is spent.

    The last retry is scheduled no later than the window's end, and a delivery is given up
    only after an attempt at or after it, so every delivery is tried for the whole window.
    """
    deadline = first_attempt_at + window
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=backoff.delay(failed_attempts)), deadline)


@dataclass
class _Target:
    endpoint: Endpoint
    secret: str
    client: httpx.Client


class DeliveryWorker:
    def __init__(
        self,
        services: Services,
        *,
        rng: random.Random | None = None,
        log: Log | None = None,
        batch_size: int = 100,
    ):
        settings = services.settings
        self.services = services
        self.webhooks = services.webhooks
        self.engine = services.engine
        self.datastore = services.records.recorder.datastore
        self.clock = services.records.clock
        self.timeout = settings.webhook_timeout_seconds
        self.window = timedelta(hours=settings.webhook_retry_hours)
        self.backoff = Backoff(
            settings.webhook_backoff_base_seconds,
            settings.webhook_backoff_cap_seconds,
            rng or random.Random(),
        )
        self.concurrency = settings.webhook_concurrency
        self.poll_seconds = settings.webhook_poll_seconds
        self.batch_size = batch_size
        self.log: Log = log or (lambda message: None)
        self._is_postgres = self.engine.dialect.name == "postgresql"
        self._clients: dict[str, httpx.Client] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    # -- running --------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Delivers until `stop` is set: each active endpoint in turn on a pool of
        `webhook_concurrency` threads, one tick at a time per endpoint; an endpoint with
        nothing to do rests for `webhook_poll_seconds`."""
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="webhooks")
        running: dict[str, Future[int]] = {}
        rest_until: dict[str, float] = {}
        try:
            while not stop.is_set():
                try:
                    active = self._active_endpoints()
                except sa.exc.SQLAlchemyError as error:
                    self.log(f"webhooks: cannot read the endpoints: {_reason(error)}")
                    stop.wait(max(self.poll_seconds, 1.0))
                    continue
                now = time.monotonic()
                for endpoint_id in active:
                    if endpoint_id not in running and rest_until.get(endpoint_id, 0.0) <= now:
                        running[endpoint_id] = pool.submit(self._tick_safely, endpoint_id, stop)
                if running:
                    wait(list(running.values()), timeout=self.poll_seconds,
                         return_when=FIRST_COMPLETED)
                else:
                    stop.wait(self.poll_seconds)
                for endpoint_id, future in list(running.items()):
                    if future.done():
                        del running[endpoint_id]
                        busy = future.result() > 0
                        rest_until[endpoint_id] = time.monotonic() + (
                            0.0 if busy else self.poll_seconds
                        )
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.close()

    def run_once(self, stop: threading.Event | None = None) -> int:
        """One tick of every active endpoint, one after the other; returns the events
        handled (sent, queued behind a pending one, or passed over as not matching)."""
        return sum(self.deliver(endpoint_id, stop) for endpoint_id in self._active_endpoints())

    def drain(self, deadline_seconds: float = 30.0) -> int:
        """Ticks until nothing is left to do now (retries not yet due wait); for tests and
        `dualtrack deliver --once`."""
        deadline = time.monotonic() + deadline_seconds
        total = 0
        while time.monotonic() < deadline:
            handled = self.run_once()
            total += handled
            if handled == 0:
                return total
        raise TimeoutError(f"webhook deliveries still busy after {deadline_seconds}s")

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _tick_safely(self, endpoint_id: str, stop: threading.Event) -> int:
        try:
            return self.deliver(endpoint_id, stop)
        except sa.exc.SQLAlchemyError as error:
            self.log(f"webhooks: endpoint {endpoint_id}: database error: {_reason(error)}")
        except Exception as error:  # noqa: BLE001 - one endpoint's fault must not stop the rest
            self.log(f"webhooks: endpoint {endpoint_id}: {type(error).__name__}: {error}")
        return 0

    # -- one endpoint ---------------------------------------------------------------------

    def deliver(self, endpoint_id: str, stop: threading.Event | None = None) -> int:
        """One tick of one endpoint (see the module's description); returns the events
        handled, 0 when it had nothing to do or another worker holds it."""
        with self._holding(endpoint_id) as mine:
            if not mine:
                return 0
            with self.engine.connect() as connection:
                row = connection.execute(
                    sa.select(w.endpoints).where(w.endpoints.c.id == endpoint_id)
                ).mappings().first()
            if row is None or row["state"] != w.ACTIVE:
                return 0
            target = _Target(Endpoint.of(row), row["secret"], self._client(endpoint_id))
            handled, active = self._retry(target, stop)
            if active and not _stopping(stop):
                more, _ = self._advance(target, stop)
                handled += more
            return handled

    def _retry(self, target: _Target, stop: threading.Event | None) -> tuple[int, bool]:
        handled = 0
        while handled < self.batch_size and not _stopping(stop):
            due = self._due(target.endpoint.id, self.batch_size - handled)
            if not due:
                break
            for delivery in due:
                if _stopping(stop):
                    return handled, True
                row = self._event(delivery.position)
                if row is None:  # not in the read models now (a rebuild is under way)
                    return handled, True
                attempt = self._send(target, row)
                active = self._record_retry(delivery, attempt)
                handled += 1
                if not active:
                    return handled, False
        return handled, True

    def _advance(self, target: _Target, stop: threading.Event | None) -> tuple[int, bool]:
        endpoint = target.endpoint
        rows = queries.events_page(
            self.engine, after_position=endpoint.position, limit=self.batch_size
        )
        if not rows:
            return 0, True
        bases = self._bases(rows) if endpoint.base_id is not None else {}
        held = self._held_trainees(endpoint.id)
        handled = 0
        for row in rows:
            if _stopping(stop):
                return handled, True
            handled += 1
            if not endpoint.wants(row["type"], bases.get(row["trainee_id"])):
                continue
            trainee = row["trainee_id"]
            if trainee is not None and trainee in held:
                active = self._record_first(endpoint.id, row, None)
            else:
                attempt = self._send(target, row)
                active = self._record_first(endpoint.id, row, attempt)
                if not attempt.ok and trainee is not None:
                    held.add(trainee)
            if not active:
                return handled, False
        # The whole page is handled: the cursor passes the events that did not match too.
        self._move_cursor(endpoint.id, rows[-1]["position"])
        return handled, True

    # -- sending --------------------------------------------------------------------------

    def envelope(self, row: Row) -> bytes:
        """The exact bytes POSTed for an event: its CloudEvents JSON envelope."""
        return json.dumps(cloud_event(row), ensure_ascii=False, separators=(",", ":")).encode()

    def _send(self, target: _Target, row: Row) -> Attempt:
        body = self.envelope(row)
        started = utc(self.clock.now())
        assert started is not None
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            **signing.headers(target.secret, row["event_id"], int(started.timestamp()), body),
        }
        try:
            with target.client.stream(
                "POST", target.endpoint.url, content=body, headers=headers
            ) as response:
                code = response.status_code
                answer = _read_some(response)
        except httpx.TimeoutException as error:
            return Attempt(False, started, error=_short(
                f"timed out after {self.timeout:g}s ({type(error).__name__})"))
        except Exception as error:  # noqa: BLE001 - connection errors, a URL httpx refuses, ...
            # Whatever stopped this request is the attempt's failure, retried and in the end
            # dead-lettered: it must not stall the endpoint.
            return Attempt(False, started, error=_short(f"{type(error).__name__}: {error}"))
        if 200 <= code < 300:
            return Attempt(True, started, status_code=code)
        return Attempt(False, started, status_code=code,
                       error=_short(f"HTTP {code}" + (f": {answer}" if answer else "")))

    def _client(self, endpoint_id: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(endpoint_id)
            if client is None:
                client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout),
                    follow_redirects=False,  # a redirect is not an acknowledgement
                    limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
                )
                self._clients[endpoint_id] = client
            return client

    # -- recording ------------------------------------------------------------------------

    def _record_first(self, endpoint_id: str, row: Row, attempt: Attempt | None) -> bool:
        """Records the first outcome of an event (or that it waits behind an earlier one of
        its trainee) and moves the cursor past it, in one transaction. Returns whether the
        endpoint is still active."""
        now = utc(self.clock.now())
        assert now is not None
        values: dict[str, Any] = dict(
            endpoint_id=endpoint_id, position=row["position"], event_id=row["event_id"],
            event_type=row["type"], trainee_id=row["trainee_id"],
        )
        if attempt is None:
            values.update(state=w.PENDING, attempts=0, enqueued_at=now, next_attempt_at=now)
        else:
            values.update(
                enqueued_at=attempt.started, attempts=1, first_attempt_at=attempt.started,
                last_attempt_at=attempt.started, last_status_code=attempt.status_code,
                last_error=attempt.error, **self._after(attempt, attempt.started, 1, now),
            )
        e = w.endpoints.c
        with self.datastore.transaction(commit=True) as session:
            moved = session.execute(
                w.endpoints.update()
                .where(e.id == endpoint_id, e.position < row["position"])
                .values(position=row["position"])
            ).rowcount
            if moved:  # (else another worker recorded it first: SQLite with two workers)
                session.execute(w.deliveries.insert().values(**values))
            state = session.execute(sa.select(e.state).where(e.id == endpoint_id)).scalar()
        if attempt is not None and not attempt.ok:
            self._log_failure(endpoint_id, row["position"], values)
        return bool(state == w.ACTIVE)

    def _record_retry(self, delivery: Delivery, attempt: Attempt) -> bool:
        now = utc(self.clock.now())
        assert now is not None
        first = delivery.first_attempt_at or attempt.started
        attempts = delivery.attempts + 1
        values: dict[str, Any] = dict(
            attempts=attempts, first_attempt_at=first, last_attempt_at=attempt.started,
            last_status_code=attempt.status_code, last_error=attempt.error,
            **self._after(attempt, first, attempts, now),
        )
        d, e = w.deliveries.c, w.endpoints.c
        with self.datastore.transaction(commit=True) as session:
            session.execute(
                w.deliveries.update()
                .where(d.id == delivery.id, d.state == w.PENDING)
                .values(**values)
            )
            state = session.execute(
                sa.select(e.state).where(e.id == delivery.endpoint_id)
            ).scalar()
        if not attempt.ok:
            self._log_failure(delivery.endpoint_id, delivery.position, values)
        return bool(state == w.ACTIVE)

    def _after(
        self, attempt: Attempt, first: datetime, attempts: int, now: datetime
    ) -> dict[str, Any]:
        """The state an attempt leaves a delivery in."""
        if attempt.ok:
            return {"state": w.DELIVERED, "delivered_at": now, "next_attempt_at": None}
        retry_at = next_attempt_at(now, first, attempts, self.backoff, self.window)
        if retry_at is None:
            return {"state": w.DEAD, "dead_at": now, "next_attempt_at": None}
        return {"state": w.PENDING, "next_attempt_at": retry_at}

    def _move_cursor(self, endpoint_id: str, position: int) -> None:
        e = w.endpoints.c
        with self.datastore.transaction(commit=True) as session:
            session.execute(
                w.endpoints.update()
                .where(e.id == endpoint_id, e.position < position)
                .values(position=position)
            )

    def _log_failure(self, endpoint_id: str, position: int, values: dict[str, Any]) -> None:
        where = f"webhooks: endpoint {endpoint_id}: position {positions.encode(position)}"
        if values["state"] == w.DEAD:
            self.log(f"{where}: dead letter after {values['attempts']} attempts "
                     f"({values['last_error']})")
        else:
            self.log(f"{where}: attempt {values['attempts']} failed ({values['last_error']}); "
                     f"next at {values['next_attempt_at'].isoformat()}")

    # -- reading --------------------------------------------------------------------------

    def _active_endpoints(self) -> list[str]:
        e = w.endpoints.c
        with self.engine.connect() as connection:
            return list(connection.execute(
                sa.select(e.id).where(e.state == w.ACTIVE).order_by(e.registered_at, e.id)
            ).scalars())

    def _due(self, endpoint_id: str, limit: int) -> list[Delivery]:
        """Pending deliveries due now that no earlier pending delivery of the same trainee
        holds back, in log order."""
        d = w.deliveries.c
        earlier = w.deliveries.alias("earlier")
        held_back = sa.exists().where(
            earlier.c.endpoint_id == d.endpoint_id,
            earlier.c.state == w.PENDING,
            earlier.c.trainee_id == d.trainee_id,
            earlier.c.position < d.position,
        )
        statement = (
            sa.select(w.deliveries)
            .where(
                d.endpoint_id == endpoint_id,
                d.state == w.PENDING,
                d.next_attempt_at <= utc(self.clock.now()),
                ~held_back,
            )
            .order_by(d.position)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [Delivery.of(row) for row in connection.execute(statement).mappings()]

    def _held_trainees(self, endpoint_id: str) -> set[str]:
        d = w.deliveries.c
        with self.engine.connect() as connection:
            return set(connection.execute(
                sa.select(d.trainee_id).distinct().where(
                    d.endpoint_id == endpoint_id, d.state == w.PENDING,
                    d.trainee_id.is_not(None),
                )
            ).scalars())

    def _event(self, position: int) -> Row | None:
        rows = queries.events_page(self.engine, after_position=position - 1, limit=1)
        return rows[0] if rows and rows[0]["position"] == position else None

    def _bases(self, rows: list[Row]) -> dict[str, str]:
        ids = sorted({row["trainee_id"] for row in rows if row["trainee_id"] is not None})
        trainees = queries.trainees_by_id(self.engine, ids)
        return {i: t["base_id"] for i, t in zip(ids, trainees, strict=True) if t is not None}

    # -- one worker per endpoint ----------------------------------------------------------

    @contextmanager
    def _holding(self, endpoint_id: str) -> Iterator[bool]:
        """Whether this worker may deliver to the endpoint now: no other thread of this
        process and, on PostgreSQL, no other process is delivering to it."""
        with self._lock:
            if endpoint_id in self._busy:
                yield False
                return
            self._busy.add(endpoint_id)
        try:
            if not self._is_postgres:
                yield True
                return
            with self._advisory_lock(endpoint_id) as locked:
                yield locked
        finally:
            with self._lock:
                self._busy.discard(endpoint_id)

    @contextmanager
    def _advisory_lock(self, endpoint_id: str) -> Iterator[bool]:
        key = int.from_bytes(hashlib.sha256(endpoint_id.encode()).digest()[:4], "big",
                             signed=True)
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            locked = bool(connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:class, :key)"),
                {"class": LOCK_CLASS, "key": key},
            ).scalar())
            if not locked:
                yield False
                return
            try:
                yield True
            finally:
                try:
                    connection.execute(
                        sa.text("SELECT pg_advisory_unlock(:class, :key)"),
                        {"class": LOCK_CLASS, "key": key},
                    )
                except sa.exc.SQLAlchemyError:
                    # The lock lives as long as the connection: drop the connection.
                    connection.invalidate()
        finally:
            connection.close()


def _stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _read_some(response: httpx.Response) -> str:
    """Up to a little of the answer, for the delivery log; reading it lets the connection
    be reused. An answer cut short after its status line changes nothing."""
    received = b""
    try:
        for chunk in response.iter_raw():
            received += chunk
            if len(received) >= BODY_READ_LIMIT:
                break
    except httpx.HTTPError:
        pass
    return received[:200].decode("utf-8", "replace").strip()


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def _reason(error: sa.exc.SQLAlchemyError) -> str:
    return str(getattr(error, "orig", error)).strip().splitlines()[0]
