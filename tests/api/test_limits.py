"""Requests too large, too deep or too wide are refused with a code, before they run, and
write nothing; GraphiQL's introspection and the portals' deepest queries still pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from graphql import get_introspection_query

from api.app import create_app
from api.limits import MAX_ALIASES, MAX_QUERY_DEPTH, MAX_REQUEST_BYTES
from service.bootstrap import Services
from tests.api.conftest import ENROLL, GraphQL, enrollment, event_count
from tests.servers import serving

DEEPEST_PORTAL_QUERY = """query($t: ID!) { trainee(id: $t) {
  handbook { rotations { entries { id kind signedBy } } assessments { ratings } }
  certificates { kind unmet } tutors { tutorId }
  auditTrail { items { position data correctedBy } } versions { version } } }"""


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(gql: GraphQL) -> None:
    trainee = gql.enroll()
    # The schema has no cycle, so only a document that names fields it lacks can go this
    # deep; the limit refuses it before anything is resolved, whatever else is wrong in it.
    selection = "id"
    for level in range(MAX_QUERY_DEPTH + 1):
        selection = f"f{level} {{ {selection} }}"
    body = gql(f"{{ trainee(id: \"{trainee}\") {{ {selection} }} }}")
    messages = [error["message"] for error in body["errors"]]
    assert any("exceeds maximum operation depth" in message for message in messages), messages
    assert {error["extensions"]["code"] for error in body["errors"]} == {
        "GRAPHQL_VALIDATION_FAILED"}
    assert gql.ok(DEEPEST_PORTAL_QUERY, t=trainee)["trainee"]["auditTrail"]["items"]


def test_too_many_aliases_are_refused_and_nothing_is_written(
    gql: GraphQL, services: Services
) -> None:
    before = event_count(services)
    aliased = " ".join(f"e{n}: enrollTrainee(input: $input) {{ position }}"
                       for n in range(MAX_ALIASES + 1))
    error = gql.error(f"mutation($input: EnrollTraineeInput!) {{ {aliased} }}",
                      input=enrollment())
    assert "aliases" in error["message"]
    assert event_count(services) == before


async def _post(url: str, body: dict[str, object], chunked: bool) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        if not chunked:
            return await client.post("/graphql", json=body)
        payload = httpx.Request("POST", url, json=body).read()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(payload), 65536):
                yield payload[start:start + 65536]

        return await client.post("/graphql", content=chunks(),
                                 headers={"content-type": "application/json"})


def test_a_body_over_the_limit_is_refused_with_413_and_writes_nothing(
    services: Services
) -> None:
    before = event_count(services)
    body = {"query": ENROLL,
            "variables": {"input": enrollment(name="x" * (MAX_REQUEST_BYTES + 1))}}
    with serving(create_app(services)) as url:
        for chunked in (False, True):  # a declared length, then a streamed body
            response = asyncio.run(_post(url, body, chunked))
            assert response.status_code == 413, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        small = asyncio.run(_post(url, {"query": "{ __typename }"}, chunked=True))
        assert small.json() == {"data": {"__typename": "Query"}}
    assert event_count(services) == before


def test_introspection_still_works_for_graphiql(gql: GraphQL) -> None:
    assert gql.ok(get_introspection_query())["__schema"]["queryType"]["name"] == "Query"
