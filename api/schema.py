"""The served schema. Built at import without services, so `dualtrack schema` can print it."""

from __future__ import annotations

import logging
import traceback

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from api.documents import KnownDocuments
from api.errors import CodedErrors
from api.execution import LeanExecutor
from api.limits import EXTENSIONS
from api.mutations import Mutation
from api.queries import Query
from api.subscriptions import Subscription
from domain.errors import DomainError

log = logging.getLogger("dualtrack.api")


class LoggedSchema(strawberry.Schema):
    """Logs errors without what the request carried: refusals by code and path only, the
    unexpected by type and stack, never by message (it may quote personal data or SQL
    parameters). The client's answer is CodedErrors'."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            path = ".".join(str(part) for part in error.path or ())
            if original is None or isinstance(original, DomainError | GraphQLError):
                code = getattr(original, "code", None) or (error.extensions or {}).get("code")
                log.info("refused %s at %s", code or "invalid request", path or "-")
            else:
                stack = "".join(traceback.format_tb(original.__traceback__))
                log.error("internal error %s at %s\n%s", type(original).__name__, path, stack)


schema = LoggedSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[*EXTENSIONS, KnownDocuments, CodedErrors],
    execution_context_class=LeanExecutor,
)
