"""The typed per-request context: services, the caller's verified principal, and the
request's DataLoaders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

import anyio.to_thread
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from projections import queries
from projections.scopes import trainee_scopes
from service import access
from service.access import TraineeScope
from service.bootstrap import Services
from service.principals import Principal, Unauthenticated
from service.tokens import TokenVerifier

AUTHORIZATION = "Authorization"
IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_CREDENTIALS = 8192


def _loader(services: Services, query: Callable[..., list[Any]]) -> DataLoader[str, Any]:
    async def load(keys: Sequence[str]) -> list[Any]:
        return await anyio.to_thread.run_sync(partial(query, services.engine, list(keys)))

    return DataLoader(load_fn=load)


class Context(BaseContext):
    def __init__(
        self, services: Services, tokens: TokenVerifier, authorization: str | None,
        idempotency_key: str | None = None,
    ):
        super().__init__()
        self.services = services
        self._tokens = tokens
        self._authorization = authorization
        # The client's key for this request's mutations (api.idempotency).
        self.idempotency_key = idempotency_key
        self._principal: Principal | Unauthenticated | None = None
        # Set from a WebSocket's connection_init payload, where browsers put credentials.
        self.connection_params: dict[str, Any] | None = None
        self.trainees = _loader(services, queries.trainees_by_id)
        self.scopes = _loader(services, trainee_scopes)
        self.tutors = _loader(services, queries.tutors_by_trainee)
        self.rotations = _loader(services, queries.rotations_by_trainee)
        self.entries = _loader(services, queries.handbook_entries_by_rotation)
        self.assessments = _loader(services, queries.assessments_by_trainee)
        self.certificates = _loader(services, queries.certificates_by_trainee)
        self.versions = _loader(services, queries.versions_by_trainee)

    @property
    def principal(self) -> Principal:
        """The verified caller; every operation asks for it, so none runs anonymously."""
        if self._principal is None:
            try:
                self._principal = self._tokens.verify(bearer_token(self._credentials()))
            except Unauthenticated as refusal:
                self._principal = refusal
        if isinstance(self._principal, Unauthenticated):
            raise self._principal
        return self._principal

    def authenticate(self) -> Principal:
        """For operations open to every signed-in caller: refuses anonymous ones."""
        return self.principal

    @property
    def actor(self) -> str:
        return self.principal.actor

    def _credentials(self) -> str | None:
        if self._authorization:
            return self._authorization
        params = self.connection_params or {}
        found = params.get(AUTHORIZATION, params.get(AUTHORIZATION.lower()))
        return found if isinstance(found, str) else None

    async def readable_scope(self, trainee_id: UUID) -> TraineeScope | None:
        """The trainee's scope if it exists; refuses (FORBIDDEN) if the caller may not read it."""
        principal = self.principal
        scope: TraineeScope | None = await self.scopes.load(str(trainee_id))
        if scope is not None:
            access.check_read(principal, scope)
        return scope

    async def run(self, work: Callable[[], Any]) -> Any:
        """The library is synchronous: its calls never run on the event loop."""
        return await anyio.to_thread.run_sync(work)


def bearer_token(credentials: str | None) -> str:
    if not credentials:
        raise Unauthenticated(
            "no credentials: send the header Authorization: Bearer <token> "
            "(on a WebSocket, in the connection_init payload)"
        )
    if len(credentials) > MAX_CREDENTIALS:
        raise Unauthenticated("the Authorization header is too long")
    scheme, _, token = credentials.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be: Bearer <token>")
    return token.strip()


def context_getter(
    services: Services, tokens: TokenVerifier
) -> Callable[[HTTPConnection], Any]:
    async def get_context(connection: HTTPConnection) -> Context:
        # An HTTP request or a WebSocket handshake: both carry the headers.
        return Context(
            services, tokens, connection.headers.get(AUTHORIZATION),
            connection.headers.get(IDEMPOTENCY_KEY),
        )

    return get_context
