"""The FastAPI application: GraphQL (with GraphiQL and subscriptions over WebSocket) at
/graphql, the JSON event feed at /feed/events, and /health."""

from __future__ import annotations

from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from api.context import context_getter
from api.feed import feed_router
from api.limits import RequestSizeLimit
from api.schema import schema
from service.bootstrap import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="dualtrack", docs_url=None, redoc_url=None)
    app.add_middleware(RequestSizeLimit)
    app.include_router(
        GraphQLRouter(schema, context_getter=context_getter(services), graphql_ide="graphiql"),
        prefix="/graphql",
    )
    app.include_router(feed_router(services))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
