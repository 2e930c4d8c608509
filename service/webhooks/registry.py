"""Registering webhook endpoints and reading their delivery logs: the API's side.

Every change (register, pause, resume, remove, redeliver) names who made it and when, on
the endpoint and in its history. A refused registration writes nothing.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore

from domain import events
from domain.errors import Conflict, InvalidCommand, NotFound
from service import access, positions
from service.clock import Clock
from service.idempotency import Idempotency
from service.principals import Principal, Role
from service.webhooks import receipts
from service.webhooks import tables as w
from service.webhooks.signing import new_secret

# The event types a registry can ask for: every trainee event, the ones that reach the
# audit trail and the feed (the national-ID claims never leave the service).
DELIVERABLE_TYPES: tuple[str, ...] = tuple(sorted(
    value.__name__
    for value in vars(events).values()
    if isinstance(value, type)
    and issubclass(value, events.TraineeEvent)
    and value is not events.TraineeEvent
))
MAX_URL = 2000
MAX_BASE_ID = 200
MAX_DESCRIPTION = 500
LOOPBACK_NAMES = ("localhost",)

Row = dict[str, Any]


def utc(moment: datetime | None) -> datetime | None:
    """Times read back from SQLite come without their zone; every stored time is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    types: tuple[str, ...]
    base_id: str | None
    description: str | None
    state: str
    position: int
    registered_at: datetime
    registered_by: str
    changed_at: datetime
    changed_by: str

    @classmethod
    def of(cls, row: Any) -> Endpoint:
        return cls(
            id=row["id"], url=row["url"], types=tuple(row["types"] or ()),
            base_id=row["base_id"], description=row["description"], state=row["state"],
            position=int(row["position"]), registered_at=utc(row["registered_at"]),  # type: ignore[arg-type]
            registered_by=row["registered_by"], changed_at=utc(row["changed_at"]),  # type: ignore[arg-type]
            changed_by=row["changed_by"],
        )

    def wants(self, event_type: str, base_id: str | None) -> bool:
        """Whether an event of this type, of a trainee of this base, is for this endpoint."""
        if self.types and event_type not in self.types:
            return False
        return self.base_id is None or self.base_id == base_id


@dataclass(frozen=True)
class Change:
    action: str
    actor: str
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: str
    position: int
    event_id: str
    event_type: str
    trainee_id: str | None
    state: str
    attempts: int
    enqueued_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> Delivery:
        values = dict(row)
        for name in ("enqueued_at", "first_attempt_at", "last_attempt_at", "next_attempt_at",
                     "delivered_at", "dead_at"):
            values[name] = utc(values[name])
        values["id"] = int(values["id"])
        values["position"] = int(values["position"])
        return cls(**values)


