"""The served schema keeps every name of ../shared/contract/minimum.graphql: queries,
mutations and the subscription, with their arguments and types."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema
from graphql.utilities import find_breaking_changes

from api.schema import schema

CONTRACT = Path(__file__).resolve().parents[1].parent / "shared" / "contract" / "minimum.graphql"


def test_the_served_schema_breaks_nothing_of_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text(encoding="utf-8"))
    served = build_schema(schema.as_str())
    assert [change.description for change in find_breaking_changes(contract, served)] == []
