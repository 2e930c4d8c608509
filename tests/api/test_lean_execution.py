"""The lean path through lists (api.execution) answers exactly what graphql-core's general
path answers, data and errors alike, and it is the path that runs where it may."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from enum import Enum
from typing import Any

import pytest
import strawberry

from api import execution
from api.context import Context
from api.mutations import Mutation
from api.queries import Query as ServedQuery
from api.schema import schema as served_schema
from api.subscriptions import Subscription
from service.bootstrap import Services
from service.tokens import token_verifier
from tests.api.conftest import GraphQL
from tests.callers import STAFF
from tests.callers import trainee as own


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    colour: Colour
    tags: list[str]
    note: str | None
    flag: bool
    count: int
    when: date

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


def item(n: int, **changes: Any) -> Item:
    made = Item(id=strawberry.ID(f"i{n}"), name=f"item {n}", colour=Colour.RED, tags=["a", "b"],
                note=None if n % 2 else "note", flag=bool(n % 3), count=n, when=date(2025, 1, n))
    return replace(made, **changes)


ITEMS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return ITEMS


lean = strawberry.Schema(Query, execution_context_class=execution.LeanExecutor)
general = strawberry.Schema(Query)

EVERY_LEAF = "{ items { id name colour tags note flag count when } }"


@pytest.fixture
def lean_items(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many items the lean path completed (whether or not it then fell back)."""
    completed = [0]
    completer = execution.LeanExecutor._completer

    def counting(self: execution.LeanExecutor, *args: Any) -> Any:
        complete = completer(self, *args)
        if complete is None:
            return None

        def counted(item: Any) -> Any:
            completed[0] += 1
            return complete(item)

        return counted

    monkeypatch.setattr(execution.LeanExecutor, "_completer", counting)
    yield completed
    ITEMS.clear()


def both(query: str, items: list[Any], variables: dict[str, Any] | None = None) -> Any:
    """The lean answer, after checking it is the general path's, data and errors."""
    ITEMS[:] = items
    ours = lean.execute_sync(query, variable_values=variables)
    theirs = general.execute_sync(query, variable_values=variables)
    assert ours.data == theirs.data
    assert [e.formatted for e in ours.errors or []] == [e.formatted for e in theirs.errors or []]
    return ours


def test_plain_fields_with_aliases_fragments_typenames_and_skips_take_the_lean_path(
    lean_items: list[int],
) -> None:
    query = """query($no: Boolean!) { items { __typename ...Named label: colour
               tags note flag count when @skip(if: $no) id @include(if: $no) }
               maybeItems { id } }
               fragment Named on Item { name id }"""
    answer = both(query, [item(n) for n in range(1, 6)], {"no": True})
    assert lean_items[0] == 10  # both lists, every item
    first = answer.data["items"][0]
    assert list(first) == ["__typename", "name", "id", "label", "tags", "note", "flag", "count"]
    assert first == {"__typename": "Item", "name": "item 1", "id": "i1", "label": "RED",
                     "tags": ["a", "b"], "note": None, "flag": True, "count": 1}


def test_a_null_where_the_schema_says_non_null_is_reported_as_the_general_path_does(
    lean_items: list[int],
) -> None:
    answer = both(EVERY_LEAF, [item(1), item(2, name=None), item(3)])
    assert answer.data is None and "non-nullable field Item.name" in answer.errors[0].message
    assert lean_items[0] == 2  # it met the null, then gave the list to the general path


@pytest.mark.parametrize("changes", [
    {"colour": "green"},  # not a member of the enum
    {"count": 2**40},  # beyond GraphQL's 32-bit Int
    {"tags": ["a", None]},  # a null item in [String!]!
    {"tags": "ab"},  # not a list
    {"flag": {"not": "a boolean"}},
    {"when": "2025-01-01"},  # a string where the Date scalar serialises dates
])
def test_values_a_type_cannot_represent_are_refused_as_the_general_path_does(
    lean_items: list[int], changes: dict[str, Any]
) -> None:
    answer = both(EVERY_LEAF, [item(1), item(2, **changes)])
    assert answer.errors
    assert lean_items[0] >= 1


def test_items_that_are_null_or_lack_a_field_fall_back_with_the_same_answer(
    lean_items: list[int],
) -> None:
    both("{ maybeItems { id name } }", [item(1), None, item(3)])
    nulls = both("{ items { id name } }", [item(1), None])
    assert nulls.errors
    missing = both("{ items { id name } }", [item(1), {"id": "i2", "name": "a dict"}])
    assert missing.errors
    assert lean_items[0] >= 3


def test_a_field_with_a_resolver_of_its_own_keeps_the_general_path(
    lean_items: list[int],
) -> None:
    answer = both("{ items { id shout } }", [item(1), item(2)])
    assert answer.data["items"][1]["shout"] == "ITEM 2"
    assert lean_items[0] == 0


HANDBOOK = """query($t: ID!) { trainee(id: $t) { __typename name
  handbook { clinicalMonths complete missing
    rotations { id department stage startOn endOn completed tutorId
      entries { __typename id kind occurredOn description signedBy late retracted
                alias: occurredOn } }
    assessments { id kind occurredOn assessorId rotationId overall passed ratings } }
  certificates { kind state number grantedOn unmet revocationReason }
  tutors { tutorId role department assignedOn } } }"""


def test_the_served_handbook_is_the_general_paths_handbook(
    gql: GraphQL, services: Services, lean_items: list[int]
) -> None:
    t = gql.enroll(enrolledOn="2025-01-01")
    rotation = gql.ok("""mutation($t: ID!) { scheduleRotation(traineeId: $t,
        department: "cardiology", stage: 1, startOn: "2025-01-01", endOn: "2025-03-01",
        tutorId: "dr-wang") { id } }""", t=t)["scheduleRotation"]["id"]
    for day in range(1, 4):
        gql.ok("""mutation($t: ID!, $r: ID!, $on: Date!) { recordRotationEntry(
            traineeId: $t, rotationId: $r, kind: PROCEDURE, occurredOn: $on,
            description: "lumbar puncture") { id } }""",
            as_=own(t), t=t, r=rotation, on=f"2025-01-0{day}")
    gql.ok("""mutation($t: ID!, $r: ID!) { recordAssessment(traineeId: $t,
        kind: DEPARTURE_EXAM, occurredOn: "2025-02-01", rotationId: $r, passed: true)
        { id } }""", t=t, r=rotation)
    served = gql.ok(HANDBOOK, t=t)
    assert lean_items[0] > 0

    plain = type(served_schema)(query=ServedQuery, mutation=Mutation, subscription=Subscription)
    context = Context(services, token_verifier(services.settings),
                      STAFF.authorization(services.settings)["Authorization"])
    result = asyncio.run(plain.execute(HANDBOOK, variable_values={"t": t},
                                       context_value=context))
    assert result.errors is None
    assert result.data == served
    assert len(served["trainee"]["handbook"]["rotations"][0]["entries"]) == 3


def test_the_compiled_selections_kept_are_bounded(lean_items: list[int]) -> None:
    for n in range(execution.MAX_COMPLETERS + 5):
        assert both(f"{{ items {{ a{n}: id }} }}", [item(1)]).data == {"items": [{f"a{n}": "i1"}]}
    assert 0 < len(execution._completers) <= execution.MAX_COMPLETERS
    assert lean_items[0] == execution.MAX_COMPLETERS + 5
