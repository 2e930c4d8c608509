"""Structured logs: JSON lines with the request's context, and no personal data."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from service import logs
from service.bootstrap import Services
from tests.api.conftest import enrollment
from tests.callers import STAFF

NAME, NATIONAL_ID = "Ouyang Xiaoming", "11010119990101771X"
ENROLL = """mutation Enroll($input: EnrollTraineeInput!) {
  enrollTrainee(input: $input) { traineeId } }"""


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What `dualtrack serve` logs, at the most talkative level, into a buffer."""
    touched = [logging.getLogger(name) for name in
               ("", *logs.QUIET, "uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in touched]
    buffer = io.StringIO()
    logs.configure("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        for logger, (handlers, level, propagate) in zip(touched, saved, strict=True):
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)


def post(app: Any, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dualtrack") as client:
            return await client.post("/graphql", json=body, headers=headers)

    return asyncio.run(call())


def test_a_mutation_is_logged_as_json_lines_without_personal_data(
    services: Services, logged: io.StringIO,
) -> None:
    app = create_app(services)
    credentials = STAFF.authorization(services.settings)
    body = {"query": ENROLL, "operationName": "Enroll",
            "variables": {"input": enrollment(name=NAME, nationalId=NATIONAL_ID)}}
    answer = post(app, body, credentials | {"X-Request-ID": "req-42"})
    trainee_id = answer.json()["data"]["enrollTrainee"]["traineeId"]
    refused = post(app, body, credentials)  # the same national ID again
    assert refused.json()["errors"][0]["extensions"]["code"] == "CONFLICT"

    text = logged.getvalue()
    for secret in (NAME, NATIONAL_ID, credentials["Authorization"].split()[1]):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    commands = [line for line in lines if line["message"] == "command"]
    assert [(c["command"], c["outcome"]) for c in commands] == [
        ("enrollTrainee", "ok"), ("enrollTrainee", "CONFLICT")]
    first = commands[0]
    assert first["trainee_id"] == trainee_id and first["request_id"] == "req-42"
    assert first["operation"] == "Enroll" and first["duration_ms"] >= 0
    requests = [line for line in lines if line["message"] == "request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/graphql", 200)] * 2
    assert requests[0]["request_id"] == "req-42" == answer.headers["x-request-id"]
    assert requests[1]["request_id"] == refused.headers["x-request-id"] != "req-42"
    refusal = next(line for line in lines if line["message"] == "refused")
    assert refusal["code"] == "CONFLICT" and refusal["path"] == "enrollTrainee"
    assert refusal["request_id"] == requests[1]["request_id"]


def test_only_known_fields_are_logged_and_exceptions_without_their_message(
    logged: io.StringIO,
) -> None:
    log = logging.getLogger("dualtrack.test")
    with logs.context(request_id="r-1"):
        log.info("checked", extra={"code": "X", "trainee_name": NAME, "body": NATIONAL_ID})
        try:
            raise ValueError(f"national ID {NATIONAL_ID} refused")
        except ValueError as error:
            log.error("failed\nfor %s", NATIONAL_ID, exc_info=error)
    first, second = (json.loads(line) for line in logged.getvalue().splitlines())
    assert first == {"time": first["time"], "level": "INFO", "logger": "dualtrack.test",
                     "message": "checked", "request_id": "r-1", "code": "X"}
    assert second["error"] == "ValueError" and "test_logs.py" in second["stack"]
    assert second["message"] == "failed"
    assert NATIONAL_ID not in logged.getvalue()
