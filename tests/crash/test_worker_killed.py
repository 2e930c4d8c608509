"""Worker projection mode: `dualtrack project` is killed with SIGKILL at random moments
while four clients record entries over HTTP, three times, and `dualtrack serve` once in
between, each restarted at once (on SQLite and on PostgreSQL). Every acknowledged command
is in the log exactly once, and the read models the workers (and the server, whenever it
found the worker behind) projected in turns equal a clean rebuild.

(test_server_killed kills the server three times; here once is enough to show that a
server in worker mode, which projects nothing at start, loses nothing either.)"""

from __future__ import annotations

import dataclasses
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
ACKS_PER_PHASE = 10
ACKS_WITHIN = 20.0
KILL_WINDOW_SECONDS = 0.5


def test_a_killed_worker_and_server_lose_nothing_and_project_like_a_rebuild(
    services: Services, settings: Settings, tmp_path: Path, crash_seed: int
) -> None:
    moments = random.Random(crash_seed)
    settings = dataclasses.replace(settings, projection_mode="worker")
    targets = enrolled_targets(services, settings, TRAINEES)
    with Processes(settings, tmp_path / "processes.log") as processes:
        server, worker = processes.server, processes.worker

        def both_running() -> None:
            server.assert_running()
            worker.assert_running()

        worker.start()
        server.start()
        load = Load(server.url, targets, CLIENTS, tag=f"seed {crash_seed}").start()
        try:
            for child in (worker, worker, server, worker):
                load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, both_running)
                time.sleep(moments.uniform(0, KILL_WINDOW_SECONDS))
                child.kill()
                load.next_phase()
                child.start()
            load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, both_running)
        finally:
            load.stop()
        wait_until_projected(services, worker.assert_running)
    outcome = assert_log_holds_every_ack_once(services, load)
    assert_read_models_equal_a_rebuild(services)
    print(f"seed {crash_seed}: {outcome}")
