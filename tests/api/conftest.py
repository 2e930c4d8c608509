"""A GraphQL client over the ASGI app, on each backend."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from service.bootstrap import Services
from service.settings import Settings
from tests.callers import STAFF, Caller

ENROLL = """
mutation($input: EnrollTraineeInput!) {
  enrollTrainee(input: $input) { position traineeId id }
}
"""


def enrollment(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "Li Lei", "nationalId": "110101199901011234", "pathway": "INTEGRATED_MASTER",
        "degreeCategory": "CLINICAL_MEDICINE", "bachelorMajor": "clinical medicine",
        "hasBachelorOfMedicine": True, "holdsResidencyCertificate": False,
        "licensedAtEnrollment": False, "specialty": "internal medicine", "baseId": "base-1",
        "university": "Peking University", "cohort": 2025, "enrolledOn": "2025-09-01",
    }
    return base | changes


class GraphQL:
    """Posts GraphQL requests to the app, in process (ASGI) or to a URL over the network,
    as a caller (tests.callers; STAFF unless told; None sends no credentials)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        settings: Settings,
        base_url: str = "http://dualtrack",
        headers: dict[str, str] | None = None,
    ):
        self.transport = transport
        self.settings = settings
        self.base_url = base_url
        self.headers = headers or {}

    def with_headers(self, **headers: str) -> GraphQL:
        """The same client, sending these headers too (e.g. Idempotency-Key)."""
        return GraphQL(self.transport, self.settings, self.base_url, self.headers | headers)

    async def _post(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(transport=self.transport, base_url=self.base_url) as client:
            return await client.post("/graphql", json=body, headers=headers)

    def __call__(self, query: str, as_: Caller | None = STAFF, **variables: Any) -> Any:
        headers = self.headers | ({} if as_ is None else as_.authorization(self.settings))
        response = asyncio.run(self._post({"query": query, "variables": variables}, headers))
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, query: str, as_: Caller | None = STAFF, **variables: Any) -> Any:
        body = self(query, as_=as_, **variables)
        assert "errors" not in body, body
        return body["data"]

    def error(self, query: str, as_: Caller | None = STAFF, **variables: Any) -> Any:
        body = self(query, as_=as_, **variables)
        assert body.get("errors"), body
        return body["errors"][0]

    def enroll(self, **changes: Any) -> str:
        data = self.ok(ENROLL, input=enrollment(**changes))
        return str(data["enrollTrainee"]["traineeId"])


def event_count(services: Services) -> int:
    """Events stored so far: a refused command must leave it unchanged."""
    with services.engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM dualtrack_events")).scalar())


@pytest.fixture
def gql(services: Services) -> GraphQL:
    return GraphQL(httpx.ASGITransport(app=create_app(services)), services.settings)