class Webhooks:
    def __init__(
        self,
        datastore: SQLAlchemyDatastore,
        clock: Clock,
        head: Callable[[], int],
        allow_http: bool = False,
    ):
        self.datastore = datastore
        self.clock = clock
        self.head = head
        self.allow_http = allow_http

    @property
    def engine(self) -> sa.Engine:
        return self.datastore.engine  # type: ignore[return-value]

    # -- changes ------------------------------------------------------------------------

    def register(
        self,
        *,
        url: str,
        types: Sequence[str] | None,
        base_id: str | None,
        description: str | None,
        from_position: str | None,
        by: Principal,
        idempotency: Idempotency | None = None,
    ) -> tuple[Endpoint, str]:
        """Adds an endpoint; returns it with its secret, which is never shown again (but
        to a retry of the same request under its Idempotency-Key).

        It receives the events recorded after `from_position` (a cursor, as `events(after:)`),
        or, without one, the events recorded from now on.
        """
        url = check_url(url, self.allow_http)
        wanted = check_types(types)
        base_id = check_base_id(base_id)
        if base_id is None and by.has(Role.REGISTRY) and not by.system:
            base_id = by.base_id  # a registry's endpoint gets its own base's events
        access.check_webhooks(by, base_id, write=True)
        actor = by.actor
        description = check_description(description)
        head = self.head()
        start = head if from_position is None else positions.decode(from_position, "fromPosition")
        if start > head:
            raise InvalidCommand(
                f"fromPosition {from_position} is beyond the end of the log "
                f"({positions.encode(head)})"
            )
        secret = new_secret()
        endpoint_id = str(uuid.uuid4())
        now = self.clock.now()
        with self.datastore.transaction(commit=True) as session:
            done = receipts.earlier(session, idempotency, actor)
            if done is None:
                session.execute(w.endpoints.insert().values(
                    id=endpoint_id, url=url, secret=secret, types=wanted, base_id=base_id,
                    description=description, state=w.ACTIVE, position=start,
                    registered_at=now, registered_by=actor, changed_at=now, changed_by=actor,
                ))
                _note(session, endpoint_id, "REGISTERED", actor, now,
                      f"delivering events after position {positions.encode(start)}")
                receipts.keep(session, idempotency, actor, {"endpoint_id": endpoint_id}, now)
            else:
                endpoint_id = done["endpoint_id"]
                secret = session.execute(
                    sa.select(w.endpoints.c.secret).where(w.endpoints.c.id == endpoint_id)
                ).scalar_one()
        endpoint = self.endpoint(endpoint_id)
        assert endpoint is not None
        return endpoint, secret

    def pause(
        self, endpoint_id: str, by: Principal, idempotency: Idempotency | None = None
    ) -> Endpoint:
        return self._move(endpoint_id, by, "PAUSED", (w.ACTIVE,), w.PAUSED, idempotency)

    def resume(
        self, endpoint_id: str, by: Principal, idempotency: Idempotency | None = None
    ) -> Endpoint:
        return self._move(endpoint_id, by, "RESUMED", (w.PAUSED,), w.ACTIVE, idempotency)

    def remove(
        self, endpoint_id: str, by: Principal, idempotency: Idempotency | None = None
    ) -> Endpoint:
        return self._move(
            endpoint_id, by, "REMOVED", (w.ACTIVE, w.PAUSED), w.REMOVED, idempotency
        )

    def endpoint_for(self, endpoint_id: str, by: Principal, *, write: bool) -> Endpoint | None:
        """The endpoint, if `by` may read (or manage) it (service.access); None if there
        is none. Who may read no webhook at all is refused before the id is looked up."""
        roles = access.WEBHOOK_MANAGERS if write else access.WEBHOOK_READERS
        access.require_any(by, roles, "manage webhooks" if write else "read webhooks")
        endpoint = self.endpoint(endpoint_id)
        if endpoint is not None:
            access.check_webhooks(by, endpoint.base_id, write=write)
        return endpoint

    def check_managed_by(self, endpoint_id: str, by: Principal) -> Endpoint:
        """The endpoint, if `by` may manage it; NotFound if there is none."""
        endpoint = self.endpoint_for(endpoint_id, by, write=True)
        if endpoint is None:
            raise NotFound(f"no webhook with id {endpoint_id}")
        return endpoint

    def _move(
        self, endpoint_id: str, by: Principal, action: str, sources: tuple[str, ...],
        target: str, idempotency: Idempotency | None,
    ) -> Endpoint:
        """A retry under the same key changes nothing more: a pause retried after someone
        resumed the endpoint does not pause it again."""
        self.check_managed_by(endpoint_id, by)
        actor = by.actor
        now = self.clock.now()
        e = w.endpoints.c
        with self.datastore.transaction(commit=True) as session:
            if receipts.earlier(session, idempotency, actor) is not None:
                return self._found(endpoint_id)
            receipts.keep(session, idempotency, actor, {"endpoint_id": endpoint_id}, now)
            # Written before it is read, so that SQLite takes its write lock first.
            moved = session.execute(
                w.endpoints.update()
                .where(e.id == endpoint_id, e.state.in_(sources))
                .values(state=target, changed_at=now, changed_by=actor)
            ).rowcount
            if moved:
                _note(session, endpoint_id, action, actor, now, None)
            else:
                state = session.execute(
                    sa.select(e.state).where(e.id == endpoint_id)
                ).scalar()
                if state is None:
                    raise NotFound(f"no webhook with id {endpoint_id}")
                if state == w.REMOVED:
                    raise Conflict(f"webhook {endpoint_id} was removed")
                # Already where it was asked to be: nothing changes, nothing is noted.
        return self._found(endpoint_id)

    def _found(self, endpoint_id: str) -> Endpoint:
        endpoint = self.endpoint(endpoint_id)
        assert endpoint is not None
        return endpoint

    def redeliver(
        self, delivery_id: int, by: Principal, idempotency: Idempotency | None = None
    ) -> Delivery:
        """Puts a dead letter back in the queue: it is tried again now, with a new window."""
        access.require_any(by, access.WEBHOOK_MANAGERS, "manage webhooks")
        delivery = self.delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"no webhook delivery with id {delivery_id}")
        self.check_managed_by(delivery.endpoint_id, by)
        actor = by.actor
        now = self.clock.now()
        d = w.deliveries.c
        with self.datastore.transaction(commit=True) as session:
            if receipts.earlier(session, idempotency, actor) is not None:
                return self._delivery_found(delivery_id)
            receipts.keep(session, idempotency, actor, {"delivery_id": delivery_id}, now)
            requeued = session.execute(
                w.deliveries.update()
                .where(d.id == delivery_id, d.state == w.DEAD)
                .values(**_requeued(now))
            ).rowcount
            row = session.execute(
                sa.select(d.state, d.endpoint_id, d.position).where(d.id == delivery_id)
            ).mappings().first()
            if row is None:
                raise NotFound(f"no webhook delivery with id {delivery_id}")
            if not requeued:
                raise Conflict(
                    f"delivery {delivery_id} is {row['state']}; only dead letters (DEAD) are "
                    "redelivered"
                )
            self._refuse_if_removed(session, row["endpoint_id"])
            _note(session, row["endpoint_id"], "REDELIVERED", actor, now,
                  f"delivery {delivery_id} (position {positions.encode(row['position'])})")
        return self._delivery_found(delivery_id)

    def _delivery_found(self, delivery_id: int) -> Delivery:
        found = self.delivery(delivery_id)
        assert found is not None
        return found

    def redeliver_dead_letters(
        self, endpoint_id: str, by: Principal, idempotency: Idempotency | None = None
    ) -> int:
        """Requeues every dead letter of an endpoint; returns how many (a retry under the
        same key: how many the first request requeued)."""
        self.check_managed_by(endpoint_id, by)
        actor = by.actor
        now = self.clock.now()
        d = w.deliveries.c
        with self.datastore.transaction(commit=True) as session:
            done = receipts.earlier(session, idempotency, actor)
            if done is not None:
                return int(done["requeued"])
            count = session.execute(
                w.deliveries.update()
                .where(d.endpoint_id == endpoint_id, d.state == w.DEAD)
                .values(**_requeued(now))
            ).rowcount
            self._refuse_if_removed(session, endpoint_id)
            if count:
                _note(session, endpoint_id, "REDELIVERED", actor, now, f"{count} dead letter(s)")
            receipts.keep(session, idempotency, actor, {"requeued": int(count)}, now)
        return int(count)

    def _refuse_if_removed(self, session: Any, endpoint_id: str) -> None:
        e = w.endpoints.c
        state = session.execute(sa.select(e.state).where(e.id == endpoint_id)).scalar()
        if state is None:
            raise NotFound(f"no webhook with id {endpoint_id}")
        if state == w.REMOVED:
            raise Conflict(f"webhook {endpoint_id} was removed")

    # -- reads --------------------------------------------------------------------------

    def endpoints(self, include_removed: bool = False) -> list[Endpoint]:
        e = w.endpoints.c
        statement = sa.select(w.endpoints).order_by(e.registered_at, e.id)
        if not include_removed:
            statement = statement.where(e.state != w.REMOVED)
        return [Endpoint.of(row) for row in self._fetch(statement)]

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        rows = self._fetch(sa.select(w.endpoints).where(w.endpoints.c.id == endpoint_id))
        return Endpoint.of(rows[0]) if rows else None

    def history(self, endpoint_id: str) -> list[Change]:
        c = w.changes.c
        rows = self._fetch(
            sa.select(c.action, c.actor, c.at, c.detail)
            .where(c.endpoint_id == endpoint_id)
            .order_by(c.id)
        )
        return [Change(r["action"], r["actor"], utc(r["at"]), r["detail"]) for r in rows]  # type: ignore[arg-type]

    def counts(self, endpoint_id: str) -> dict[str, int]:
        """How many of the endpoint's deliveries are in each state."""
        d = w.deliveries.c
        rows = self._fetch(
            sa.select(d.state, sa.func.count().label("n"))
            .where(d.endpoint_id == endpoint_id)
            .group_by(d.state)
        )
        found = {row["state"]: int(row["n"]) for row in rows}
        return {state: found.get(state, 0) for state in (w.PENDING, w.DELIVERED, w.DEAD)}

    def deliveries(
        self, endpoint_id: str, *, by: Principal, state: str | None, after_position: int,
        limit: int,
    ) -> list[Delivery]:
        """The endpoint's delivery log in log order, after a position, if `by` may read it."""
        if self.endpoint_for(endpoint_id, by, write=False) is None:
            raise NotFound(f"no webhook with id {endpoint_id}")
        d = w.deliveries.c
        statement = (
            sa.select(w.deliveries)
            .where(d.endpoint_id == endpoint_id, d.position > after_position)
            .order_by(d.position)
            .limit(limit)
        )
        if state is not None:
            statement = statement.where(d.state == state)
        return [Delivery.of(row) for row in self._fetch(statement)]

    def delivery(self, delivery_id: int) -> Delivery | None:
        rows = self._fetch(sa.select(w.deliveries).where(w.deliveries.c.id == delivery_id))
        return Delivery.of(rows[0]) if rows else None

    def _fetch(self, statement: Any) -> list[Row]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]


