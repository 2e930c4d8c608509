"""Every error a client sees carries a code in `extensions`, and never a stack trace or SQL."""

from __future__ import annotations

from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import DomainError, InvalidCommand, RulesNotMet
from service.outages import OUTAGES, UNAVAILABLE, is_outage, outage_message

INTERNAL = "INTERNAL_SERVER_ERROR"
INVALID_REQUEST = "GRAPHQL_VALIDATION_FAILED"
# graphql-core's wording when a value does not fit its argument's type: the operation is
# well formed, the data in it is not.
BAD_VALUE_MARKERS = (
    "cannot represent", "Expected value of type", "got invalid value", "does not exist in",
)


class CodedErrors(MaskErrors):
    """Domain refusals keep their message and gain their code; a database outage is
    UNAVAILABLE (retry shortly); the unexpected is masked."""

    def __init__(self) -> None:
        super().__init__(error_message="internal error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [_coded(error) for error in errors]


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, object] = {"code": original.code}
        if isinstance(original, RulesNotMet):
            extensions["unmet"] = original.unmet
        return _with(error, str(original), extensions)
    if original is None:
        bad_value = any(marker in error.message for marker in BAD_VALUE_MARKERS)
        default = InvalidCommand.code if bad_value else INVALID_REQUEST
        code = (error.extensions or {}).get("code", default)
        return _with(error, error.message, {**(error.extensions or {}), "code": code})
    if isinstance(original, GraphQLError):
        return _coded(original)
    if is_outage(original):
        return _with(error, outage_message(original), {"code": UNAVAILABLE})
    return _with(error, "internal error", {"code": INTERNAL})


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def answer_outages(app: FastAPI) -> None:
    """Routes outside GraphQL (the JSON feed) that lose the database answer 503, in the
    feed's error shape, rather than a bare 500."""

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": UNAVAILABLE, "message": outage_message(error)}}, status_code=503
        )

    for kind in OUTAGES:
        app.add_exception_handler(kind, unavailable)


def parse_id(value: str, argument: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidCommand(f"{argument} is not a valid id: {value!r}") from None


def page_size(first: int | None, default: int, limit: int = 500, argument: str = "first") -> int:
    size = default if first is None else first
    if not 1 <= size <= limit:
        raise InvalidCommand(f"{argument} must be between 1 and {limit}, got {size}")
    return size
