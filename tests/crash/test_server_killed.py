"""`dualtrack serve` (inline projection) killed with SIGKILL at random moments while four
clients record entries over HTTP, three times, and restarted each time (on SQLite and on
PostgreSQL): every acknowledged command is in the log exactly once, at the position it
was acknowledged with, streams have no gap or repeat, and the read models the restarted
servers projected equal a clean rebuild."""

from __future__ import annotations

import random
import time
from pathlib import Path

from service.bootstrap import Services
from service.settings import Settings
from tests.crash.checks import (
    assert_log_holds_every_ack_once,
    assert_read_models_equal_a_rebuild,
    wait_until_projected,
)
from tests.crash.load import Load, enrolled_targets
from tests.crash.processes import Processes

CLIENTS = 4
TRAINEES = 3
KILLS = 3
ACKS_PER_PHASE = 10
ACKS_WITHIN = 20.0
# The kill comes at a random moment this long after the phase's first acknowledgements.
KILL_WINDOW_SECONDS = 0.5


def test_a_killed_server_loses_no_acknowledged_command(
    services: Services, settings: Settings, tmp_path: Path, crash_seed: int
) -> None:
    moments = random.Random(crash_seed)
    targets = enrolled_targets(services, settings, TRAINEES)
    with Processes(settings, tmp_path / "processes.log") as processes:
        server = processes.server
        server.start()
        load = Load(server.url, targets, CLIENTS, tag=f"seed {crash_seed}").start()
        try:
            for _ in range(KILLS):
                load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, server.assert_running)
                time.sleep(moments.uniform(0, KILL_WINDOW_SECONDS))
                server.kill()
                load.next_phase()
                server.start()  # projects what the killed one committed but had not
            load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, server.assert_running)
        finally:
            load.stop()
        wait_until_projected(services, server.assert_running)
    outcome = assert_log_holds_every_ack_once(services, load)
    assert_read_models_equal_a_rebuild(services)
    print(f"seed {crash_seed}: {outcome}")