def _requeued(now: datetime) -> dict[str, Any]:
    # The retry window starts again at the next attempt; attempts keep counting.
    return {"state": w.PENDING, "next_attempt_at": now, "first_attempt_at": None,
            "dead_at": None}


def _note(
    session: Any, endpoint_id: str, action: str, actor: str, at: datetime, detail: str | None
) -> None:
    session.execute(w.changes.insert().values(
        endpoint_id=endpoint_id, action=action, actor=actor, at=at, detail=detail
    ))


# -- validation: each refusal names the field ---------------------------------------------


def check_url(raw: str, allow_http: bool) -> str:
    url = (raw or "").strip()
    if not url:
        raise InvalidCommand("url must not be empty")
    if len(url) > MAX_URL:
        raise InvalidCommand(f"url is longer than {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidCommand("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # noqa: F841 - raises on a port that is not a number in range
    except ValueError as error:
        raise InvalidCommand(f"url is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidCommand(f"url must use https, got {scheme + ':' if scheme else 'no'} scheme")
    host = parts.hostname
    if not host:
        raise InvalidCommand("url has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidCommand(
            "url must not carry a user name or password: the secret signs each request"
        )
    if parts.fragment:
        raise InvalidCommand("url must not have a fragment (#...)")
    if scheme == "http" and not allow_http and not _is_loopback(host):
        raise InvalidCommand(
            f"url must use https; plain http is allowed only to a loopback host, got "
            f"http://{host} (an installation on a closed network sets "
            "DUALTRACK_WEBHOOK_ALLOW_HTTP=true)"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_types(types: Sequence[str] | None) -> list[str]:
    """The event types asked for, each once, in the order given; empty means all."""
    if not types:
        return []
    unknown = [name for name in types if name not in DELIVERABLE_TYPES]
    if unknown:
        raise InvalidCommand(
            f"types: unknown event type {', '.join(repr(name) for name in unknown)}; "
            f"known types are {', '.join(DELIVERABLE_TYPES)}"
        )
    return list(dict.fromkeys(types))


def check_base_id(base_id: str | None) -> str | None:
    if base_id is None:
        return None
    value = str(base_id).strip()
    if not value:
        raise InvalidCommand("baseId must not be empty (leave it out to receive every base)")
    if len(value) > MAX_BASE_ID:
        raise InvalidCommand(f"baseId is longer than {MAX_BASE_ID} characters")
    return value


def check_description(description: str | None) -> str | None:
    if description is None:
        return None
    value = description.strip()
    if len(value) > MAX_DESCRIPTION:
        raise InvalidCommand(f"description is longer than {MAX_DESCRIPTION} characters")
    return value or None
