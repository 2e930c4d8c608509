"""The served schema. Built at import without services, so `dualtrack schema` can print it."""

from __future__ import annotations

import logging

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from api.documents import KnownDocuments
from api.errors import INTERNAL, INVALID_REQUEST, CodedErrors
from api.execution import LeanExecutor
from api.limits import EXTENSIONS
from api.mutations import Mutation
from api.queries import Query
from api.subscriptions import Subscription
from api.telemetry import Telemetry
from domain.errors import DomainError
from service.outages import UNAVAILABLE, is_outage

log = logging.getLogger("dualtrack.api")


class LoggedSchema(strawberry.Schema):
    """Logs errors without what the request carried: refusals by code and path only, a
    database outage by the type of its error, the unexpected by type and stack; never by
    message (it may quote personal data or SQL parameters). The client's answer is
    CodedErrors'."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            path = ".".join(str(part) for part in error.path or ()) or None
            if original is None or isinstance(original, DomainError | GraphQLError):
                code = getattr(original, "code", None) or (error.extensions or {}).get("code")
                log.info("refused", extra={"code": code or INVALID_REQUEST, "path": path})
            elif is_outage(original):
                log.warning("database unavailable", extra={
                    "code": UNAVAILABLE, "path": path, "error": type(original).__name__})
            else:
                log.error("internal error", exc_info=original,
                          extra={"code": INTERNAL, "path": path})


schema = LoggedSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Telemetry before CodedErrors: it finishes after it, and so sees the coded errors.
    extensions=[*EXTENSIONS, KnownDocuments, Telemetry, CodedErrors],
    execution_context_class=LeanExecutor,
)
