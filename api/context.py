"""The typed per-request context: services, the actor, and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import anyio.to_thread
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from domain.errors import InvalidCommand
from projections import queries
from service.bootstrap import Services

ACTOR_HEADER = "X-Actor"
MAX_ACTOR = 200


def _loader(services: Services, query: Callable[..., list[Any]]) -> DataLoader[str, Any]:
    async def load(keys: Sequence[str]) -> list[Any]:
        return await anyio.to_thread.run_sync(partial(query, services.engine, list(keys)))

    return DataLoader(load_fn=load)


class Context(BaseContext):
    def __init__(self, services: Services, actor_header: str | None):
        super().__init__()
        self.services = services
        self._actor_header = actor_header
        self.trainees = _loader(services, queries.trainees_by_id)
        self.tutors = _loader(services, queries.tutors_by_trainee)
        self.rotations = _loader(services, queries.rotations_by_trainee)
        self.entries = _loader(services, queries.entries_by_rotation)
        self.assessments = _loader(services, queries.assessments_by_trainee)
        self.certificates = _loader(services, queries.certificates_by_trainee)
        self.versions = _loader(services, queries.versions_by_trainee)

    @property
    def actor(self) -> str:
        """Who is recording: the X-Actor header until authentication replaces it."""
        actor = (self._actor_header or "").strip() or "anonymous"
        if len(actor) > MAX_ACTOR:
            raise InvalidCommand(f"the {ACTOR_HEADER} header is longer than {MAX_ACTOR} characters")
        return actor

    async def run(self, work: Callable[[], Any]) -> Any:
        """The library is synchronous: its calls never run on the event loop."""
        return await anyio.to_thread.run_sync(work)


def context_getter(services: Services) -> Callable[[HTTPConnection], Any]:
    async def get_context(connection: HTTPConnection) -> Context:
        # An HTTP request or a WebSocket handshake: both carry the headers.
        return Context(services, connection.headers.get(ACTOR_HEADER))

    return get_context
