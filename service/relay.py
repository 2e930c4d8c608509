"""The NATS JetStream relay: every projected event, in commit order, into one stream.

Registries and other hospitals' systems that already run a broker consume dualtrack's log
from a JetStream stream instead of from dualtrack. The relay reads the projected events
(`projections.queries.events_page`, the same feed the HTTP and GraphQL readers page) after
its durable position, publishes each as its CloudEvents envelope
(`service.feed.cloud_event`) to `<prefix>.<EventType>`, and moves its position in
`consumer_positions` forward only after JetStream acknowledged every message up to it.

Why nothing is lost, reordered or doubled:
- A message is published only after every earlier one was acknowledged or is in flight
  on the same connection, and JetStream stores one connection's messages in the order it
  receives them; the position advances over acknowledged messages only, so a crash leaves
  at most the unacknowledged tail to publish again.
- Each message carries `Nats-Msg-Id` = the event's id, so JetStream drops a re-publish
  within its duplicate window, and `Dualtrack-Position`, so a restarting relay that finds
  the stream ahead of its stored position (it crashed between the acknowledgement and the
  position update) resumes after the stream's last event instead of re-publishing.

nats-py is asyncio; the database is synchronous, so every read and write of it runs in a
worker thread (`asyncio.to_thread`) and never blocks the loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
import nats.errors
import nats.js.errors
import sqlalchemy as sa
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from projections.queries import events_page
from service import positions
from service.feed import cloud_event
from service.settings import ConfigurationError, Settings

MSG_ID_HEADER = "Nats-Msg-Id"
POSITION_HEADER = "Dualtrack-Position"
TYPE_HEADER = "Dualtrack-Type"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"

PAGE_SIZE = 500
POLL_SECONDS = 0.2
ACK_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 2
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 5.0
# A failure that keeps repeating is logged again at most this often.
REPEAT_LOG_SECONDS = 60.0
# Progress lines are written at most this often.
PROGRESS_LOG_SECONDS = 5.0

# Owned by migration 0004; described here only to read and write it.
consumer_positions = sa.Table(
    "consumer_positions",
    sa.MetaData(),
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

Say = Callable[[str], None]


class RelayUnavailable(Exception):
    """Something the relay needs is down or behind; it is retried with backoff."""


def consumer_name(stream: str) -> str:
    return f"nats-relay:{stream}"


def stored_position(engine: sa.Engine, consumer: str) -> int:
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(consumer_positions.c.position).where(
                consumer_positions.c.consumer == consumer
            )
        ).scalar()
    return int(found or 0)


def store_position(engine: sa.Engine, consumer: str, position: int) -> None:
    values = {"position": position, "updated_at": datetime.now(UTC)}
    with engine.begin() as connection:
        updated = connection.execute(
            consumer_positions.update()
            .where(consumer_positions.c.consumer == consumer)
            .values(**values)
        ).rowcount
        if not updated:
            connection.execute(consumer_positions.insert().values(consumer=consumer, **values))


def event_id_at(engine: sa.Engine, position: int) -> str | None:
    rows = events_page(engine, after_position=position - 1, limit=1)
    return rows[0]["event_id"] if rows and rows[0]["position"] == position else None


def open_database(settings: Settings) -> sa.Engine:
    """The relay's own engine; one line if the database is unreachable or unmigrated."""
    engine = sa.create_engine(settings.database_url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            migrated = sa.inspect(connection).has_table(consumer_positions.name)
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        raise ConfigurationError(
            f"cannot reach the database {settings.describe_database()}: {_reason(error)}"
        ) from None
    if not migrated:
        engine.dispose()
        raise ConfigurationError(
            f"the database {settings.describe_database()} has no consumer_positions table; "
            "run `dualtrack migrate` first"
        )
    return engine


def subject_of(prefix: str, event_type: str) -> str:
    token = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in event_type)
    return f"{prefix}.{token or '_'}"


def message_of(row: dict[str, Any], prefix: str) -> tuple[str, bytes, dict[str, str]]:
    """The subject, payload and headers that carry one projected event."""
    envelope = cloud_event(row)
    payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        MSG_ID_HEADER: str(row["event_id"]),
        POSITION_HEADER: positions.encode(row["position"]),
        TYPE_HEADER: str(row["type"]),
        "Content-Type": CONTENT_TYPE,
    }
    return subject_of(prefix, row["type"]), payload, headers


def takes_subjects(stream_subjects: Sequence[str], prefix: str) -> bool:
    """Whether a stream with these subjects stores every `<prefix>.<EventType>`."""
    wanted = prefix.split(".")
    for pattern in stream_subjects:
        tokens = pattern.split(".")
        for index, token in enumerate(tokens):
            if token == ">":
                if index <= len(wanted):
                    return True
                break
            if index < len(wanted):
                if token not in ("*", wanted[index]):
                    break
            elif index == len(wanted) and token == "*" and index == len(tokens) - 1:
                return True
            else:
                break
    return False


@dataclass
class Progress:
    published: int = 0
    position: int = 0


