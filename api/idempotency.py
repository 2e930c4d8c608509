"""The `Idempotency-Key` header: one key per request, one command per mutation field.

A request may carry several mutations; each is keyed by the header's key and the field's
response name (its alias, if any), so a retry of the same document maps each field to its
own receipt. The request digest covers the field and its arguments as the client sent
them (after coercion), never the ids the server generates, so an identical retry matches
and a different request under the same key is refused (IDEMPOTENCY_KEY_REUSED).
"""

from __future__ import annotations

import hashlib
import json

from graphql.execution.values import VariableValues, get_argument_values

from api.types import Info
from service.idempotency import Idempotency

HEADER = "Idempotency-Key"


def idempotency_of(info: Info) -> Idempotency | None:
    key = info.context.idempotency_key
    if key is None:
        return None
    # strawberry offers no public view of a field's coerced arguments; graphql-core's is it.
    raw = info._raw_info
    variables = raw.variable_values
    if not isinstance(variables, VariableValues):  # strawberry hands on the coerced dict
        variables = VariableValues(sources={}, coerced=dict(variables or {}))
    arguments = get_argument_values(
        raw.parent_type.fields[raw.field_name], raw.field_nodes[0], variables
    )
    request = json.dumps(
        [raw.field_name, arguments], sort_keys=True, default=str, separators=(",", ":")
    )
    return Idempotency(
        key=key,
        part=str(raw.path.key),
        request_digest=hashlib.sha256(request.encode()).hexdigest(),
    )
