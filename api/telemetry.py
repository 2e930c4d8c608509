"""Each GraphQL operation counted in the metrics and told in the log, without what it
carried: its name and type, each command (mutation field) with its outcome and the
trainee it acted on, the error codes, and how long it took. Never the document, the
variables or the answer's data (they hold names and national IDs).

It runs outside CodedErrors (see api.schema), so it sees the codes clients see. It has no
`resolve` hook: that would make every field pass through it (see api.execution).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from service import logs
from service.metrics import OK

log = logging.getLogger("dualtrack.api")
# Operation names are chosen by clients: only a GraphQL name of sensible length is logged.
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")


class Telemetry(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        operation, name = _operation(context), _name(context)
        kind = operation.operation.value if operation is not None else None
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        result = context.result
        errors = list(getattr(result, "errors", None) or [])
        codes = [str((error.extensions or {}).get("code", "")) for error in errors]
        metrics = getattr(getattr(context.context, "services", None), "metrics", None)
        if metrics is not None:
            for code in codes:
                metrics.error(code)
        data = getattr(result, "data", None)
        if operation is not None and kind == "mutation":
            for key, command in _root_fields(operation):
                outcome = _outcome(key, errors)
                if outcome == OK and not (isinstance(data, dict) and key in data):
                    continue  # not run: the request was refused before execution
                if metrics is not None:
                    metrics.command(command, outcome)
                log.info("command", extra={
                    "operation": name, "command": command, "outcome": outcome,
                    "duration_ms": duration_ms, "trainee_id": _trainee_id(data, key),
                })
        log.info("graphql", extra={
            "operation": name, "operation_type": kind, "duration_ms": duration_ms,
            "codes": codes,
        })

    def on_execute(self) -> Iterator[None]:
        # Lines logged while it runs (in resolver threads too) name the operation.
        with logs.context(operation=_name(self.execution_context)):
            yield


def _operation(context: Any) -> OperationDefinitionNode | None:
    document = context.graphql_document
    if document is None:
        return None
    try:
        return get_operation_ast(document, context.operation_name)
    except Exception:  # noqa: BLE001 - a malformed request is the executor's to report
        return None


def _name(context: Any) -> str | None:
    try:
        name = context.operation_name
    except Exception:  # noqa: BLE001
        return None
    return name if isinstance(name, str) and NAME.fullmatch(name) else None


def _root_fields(operation: OperationDefinitionNode) -> list[tuple[str, str]]:
    """(response key, field name) of each field selected at the root."""
    return [
        ((field.alias or field.name).value, field.name.value)
        for field in operation.selection_set.selections if isinstance(field, FieldNode)
    ]


def _outcome(key: str, errors: list[Any]) -> str:
    for error in errors:
        if error.path and error.path[0] == key:
            return str((error.extensions or {}).get("code", "")) or "error"
    return OK


def _trainee_id(data: Any, key: str) -> str | None:
    answer = data.get(key) if isinstance(data, dict) else None
    found = answer.get("traineeId") if isinstance(answer, dict) else None
    return found if isinstance(found, str) else None
