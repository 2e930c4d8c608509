"""The FastAPI application: GraphQL (with GraphiQL and subscriptions over WebSocket) at
/graphql, the JSON event feed at /feed/events, and /health, /ready and /metrics for
operators (api.health)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic_core import to_json
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter

from api.context import Context, context_getter
from api.errors import answer_outages
from api.feed import feed_router
from api.health import health_router
from api.limits import RequestSizeLimit
from api.request_log import RequestLog
from api.schema import schema
from service.bootstrap import Services
from service.principals import Unauthenticated
from service.tokens import TokenVerifier


class AuthenticatedRouter(GraphQLRouter[Context, None]):
    def encode_json(self, data: object) -> bytes:
        """pydantic's JSON encoder (FastAPI's own), several times faster than the standard
        library's on a long handbook; the same JSON."""
        return to_json(data)

    async def on_ws_connect(self, context: Context) -> Any:
        """A WebSocket without valid credentials is closed at its first message (4403)."""
        try:
            context.authenticate()
        except Unauthenticated as refusal:
            raise ConnectionRejectionError(
                {"code": Unauthenticated.code, "message": str(refusal)}
            ) from None
        return await super().on_ws_connect(context)


def create_app(services: Services, tokens: TokenVerifier | None = None) -> FastAPI:
    """`tokens` defaults to the verifier the settings configure (service.tokens)."""
    if tokens is None:
        from service.tokens import token_verifier

        tokens = token_verifier(services.settings)
    app = FastAPI(title="dualtrack", docs_url=None, redoc_url=None)
    app.add_middleware(RequestSizeLimit)
    app.add_middleware(RequestLog)  # outermost: refusals by size are logged too
    app.include_router(
        AuthenticatedRouter(
            schema, context_getter=context_getter(services, tokens), graphql_ide="graphiql"
        ),
        prefix="/graphql",
    )
    app.include_router(feed_router(services, tokens))
    app.include_router(health_router(services))
    answer_outages(app)
    return app
