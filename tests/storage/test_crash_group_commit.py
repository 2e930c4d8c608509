"""A writer process killed (SIGKILL) in the middle of group commits loses none of the
commands it acknowledged, and leaves no gap or duplicate in any stream."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from domain.events import RotationEntryRecorded
from service.bootstrap import Services
from service.settings import Settings
from tests.storage.test_group_commit import with_rotation

REPO = Path(__file__).resolve().parents[2]
KILLS = 3
ACKS_BEFORE_KILL = 40
READ_TIMEOUT = 30.0


def writer_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALTRACK_")}
    env.update(
        PYTHONPATH=str(REPO),
        DUALTRACK_DATABASE_URL=settings.database_url,
        DUALTRACK_CIPHER_KEY_FILE=settings.cipher_key_file,
        DUALTRACK_SIGNING_KEY_FILE=settings.signing_key_file,
        DUALTRACK_REGULATIONS_DIR=str(settings.regulations_dir),
        DUALTRACK_SNAPSHOT_INTERVAL=str(settings.snapshot_interval),
    )
    return env


def run_until_killed(settings: Settings, targets: list[str], seed: int) -> list[str]:
    """Starts the writer, lets it acknowledge some commands, kills it at a random moment
    after that, and returns every line it printed."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", *targets],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=writer_env(settings),
        cwd=REPO,
    )
    lines: list[str] = []
    deadline = time.monotonic() + READ_TIMEOUT
    try:
        assert writer.stdout is not None
        while sum(line.startswith("ACK") for line in lines) < ACKS_BEFORE_KILL:
            assert time.monotonic() < deadline, f"the writer acknowledged too little: {lines}"
            line = writer.stdout.readline()
            if not line:
                raise AssertionError(f"the writer stopped: {writer.stderr.read()}")  # type: ignore[union-attr]
            lines.append(line.strip())
        time.sleep(random.Random(seed).uniform(0.0, 0.05))
    finally:
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=READ_TIMEOUT)
    return lines + rest.splitlines()


def test_a_killed_writer_loses_no_acknowledged_command(
    services: Services, settings: Settings
) -> None:
    trainees = [with_rotation(services, f"11010119990103{n:04d}") for n in range(3)]
    targets = [f"{trainee}:{rotation}" for trainee, rotation in trainees]
    acknowledged: list[str] = []
    for kill in range(KILLS):
        printed = run_until_killed(settings, targets, seed=kill)
        acknowledged += [line.split()[1] for line in printed if line.startswith("ACK ")]
    stored: list[str] = []
    for trainee, _ in trainees:
        events = list(services.records.events.get(trainee))
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        stored += [str(e.entry_id) for e in events if isinstance(e, RotationEntryRecorded)]
    assert len(acknowledged) >= KILLS * ACKS_BEFORE_KILL
    assert len(stored) == len(set(stored))  # nothing twice
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged commands were lost"
    table = services.records.events_table
    with services.engine.connect() as connection:
        ids = connection.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
    assert len(ids) == len(set(ids))
