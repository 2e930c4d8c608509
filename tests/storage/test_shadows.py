"""The projector's shadows (projections.shadows): summaries computed from the write state
it keeps in step with the log equal those gathered from the rows, spare the batch the
queries, and are never trusted after a failed batch or once another projector moved on."""

from __future__ import annotations

from typing import Any

import pytest

from projections import summary
from service import bootstrap
from service.clock import FixedClock
from service.settings import Settings
from tests.storage.test_projection_batches import (
    every_row,
    record_and_sign,
    statements,
    trainees_with_a_rotation,
)

__all__ = ["statements"]  # the fixture, shared


def rebuilt_rows(services: bootstrap.Services) -> dict[str, list[Any]]:
    services.projector.rebuild()  # gathers every summary from the rows
    return every_row(services)


def test_a_warm_shadow_spares_the_summary_its_queries(
    services: bootstrap.Services, statements: list[str]
) -> None:
    trainees = trainees_with_a_rotation(services, 2, entries=3)
    for n, (trainee, rotation) in enumerate(trainees):
        record_and_sign(services, trainee, rotation, n)
    statements.clear()
    services.projector.catch_up()
    with_shadows = list(statements)
    services.projector.shadows.maxsize = 0
    for n, (trainee, rotation) in enumerate(trainees):
        record_and_sign(services, trainee, rotation, 10 + n)
    statements.clear()
    services.projector.catch_up()
    gathered = list(statements)
    assert not any("rm_rotations" in s and s.lstrip().startswith("SELECT") for s in with_shadows)
    assert any("rm_rotations" in s and s.lstrip().startswith("SELECT") for s in gathered)
    assert len(with_shadows) < len(gathered)
    live = every_row(services)
    assert rebuilt_rows(services) == live


def test_a_batch_that_fails_forgets_the_shadows_it_advanced(
    services: bootstrap.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(trainee, rotation)] = trainees_with_a_rotation(services, 1, entries=2)
    record_and_sign(services, trainee, rotation, 5)
    real = summary.write_certificates

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away mid-batch")

    monkeypatch.setattr(summary, "write_certificates", failing)
    with pytest.raises(RuntimeError):
        services.projector.catch_up()
    assert str(trainee) not in services.projector.shadows._items
    monkeypatch.setattr(summary, "write_certificates", real)
    services.projector.catch_up()
    live = every_row(services)
    assert rebuilt_rows(services) == live


def test_a_shadow_behind_another_projector_is_loaded_again(
    services: bootstrap.Services, settings: Settings, clock: FixedClock
) -> None:
    [(trainee, rotation)] = trainees_with_a_rotation(services, 1, entries=2)
    elsewhere = bootstrap.build(settings, clock=clock)
    try:
        record_and_sign(elsewhere, trainee, rotation, 7)
        elsewhere.projector.catch_up()  # projects events this process's shadow never saw
    finally:
        elsewhere.close()
    loads: list[tuple[Any, int]] = []
    shadows = services.projector.shadows
    load = shadows._load

    def counting(trainee_id: Any, version: int) -> Any:
        loads.append((trainee_id, version))
        return load(trainee_id, version)

    shadows._load = counting
    position = record_and_sign(services, trainee, rotation, 8)
    services.projector.catch_up(until=position)
    assert [trainee_id for trainee_id, _ in loads] == [trainee]
    live = every_row(services)
    assert rebuilt_rows(services) == live