class Relay:
    """Publishes the projected log to JetStream until told to stop."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        say: Say,
        *,
        page_size: int = PAGE_SIZE,
        poll_seconds: float = POLL_SECONDS,
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
    ):
        self.engine = engine
        self.settings = settings
        self.say = say
        self.stream = settings.nats_stream
        self.prefix = settings.nats_subject_prefix
        self.consumer = consumer_name(self.stream)
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.ack_timeout = ack_timeout
        self.progress = Progress()
        self._last_progress_log = 0.0
        self._logged_published = 0
        self._failing: _Failures | None = None

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, until_caught_up: bool = False) -> Progress:
        """Relays until `stop` is set (or, with `until_caught_up`, until every event
        projected so far is acknowledged). Outages of NATS or the database are retried
        with backoff; a configuration the relay cannot work with raises
        ConfigurationError."""
        backoff = FIRST_BACKOFF_SECONDS
        while not stop.is_set():
            try:
                if await self._session(stop, until_caught_up):
                    break
            except (RelayUnavailable, nats.errors.Error, OSError, sa.exc.SQLAlchemyError) as error:
                if self._failing is None:
                    self._failing = _Failures(self.say)
                    backoff = FIRST_BACKOFF_SECONDS
                self._failing.failed(self._describe(error), backoff)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self._log_progress(force=True)
        return self.progress

    async def _session(self, stop: asyncio.Event, until_caught_up: bool) -> bool:
        """One connection's worth of relaying; True when there is nothing more to do."""
        connection = await self._connect()
        try:
            js = connection.jetstream(timeout=self.ack_timeout)
            await self._ensure_stream(js)
            position = await self._resume_position(js)
            if self._failing is not None:
                self._failing.recovered()
                self._failing = None
            while not stop.is_set():
                rows = await asyncio.to_thread(
                    events_page, self.engine, after_position=position, limit=self.page_size
                )
                if not rows:
                    self._log_progress(force=until_caught_up)
                    if until_caught_up:
                        return True
                    await _wait(stop, self.poll_seconds)
                    continue
                position = await self._publish(connection, js, rows)
                self._log_progress(force=False)
            return True
        finally:
            await _close(connection)

    # -- NATS -------------------------------------------------------------------------

    async def _connect(self) -> NATS:
        errors: list[BaseException] = []

        async def remember(error: Exception) -> None:
            errors.append(error)

        try:
            return await nats.connect(
                self.settings.nats_servers,
                name=f"dualtrack relay ({self.stream})",
                allow_reconnect=False,  # the relay reconnects itself, and reconciles
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                error_cb=remember,
            )
        except (nats.errors.Error, OSError) as error:  # OSError: TimeoutError too
            cause = errors[-1] if errors else error
            raise RelayUnavailable(
                f"cannot reach NATS at {self.settings.describe_nats()}: {_text(cause)}"
            ) from None

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Creates the stream if it is missing; refuses one that would not store our
        subjects, and warns if its duplicate window is shorter than configured."""
        subjects = f"{self.prefix}.>"
        window = self.settings.nats_duplicate_window_seconds
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(StreamConfig(
                    name=self.stream,
                    description="dualtrack: every projected event, in commit order",
                    subjects=[subjects],
                    storage=StorageType.FILE,
                    retention=RetentionPolicy.LIMITS,
                    discard=DiscardPolicy.OLD,
                    duplicate_window=float(window),
                ))
            except nats.js.errors.BadRequestError as error:
                raise ConfigurationError(
                    f"cannot create JetStream stream {self.stream} for {subjects}: "
                    f"{error.description}"
                ) from None
            self.say(f"dualtrack relay: created JetStream stream {self.stream} "
                     f"(subjects {subjects}, file storage, duplicate window {window}s)")
            return
        except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
            raise RelayUnavailable(
                f"NATS at {self.settings.describe_nats()} answers but JetStream does not "
                "(is nats-server started with -js?)"
            ) from None
        config = info.config
        if not takes_subjects(config.subjects or [], self.prefix):
            raise ConfigurationError(
                f"JetStream stream {self.stream} exists but does not take {subjects} "
                f"(its subjects: {', '.join(config.subjects or []) or 'none'}); set "
                "DUALTRACK_NATS_STREAM or DUALTRACK_NATS_SUBJECT_PREFIX"
            )
        if (config.duplicate_window or 0) < window:
            self.say(f"dualtrack relay: warning: stream {self.stream} de-duplicates over "
                     f"{config.duplicate_window or 0:g}s only, not {window}s")

    async def _resume_position(self, js: JetStreamContext) -> int:
        """The stored position, or the stream's last relayed position if that is later
        (the relay stopped between JetStream's acknowledgement and storing it)."""
        stored = await asyncio.to_thread(stored_position, self.engine, self.consumer)
        last, last_id = await self._stream_last(js)
        position = stored
        if last is not None and last > stored:
            found = await asyncio.to_thread(event_id_at, self.engine, last)
            if found is None:
                raise RelayUnavailable(
                    f"stream {self.stream} already holds position "
                    f"{positions.encode(last)}, which this database has not projected "
                    "yet; waiting for the read models"
                )
            if found != last_id:
                raise ConfigurationError(
                    f"stream {self.stream} holds event {last_id} at position "
                    f"{positions.encode(last)}, but this database's event there is {found}: "
                    "the stream belongs to another log"
                )
            await asyncio.to_thread(store_position, self.engine, self.consumer, last)
            position = last
            self.say(f"dualtrack relay: stream {self.stream} already holds up to position "
                     f"{positions.encode(last)} (stored: {positions.encode(stored)}); "
                     "resuming after it")
        self.progress.position = position
        self.say(f"dualtrack relay: publishing to stream {self.stream} ({self.prefix}.>) "
                 f"at {self.settings.describe_nats()} after position "
                 f"{positions.encode(position)}")
        return position

    async def _stream_last(self, js: JetStreamContext) -> tuple[int | None, str | None]:
        try:
            message = await js.get_last_msg(self.stream, f"{self.prefix}.>")
        except nats.js.errors.NotFoundError:
            return None, None
        headers = message.headers or {}
        try:
            return int(headers[POSITION_HEADER]), headers.get(MSG_ID_HEADER)
        except (KeyError, ValueError):
            return None, None  # not ours; someone else published on our subjects

    async def _publish(self, connection: NATS, js: JetStreamContext,
                       rows: list[dict[str, Any]]) -> int:
        """Publishes a page, pipelined, waits for the acknowledgements, and stores the
        position of the last message of the acknowledged prefix."""
        futures = []
        unsent: BaseException | None = None
        for row in rows:
            subject, payload, headers = message_of(row, self.prefix)
            try:
                futures.append(
                    await js.publish_async(subject, payload, headers=headers, stream=self.stream)
                )
            except nats.errors.Error as error:  # e.g. the connection closed meanwhile
                unsent = error
                break
        deadline = time.monotonic() + self.ack_timeout
        pending = set(futures)
        while pending and time.monotonic() < deadline and not connection.is_closed:
            _, pending = await asyncio.wait(pending, timeout=0.1)
        acknowledged = 0
        failure: BaseException | None = None
        for row, future in zip(rows, futures, strict=False):
            if not future.done() or future.cancelled():
                future.cancel()
                failure = failure or self._unacknowledged(connection)
            elif future.exception() is not None:
                failure = failure or future.exception()
            elif failure is None:
                acknowledged += 1
            else:
                # Stored although an earlier one was not: cannot happen on one connection,
                # whose messages JetStream takes in order; say so loudly if it ever does.
                self.say(f"dualtrack relay: error: position {positions.encode(row['position'])}"
                         " was stored after an earlier event that was not")
        if acknowledged:
            reached = rows[acknowledged - 1]["position"]
            await asyncio.to_thread(store_position, self.engine, self.consumer, reached)
            self.progress.published += acknowledged
            self.progress.position = reached
        failure = failure or unsent
        if failure is not None:
            raise failure
        return int(rows[-1]["position"])

    def _unacknowledged(self, connection: NATS) -> RelayUnavailable:
        where = f"NATS at {self.settings.describe_nats()}"
        if connection.is_closed or not connection.is_connected:
            return RelayUnavailable(f"lost the connection to {where}")
        return RelayUnavailable(f"{where} did not acknowledge within {self.ack_timeout:g}s")

    # -- logging ----------------------------------------------------------------------

    def _log_progress(self, force: bool) -> None:
        now = time.monotonic()
        if self.progress.published == self._logged_published:
            return
        if force or now - self._last_progress_log >= PROGRESS_LOG_SECONDS:
            self.say(f"dualtrack relay: published {self.progress.published} events; "
                     f"acknowledged up to position {positions.encode(self.progress.position)}")
            self._last_progress_log = now
            self._logged_published = self.progress.published

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, RelayUnavailable):
            return str(error)
        if isinstance(error, sa.exc.SQLAlchemyError):
            return f"database {self.settings.describe_database()}: {_reason(error)}"
        return f"NATS at {self.settings.describe_nats()}: {_text(error)}"


class _Failures:
    """Bounded logging of a failure that repeats: its first occurrence, a change of
    reason, then at most once a minute; and the recovery."""

    def __init__(self, say: Say):
        self.say = say
        self.count = 0
        self.last_reason = ""
        self.last_logged = 0.0

    def failed(self, reason: str, retry_in: float) -> None:
        self.count += 1
        now = time.monotonic()
        if reason != self.last_reason or now - self.last_logged >= REPEAT_LOG_SECONDS:
            again = "" if self.count == 1 else f" (failed {self.count} times)"
            self.say(f"dualtrack relay: {reason}{again}; retrying in {retry_in:g}s "
                     f"(backing off to every {MAX_BACKOFF_SECONDS:g}s); position kept")
            self.last_reason, self.last_logged = reason, now

    def recovered(self) -> None:
        self.say(f"dualtrack relay: recovered after {self.count} failed attempt(s)")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _close(connection: NATS) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone
        pass


def _text(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, nats.js.errors.APIError) and error.description:
        text = error.description
    return (text.splitlines()[0] if text else "") or type(error).__name__


def _reason(error: sa.exc.SQLAlchemyError) -> str:
    return str(getattr(error, "orig", error)).strip().splitlines()[0]
