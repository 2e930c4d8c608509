"""A leaner way through graphql-core's executor for long lists of plain objects.

graphql-core completes every field of every object on its own: resolve info, resolver
call, awaitable checks, value completion. A handbook of 3,000 entries is 21,000 such
fields, and they cost the request far more than reading the rows. Most of them need none
of it: an entry's fields are attributes read by strawberry's default resolver and
serialised by their scalar or enum.

LeanExecutor completes a list of objects in one pass when every field selected on its
items is such a field (or __typename): no arguments, no directive but @skip and @include
(which collecting the fields has applied), no resolver of its own, no field extensions,
a leaf type or a list of leaves, and no middleware in the request. It reads each
attribute and serialises it exactly as the general path would, with a function made for
that selection (see `_compile`). Whenever anything is unusual (a null where the schema
says non-null, a value its type cannot represent, a missing attribute, an abstract or
checked item type, @defer or @stream, fragment arguments) it gives the whole list to the
general path, which then answers and reports errors in its usual way: a request's answer
never depends on which path ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    is_enum_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Values of these exact types are what the scalar's serialiser returns unchanged.
UNCHANGED: dict[GraphQLOutputType, type] = {
    GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool,
}
TYPENAME = "__typename"
SKIP_AND_INCLUDE = frozenset({"skip", "include"})
STRAWBERRY_FIELD = "strawberry-definition"
MAX_COMPLETERS = 256  # distinct selections of plain lists kept compiled

Coerce = Callable[[Any], Any]
Complete = Callable[[Any], dict[str, Any]]
Selection = tuple[GraphQLObjectType, tuple[tuple[str, str], ...]]


class Unusual(Exception):
    """A value the lean path does not complete itself: the general path will."""


class LeafField(NamedTuple):
    """How one selected field of the items is completed."""

    response_name: str
    attribute: str | None  # None: the field is __typename, whose value is `typename`
    coerce: Coerce
    nullable: bool
    unchanged: type | None = None  # see UNCHANGED
    typename: str | None = None


_completers: dict[Selection, Complete] = {}


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, with the lean path for lists (see the module)."""

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        complete = None
        if position_context is None:
            complete = self._completer(item_type, field_details_list)
        if complete is not None:
            items = items if isinstance(items, list | tuple) else list(items)
            try:
                return [complete(item) for item in items]
            except Exception:  # Unusual, or reading it failed: see the module
                pass
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _completer(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        """What completes one item, or None if the general path must run."""
        if getattr(self.middleware_manager, "middlewares", None):
            return None
        object_type = _named(item_type)
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of:
            return None
        if not all(_plain(details) for details in field_details_list):
            return None
        grouped, new_defer_usages, forbidden = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages or forbidden:
            return None
        selected = []
        for response_name, details_list in grouped.items():
            if any(details.node.arguments or details.node.selection_set or not _plain(details)
                   for details in details_list):
                return None
            selected.append((response_name, details_list[0].node.name.value))
        selection: Selection = (object_type, tuple(selected))
        complete = _completers.get(selection)
        if complete is None:
            plan = [_leaf_field(object_type, *names) for names in selected]
            if any(field is None for field in plan):
                return None
            complete = _compile(plan)  # type: ignore[arg-type]
            if len(_completers) >= MAX_COMPLETERS:
                _completers.clear()
            _completers[selection] = complete
        return complete


def _leaf_field(
    object_type: GraphQLObjectType, response_name: str, name: str
) -> LeafField | None:
    if name == TYPENAME:
        return LeafField(response_name, None, _same, False, typename=object_type.name)
    definition = object_type.fields.get(name)
    if definition is None or definition.args:
        return None
    strawberry_field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
    if (strawberry_field is None or not getattr(definition.resolve, "_is_default", False)
            or not strawberry_field.is_basic_field
            or strawberry_field.default_resolver is not getattr):
        return None
    coerce, nullable = _leaf_coercion(definition.type)
    if coerce is None:
        return None
    unchanged = UNCHANGED.get(_named(definition.type))
    return LeafField(response_name, strawberry_field.python_name, coerce, nullable, unchanged)


def _compile(plan: list[LeafField]) -> Complete:
    """A function completing one item of the plan in a single dict display.

    Written out rather than looped over the fields, because the loop's own work (unpacking
    each field's plan, a call per value) was most of the cost of a long list. Only
    numbered names enter the source; attribute names, response names and serialisers are
    passed in the namespace, so no text from a request or a schema is compiled.
    """
    namespace: dict[str, Any] = {"Unusual": Unusual, "Undefined": Undefined}
    lines = ["def complete(item):", "    if item is None:", "        raise Unusual"]
    entries = []
    for n, field in enumerate(plan):
        namespace[f"name{n}"] = field.response_name
        entries.append(f"name{n}: value{n}")
        if field.attribute is None:
            namespace[f"value{n}"] = field.typename
            continue
        namespace[f"attribute{n}"] = field.attribute
        namespace[f"coerce{n}"] = field.coerce
        lines.append(f"    value{n} = getattr(item, attribute{n})")
        indent = "    "
        if field.unchanged is not None:
            namespace[f"unchanged{n}"] = field.unchanged
            lines.append(f"    if type(value{n}) is not unchanged{n}:")
            indent = "        "
        lines.append(f"{indent}if value{n} is None:")
        lines.append(f"{indent}    {'pass' if field.nullable else 'raise Unusual'}")
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    value{n} = coerce{n}(value{n})")
    lines.append(f"    return {{{', '.join(entries)}}}")
    exec("\n".join(lines), namespace)
    return namespace["complete"]  # type: ignore[no-any-return]


def _plain(details: FieldDetails) -> bool:
    """No directive but @skip and @include (collecting the fields applied them already), not
    deferred, no fragment arguments."""
    directives = details.node.directives or ()
    return (all(directive.name.value in SKIP_AND_INCLUDE for directive in directives)
            and details.defer_usage is None and details.fragment_variable_values is None)


def _named(field_type: GraphQLOutputType) -> GraphQLOutputType:
    return field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type


def _leaf_coercion(field_type: GraphQLOutputType) -> tuple[Coerce | None, bool]:
    """How a value of the type is serialised, and whether it may be null; (None, _) if the
    type is neither a leaf nor a list of leaves."""
    nullable = not isinstance(field_type, GraphQLNonNull)
    inner = _named(field_type)
    if is_leaf_type(inner):
        return _leaf(inner), nullable  # type: ignore[arg-type]
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        leaf = _named(item_type)
        if is_leaf_type(leaf):
            items_nullable = not isinstance(item_type, GraphQLNonNull)
            return _list_of(_leaf(leaf), items_nullable), nullable  # type: ignore[arg-type]
    return None, nullable


def _leaf(leaf_type: GraphQLLeafType) -> Coerce:
    serialise = leaf_type.coerce_output_value

    def coerce(value: Any) -> Any:
        coerced = serialise(value)
        if coerced is None or coerced is Undefined:
            raise Unusual
        return coerced

    if not is_enum_type(leaf_type):
        return coerce
    # An enum has a handful of values: each one's name is looked up once.
    names: dict[Any, Any] = {}

    def coerce_enum(value: Any) -> Any:
        name = names.get(value)
        if name is None:
            name = names[value] = coerce(value)
        return name

    return coerce_enum


def _list_of(coerce: Coerce, items_nullable: bool) -> Coerce:
    def coerce_list(values: Any) -> list[Any]:
        if not isinstance(values, list | tuple):
            raise Unusual
        completed = []
        for value in values:
            if value is None:
                if not items_nullable:
                    raise Unusual
                completed.append(None)
            else:
                completed.append(coerce(value))
        return completed

    return coerce_list


def _same(value: Any) -> Any:
    return value
