"""A document the service has seen is parsed and validated once (api.documents), and every
request that sends it is still checked for what it carries and executed afresh."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import parse

from api import documents
from tests.api.conftest import GraphQL
from tests.callers import trainee as own


def counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Calls of strawberry's parse or validate (the steps the cache saves)."""
    calls = [0]
    original: Callable[..., Any] = getattr(strawberry_schema, name)

    def count(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, name, count)
    return calls


def fresh(document: str) -> str:
    """The document with a comment no other request sent, so that it is new to the cache."""
    return f"{document}\n# {uuid.uuid4().hex}"


def test_a_repeated_document_is_parsed_and_validated_once_and_executed_every_time(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses, validations = counted(monkeypatch, "parse"), counted(monkeypatch, "validate")
    t = gql.enroll(enrolledOn="2025-01-01")
    read = fresh("query($t: ID!) { trainee(id: $t) { version handbook { rotations { id } } } }")
    first = gql.ok(read, t=t)["trainee"]
    parsed, validated = parses[0], validations[0]
    gql.ok(fresh("""mutation($t: ID!) { scheduleRotation(traineeId: $t,
        department: "cardiology", stage: 1, startOn: "2025-01-01", endOn: "2025-02-01")
        { id } }"""), t=t)
    second = gql.ok(read, t=t)["trainee"]
    assert second["version"] == first["version"] + 1  # executed, not answered from memory
    assert len(second["handbook"]["rotations"]) == 1
    # The mutation was parsed and validated once; the repeated read not again.
    assert (parses[0], validations[0]) == (parsed + 1, validated + 1)


def test_a_known_document_still_refuses_what_its_variables_carry(gql: GraphQL) -> None:
    t = gql.enroll(enrolledOn="2025-01-01")
    rotation = gql.ok("""mutation($t: ID!) { scheduleRotation(traineeId: $t,
        department: "cardiology", stage: 1, startOn: "2025-01-01", endOn: "2025-02-01")
        { id } }""", t=t)["scheduleRotation"]["id"]
    record = fresh("""mutation($t: ID!, $r: ID!, $d: String!) { recordRotationEntry(
        traineeId: $t, rotationId: $r, kind: CASE, occurredOn: "2025-01-02",
        description: $d) { id } }""")
    assert gql.ok(record, as_=own(t), t=t, r=rotation, d="a case")["recordRotationEntry"]["id"]
    refused = gql.error(record, as_=own(t), t=t, r=rotation, d="nul \u0000 here")
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"
    forbidden = gql.error(record, as_=own(str(uuid.uuid4())), t=t, r=rotation, d="a case")
    assert forbidden["extensions"]["code"] == "FORBIDDEN"


def test_an_invalid_document_is_validated_and_refused_every_time(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    validations = counted(monkeypatch, "validate")
    invalid = fresh('query { trainee(id: "x") { noSuchField } }')
    for attempt in range(1, 3):
        error = gql.error(invalid)
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert validations[0] == attempt


def test_long_documents_are_not_kept(gql: GraphQL, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = counted(monkeypatch, "parse")
    padding = "# " + "x" * documents.MAX_QUERY_CHARACTERS
    long_query = fresh(f"query {{ trainees(first: 1) {{ hasMore }} }}\n{padding}")
    gql.ok(long_query)
    gql.ok(long_query)
    assert parses[0] == 2


def test_the_cache_keeps_the_most_recently_used_documents_only() -> None:
    cache = documents._Documents(capacity=2)
    keys = [(0, f"query Q{n} {{ a }}", frozenset()) for n in range(3)]
    for key in keys[:2]:
        cache.add(key, parse(key[1]))
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.add(keys[2], parse(keys[2][1]))
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None and cache.get(keys[2]) is not None
