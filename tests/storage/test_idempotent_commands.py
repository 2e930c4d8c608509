"""Idempotency keys in the application, on each backend: the same key twice in one batch,
or from two writers at once, records the command once and answers both with its outcome."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from domain.events import RotationEntryRecorded
from domain.receipts import CommandReceipt, IdempotencyKeyReused
from service import bootstrap
from service.bootstrap import Services
from service.idempotency import Idempotency
from service.principals import system
from service.records import Outcome
from service.settings import Settings
from tests.storage.test_group_commit import WAIT_SECONDS, Gate, entry, with_rotation

KEY = Idempotency(key="tablet-3/42", request_digest="d" * 64)


def recorded(services: Services, trainee: uuid.UUID) -> int:
    return sum(isinstance(e, RotationEntryRecorded) for e in services.records.events.get(trainee))


def in_threads(calls: list[Any]) -> list[Outcome | Exception]:
    results: list[Outcome | Exception] = [RuntimeError("never ran")] * len(calls)

    def run(n: int) -> None:
        try:
            results[n] = calls[n]()
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    return results


def test_the_same_key_twice_in_one_batch_is_recorded_once(services: Services) -> None:
    trainee, rotation = with_rotation(services, "110101199901011111")
    records = services.records
    # Each retry carries its own entry id (the API makes a new one per request): only the
    # key tells them apart from two different entries.
    calls = [lambda: records.execute(entry(trainee, rotation), system("li"), KEY)
             for _ in range(3)]
    redecided = records.committer.redecided
    with Gate(records.committer) as gate:
        threads_results: list[Outcome | Exception] = []
        runner = threading.Thread(target=lambda: threads_results.extend(in_threads(calls)))
        runner.start()
        gate.wait_for_queue(len(calls))
    runner.join(WAIT_SECONDS)

    assert all(isinstance(result, Outcome) for result in threads_results), threads_results
    assert len(set(threads_results)) == 1
    assert recorded(services, trainee) == 1
    # The two retries waited for the first to commit, within the same submission.
    assert records.committer.redecided == redecided + 2


def test_two_writers_racing_with_one_key_record_it_once(
    services: Services, settings: Settings
) -> None:
    trainee, rotation = with_rotation(services, "110101199901012222")
    elsewhere = bootstrap.build(settings)
    try:
        writers = [services.records, elsewhere.records] * 4
        results = in_threads([
            lambda records=records: records.execute(entry(trainee, rotation), system("li"), KEY)
            for records in writers
        ])
    finally:
        elsewhere.close()
    assert all(isinstance(result, Outcome) for result in results), results
    assert len(set(results)) == 1
    assert recorded(services, trainee) == 1


def test_the_receipt_holds_no_key_and_answers_only_its_request(services: Services) -> None:
    trainee, rotation = with_rotation(services, "110101199901013333")
    outcome = services.records.execute(entry(trainee, rotation), system("li"), KEY)
    receipt = services.records.repository.get(KEY.receipt_id(system("li").actor))
    assert isinstance(receipt, CommandReceipt)
    assert (receipt.trainee_id, receipt.subject_id) == (
        str(trainee), str(outcome.subject_id))
    assert KEY.key not in repr(vars(receipt))

    other = Idempotency(key=KEY.key, request_digest="e" * 64)
    with pytest.raises(IdempotencyKeyReused):
        services.records.execute(entry(trainee, rotation), system("li"), other)
    assert recorded(services, trainee) == 1
