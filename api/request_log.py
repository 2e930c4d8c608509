"""ASGI middleware: gives each HTTP request an id and logs one line when it is answered.

The id is the client's `X-Request-ID` if it is a short token, otherwise a new one; it is
sent back in the response's `X-Request-ID` and put on every line logged for the request
(service.logs). The line names the method, the path without its query string (a GET of
/graphql carries the document and its variables there), the status and the duration.
Probes and scrapes (/health, /ready, /metrics) are logged at DEBUG, so they do not drown
the rest.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from service import logs

log = logging.getLogger("dualtrack.http")
HEADER = b"x-request-id"
CLIENT_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RequestLog:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500  # unless the app answers
        started = time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (HEADER, request_id.encode())]
            await send(message)

        with logs.context(request_id=request_id):
            try:
                await self.app(scope, receive, answer)
            finally:
                path = scope.get("path", "")
                log.log(logging.DEBUG if path in QUIET_PATHS else logging.INFO, "request",
                        extra={"method": scope.get("method"), "path": path, "status": status,
                               "duration_ms": round((time.perf_counter() - started) * 1000, 1)})


def _request_id(scope: Message) -> str:
    for name, value in scope.get("headers") or ():
        if name == HEADER and CLIENT_ID.fullmatch(value):
            return str(value.decode())
    return uuid.uuid4().hex
