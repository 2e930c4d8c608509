"""Limits on what one request may ask, so that no client can exhaust the service.

A request body over MAX_REQUEST_BYTES is refused before it is read whole (HTTP 413); a
GraphQL document deeper than MAX_QUERY_DEPTH, with more than MAX_ALIASES aliases or
MAX_TOKENS tokens, is refused before it runs. Page sizes (api.errors.page_size) and text
lengths (domain.guards) are limited where they are read. Introspection, which GraphiQL
needs, is not counted against the depth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

MAX_REQUEST_BYTES = 1 << 20
MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


def _is_introspection(field: Any) -> bool:
    return bool(field.field_name.startswith("__"))


EXTENSIONS: list[Callable[[], SchemaExtension]] = [
    lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH, should_ignore=_is_introspection),
    lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
]

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class RequestSizeLimit:
    """ASGI middleware: refuses HTTP bodies over `limit` bytes with 413, whether the client
    declared the length or streams the body in chunks. The body is read (up to the limit)
    before the app sees any of it, so a refused request never reaches a resolver."""

    def __init__(self, app: Any, limit: int = MAX_REQUEST_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"errors": [{
            "message": f"the request body is larger than {self.limit} bytes",
            "extensions": {"code": "BAD_USER_INPUT"},
        }]}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
