"""Which failures are database outages (UNAVAILABLE), however many layers wrapped them."""

from __future__ import annotations

import sqlite3

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from eventsourcing import persistence
from graphql import GraphQLError

from api.errors import CodedErrors
from service.outages import (
    TIMED_OUT_MESSAGE,
    UNAVAILABLE,
    UNREACHABLE_MESSAGE,
    is_outage,
    outage_message,
)

SQL = "SELECT name FROM rm_trainees WHERE national_id = '110101199901011234'"


def wrapped(driver_error: BaseException) -> BaseException:
    """As the eventsourcing library raises it: its own error, from SQLAlchemy's, from the
    driver's."""
    outer = sa.exc.OperationalError(SQL, {}, driver_error)
    try:
        try:
            raise outer
        except sa.exc.OperationalError as error:
            raise persistence.OperationalError(error) from error
    except persistence.OperationalError as raised:
        return raised


@pytest.mark.parametrize(("error", "message"), [
    (wrapped(psycopg2.OperationalError("server closed the connection")), UNREACHABLE_MESSAGE),
    (wrapped(psycopg2.errors.QueryCanceled("statement timeout")), TIMED_OUT_MESSAGE),
    (psycopg2.errors.LockNotAvailable("lock timeout"), TIMED_OUT_MESSAGE),
    (psycopg2.InterfaceError("connection already closed"), UNREACHABLE_MESSAGE),
    (sa.exc.TimeoutError("QueuePool limit reached"), TIMED_OUT_MESSAGE),
    (sqlite3.OperationalError("database is locked"), UNREACHABLE_MESSAGE),
])
def test_an_outage_is_told_by_kind_never_by_the_drivers_text(
    error: BaseException, message: str
) -> None:
    assert is_outage(error)
    assert outage_message(error) == message
    coded = CodedErrors()._process_errors(
        [GraphQLError("raw", path=["enrollTrainee"], original_error=error)])[0]
    assert coded.extensions == {"code": UNAVAILABLE}
    assert coded.message == message and "110101" not in coded.message


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    sa.exc.IntegrityError(SQL, {}, psycopg2.IntegrityError("duplicate")),
    sa.exc.ProgrammingError(SQL, {}, psycopg2.ProgrammingError("no such column")),
])
def test_anything_else_stays_an_internal_error(error: BaseException) -> None:
    assert not is_outage(error)
    coded = CodedErrors()._process_errors(
        [GraphQLError("raw", path=["trainee"], original_error=error)])[0]
    assert coded.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert coded.message == "internal error"
