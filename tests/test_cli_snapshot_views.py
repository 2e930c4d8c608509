"""`dualtrack snapshot-views`, run as an operator runs it: it takes the view snapshots a
long record's as-of replays then start from, once."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from domain import commands as c
from projections import replay
from projections import view_snapshots as vs
from service.bootstrap import Services
from service.clock import FixedClock
from service.principals import system
from service.settings import Settings
from tests.history import enroll
from tests.storage.test_view_snapshots import forge
from tests.test_cli import dualtrack


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {
        "DUALTRACK_DATABASE_URL": settings.database_url,
        "DUALTRACK_SIGNING_KEY_FILE": settings.signing_key_file,
        "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file,
        "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
    }


def trainee_with(services: Services, clock: FixedClock, events: int, national_id: str
                 ) -> uuid.UUID:
    trainee_id = enroll(services, national_id=national_id)
    for _ in range(events - 1):
        clock.advance(minutes=1)
        services.records.execute(c.RecordEthicsViolation(
            trainee_id, uuid.uuid4(), date(2026, 11, 1), "late to a shift", False),
            system("base"))
    return trainee_id


def versions(services: Services) -> dict[str, list[int]]:
    s = vs.view_snapshots.c
    found: dict[str, list[int]] = {}
    with services.engine.connect() as connection:
        for trainee_id, version in connection.execute(
                sa.select(s.trainee_id, s.version).order_by(s.trainee_id, s.version)):
            found.setdefault(trainee_id, []).append(version)
    return found


def test_snapshot_views_takes_each_trainees_snapshots_once(
    services: Services, clock: FixedClock, env: dict[str, str]
) -> None:
    every = replay.CHECKPOINT_EVERY
    long = trainee_with(services, clock, 2 * every + 3, "P-LONG-0001")
    short = trainee_with(services, clock, every - 1, "P-SHORT-0002")
    services.projector.catch_up()  # the command lists trainees from the read model

    one = dualtrack("snapshot-views", "--trainee", str(short), env=env)
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == (f"ok: took 0 view snapshot(s) of 1 trainee(s), every "
                                  f"{every} events")
    every_trainee = dualtrack("snapshot-views", env=env)
    assert every_trainee.returncode == 0, every_trainee.stderr
    assert "ok: took 2 view snapshot(s) of 2 trainee(s)" in every_trainee.stdout
    assert versions(services) == {str(long): [every, 2 * every]}
    again = dualtrack("snapshot-views", env=env)
    assert "ok: took 0 view snapshot(s) of 2 trainee(s)" in again.stdout

    # a replay in this process starts from them: it decodes only the 3 events after
    replay.clear_cache(services.records)
    before = replay.stats["events decoded"]
    view = replay.replay(services.records, long)
    assert view is not None and view.version == 2 * every + 3
    assert replay.stats["events decoded"] - before == 3

    verified = dualtrack("snapshot-views", "--verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "ok: the view snapshots of 2 trainee(s) match their events"
    forge(services, long, every, "UPDATE rm_trainees SET specialty = 'forged'")
    found = dualtrack("snapshot-views", "--verify", env=env)
    assert found.returncode == 1
    assert found.stdout.splitlines() == [
        "FAILED: 1 view snapshot(s) hold rows or times their events do not give (delete "
        "them: they are derived data):", f"  - trainee {long} at version {every}"]

    refused = dualtrack("snapshot-views", "--trainee", "nobody", env=env)
    assert refused.returncode == 2 and "--trainee must be a trainee id" in refused.stderr
