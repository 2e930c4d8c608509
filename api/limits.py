"""Limits on what one request may ask, so that no client can exhaust the service.

A request body over MAX_REQUEST_BYTES is refused before it is read whole (HTTP 413); a
GraphQL document deeper than MAX_QUERY_DEPTH, with more than MAX_ALIASES aliases or
MAX_TOKENS tokens, is refused before it runs. Page sizes (api.errors.page_size) and text
lengths (domain.guards) are limited where they are read. Introspection, which GraphiQL
needs, is not counted against the depth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

from domain.guards import unstorable

MAX_REQUEST_BYTES = 1 << 20
MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


def _is_introspection(field: Any) -> bool:
    return bool(field.field_name.startswith("__"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# Only a \u escape can put a NUL or a surrogate into a string literal whose query text
# holds neither: a text without the three holds no unstorable literal.
MAY_HOLD_UNSTORABLE_LITERAL = re.compile(r"[\x00\ud800-\udfff]|\\u")


def _literals(query: str | None, document: DocumentNode | None) -> list[str]:
    """The document's string literals, unless its text shows that none can be unstorable:
    walking a document costs more than many a request's execution."""
    if query is not None and not MAY_HOLD_UNSTORABLE_LITERAL.search(query):
        return []
    found: list[str] = []

    class Strings(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            found.append(node.value)

    if document is not None:
        visit(document, Strings())
    return found


class StorableTextOnly(SchemaExtension):
    """Refuses, before anything runs, a request whose texts could not be stored; and a
    subscription sent over plain HTTP, which is served only over WebSocket."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        problem = None
        texts = [*_strings(context.variables or {}),
                 *_literals(context.query, context.graphql_document)]
        if any(unstorable(text) for text in texts):
            problem = "a text holds a NUL character or an unpaired surrogate; neither is stored"
        elif (context.operation_type == OperationType.SUBSCRIPTION
              and getattr(context.context, "connection_params", None) is None):
            problem = "subscriptions are served over WebSocket (graphql-transport-ws) only"
        if problem is not None:
            context.pre_execution_errors = [
                GraphQLError(problem, extensions={"code": "BAD_USER_INPUT"})
            ]
        yield


# The limiters' rules, made once: each limiter makes its rule classes anew when it is made,
# which every request would pay for.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH, should_ignore=_is_introspection)
    .validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]

EXTENSIONS: list[Callable[[], SchemaExtension]] = [
    StorableTextOnly,
    lambda: AddValidationRules(LIMIT_RULES),
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
            await self._refuse(send, 413, self._too_large)
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
                await self._refuse(send, 413, self._too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            await self._refuse(send, 400, "the request body is not UTF-8")
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @property
    def _too_large(self) -> str:
        return f"the request body is larger than {self.limit} bytes"

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"errors": [{
            "message": message, "extensions": {"code": "BAD_USER_INPUT"},
        }]}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
