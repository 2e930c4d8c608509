"""The served schema. Built at import without services, so `dualtrack schema` can print it."""

from __future__ import annotations

import strawberry

from api.errors import CodedErrors
from api.limits import EXTENSIONS
from api.mutations import Mutation
from api.queries import Query
from api.subscriptions import Subscription

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[*EXTENSIONS, CodedErrors],
)
