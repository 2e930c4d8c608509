"""Each distinct GraphQL document is parsed and validated once, not on every request.

Clients send the same few query texts again and again (a handbook, a mutation); parsing
and validating one costs a request more than running it often does. KnownDocuments keeps
the parsed document of each text that validated without errors, and a later request with
the same text reuses it and skips validation, whose outcome depends only on the document,
the schema and the rules (the limits of api.limits are fixed for the process). Only
parsing and validation are skipped: every request still runs the checks that depend on
what it carries (api.limits.StorableTextOnly reads its variables), and is executed afresh.

The cache is bounded in entries and in the length of the texts it keeps, so that clients
sending ever new documents cannot grow it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

MAX_DOCUMENTS = 128
MAX_QUERY_CHARACTERS = 2000  # a parsed document takes about 130 bytes per character

Key = tuple[int, str, frozenset[tuple[str, Any]]]


class _Documents:
    def __init__(self, capacity: int):
        self._capacity = capacity
        self._documents: OrderedDict[Key, DocumentNode] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> DocumentNode | None:
        with self._lock:
            document = self._documents.get(key)
            if document is not None:
                self._documents.move_to_end(key)
            return document

    def add(self, key: Key, document: DocumentNode) -> None:
        with self._lock:
            self._documents[key] = document
            while len(self._documents) > self._capacity:
                self._documents.popitem(last=False)


_known = _Documents(MAX_DOCUMENTS)


class KnownDocuments(SchemaExtension):
    def __init__(self) -> None:
        super().__init__()
        self._key: Key | None = None
        self._reused = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and len(query) <= MAX_QUERY_CHARACTERS:
            options = frozenset((context.parse_options or {}).items())
            self._key = (id(context.schema), query, options)
            document = _known.get(self._key)
            if document is not None:
                context.graphql_document = document
                self._reused = True
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._reused and context.pre_execution_errors is None:
            context.pre_execution_errors = []  # valid when it was first seen
        yield
        document = context.graphql_document
        if (self._key is not None and not self._reused and document is not None
                and context.pre_execution_errors == []):
            _known.add(self._key, document)
