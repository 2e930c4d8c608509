"""The crash tests' checks fail when they should: a lost acknowledgement, one at another
position, a command stored twice, a client told positions out of order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests.crash.checks import assert_log_holds_every_ack_once
from tests.crash.load import Ack, Load
from tests.storage.test_group_commit import with_rotation


def recorder(services: Services) -> Callable[[str], int]:
    """Records an entry with the given description; returns its position."""
    trainee, rotation = with_rotation(services, "110101199901060001")

    def record(description: str) -> int:
        return services.records.execute(
            c.RecordRotationEntry(trainee, uuid.uuid4(), rotation, "CASE", date(2025, 2, 1),
                                  description), system("li")).notification_id

    return record


def told(*acks: tuple[int, str, int]) -> Load:
    load = Load("http://127.0.0.1:1", [], clients=1, tag="checks")
    load.acked = [Ack(client, description, position, 0) for client, description, position in acks]
    return load


def test_the_checks_catch_what_a_crash_could_do(services: Services) -> None:
    record = recorder(services)
    first, second = record("first"), record("second")
    outcome = assert_log_holds_every_ack_once(services, told((0, "first", first),
                                                             (0, "second", second)))
    assert outcome.acks_per_phase == [2]
    with pytest.raises(AssertionError, match="missing or not at the position"):
        assert_log_holds_every_ack_once(services, told((0, "never stored", second + 1)))
    with pytest.raises(AssertionError, match="missing or not at the position"):
        assert_log_holds_every_ack_once(services, told((0, "first", second)))
    with pytest.raises(AssertionError, match="out of order"):
        assert_log_holds_every_ack_once(services, told((0, "second", second),
                                                       (0, "first", first)))
    record("first")
    with pytest.raises(AssertionError, match="stored more than once"):
        assert_log_holds_every_ack_once(services, told())
