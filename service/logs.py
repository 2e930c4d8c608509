"""Structured logs: one JSON object per line, on standard error, with no personal data.

Every line has `time` (UTC, ISO 8601), `level`, `logger` and `message`, then the context
of the request it was written in (`request_id`, the GraphQL `operation`, ...), then the
fields the call named in `extra`. Only the fields in FIELDS are ever written: a call that
passes anything else (a name, a request body, variables) has it dropped, not logged. An
exception is written as its type and stack, never its message, which may quote SQL
parameters or personal data (nor is the rest of a message that carries one).

`configure` is called when a service starts (`dualtrack serve`), never at import, so a
library user or a test keeps its own logging.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

FIELDS = frozenset({
    "request_id", "method", "path", "status", "duration_ms",
    "operation", "operation_type", "command", "outcome", "code", "codes", "trainee_id",
    "position", "error", "database", "address",
})

# Libraries that log SQL with its parameters (SQLAlchemy, whenever INFO is on) or requests
# with their headers: only their warnings are wanted.
QUIET = ("sqlalchemy", "httpx", "httpcore")

_context: ContextVar[dict[str, Any] | None] = ContextVar("dualtrack_log_context", default=None)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Adds these fields to every line logged inside (and in threads started from it:
    anyio copies the context into its worker threads)."""
    token = _context.set((_context.get() or {}) | fields)
    try:
        yield
    finally:
        # An async generator may be finished from another task's context.
        with suppress(ValueError):
            _context.reset(token)


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for fields in (_context.get() or {}, vars(record)):
            line.update((key, value) for key, value in fields.items()
                        if key in FIELDS and value is not None)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = type(error).__name__
            line["stack"] = "".join(traceback.format_tb(error.__traceback__))
        return json.dumps(line, ensure_ascii=False, default=str)


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.exc_info and message:
        # What follows the first line of such a message is the exception's text again
        # (asyncio's "Future exception was never retrieved", for one).
        return message.splitlines()[0]
    return message


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Sends every logger's records, uvicorn's included, through one JSON-lines handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
