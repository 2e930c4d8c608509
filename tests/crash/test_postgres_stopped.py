"""PostgreSQL itself crashes (`pg_ctl -m immediate stop`) while four clients record
entries over HTTP through `dualtrack serve`, and is started again, twice, on a private
server of the test's own; in inline projection mode, and in worker mode beside
`dualtrack project`. The same server and worker processes go on once the database is back
(neither is restarted here). Every acknowledged command is in the log exactly once afterwards,
and the read models equal a clean rebuild."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path

import pytest

from service import bootstrap, migrate
from service.settings import Settings
from tests.conftest import PROGRAMME_REGULATIONS, TEST_TOKEN_SECRET
from tests.crash.checks import (
    assert_log_holds_every_ack_once,
    assert_read_models_equal_a_rebuild,
    wait_until_projected,
)
from tests.crash.load import Load, enrolled_targets
from tests.crash.processes import Processes
from tests.private_postgres import PrivatePostgres

CLIENTS = 4
TRAINEES = 3
STOPS = 2
ACKS_PER_PHASE = 10
ACKS_WITHIN = 20.0
STOP_WINDOW_SECONDS = 0.5
# How long PostgreSQL stays down, at random within this, while the clients keep sending.
DOWN_SECONDS = (0.2, 1.0)


@pytest.fixture
def private_settings(
    private_postgres: PrivatePostgres, signing_key_file: str, cipher_key_file: str
) -> Settings:
    """The tests' settings (keys, regulations, tokens) on a database of the private server."""
    url = private_postgres.create_database("dualtrack")
    migrate.upgrade(Settings(database_url=url))
    return Settings(
        database_url=url, snapshot_interval=10,
        regulations_dir=str(PROGRAMME_REGULATIONS), signing_key_file=signing_key_file,
        cipher_key_file=cipher_key_file, token_secret=TEST_TOKEN_SECRET,
    )


@pytest.mark.parametrize("mode", ["inline", "worker"])
def test_postgres_stopped_immediately_under_load_loses_no_acknowledged_command(
    private_postgres: PrivatePostgres, private_settings: Settings, tmp_path: Path,
    crash_seed: int, mode: str,
) -> None:
    moments = random.Random(crash_seed)
    settings = dataclasses.replace(private_settings, projection_mode=mode)
    setup = bootstrap.build(settings)
    try:
        targets = enrolled_targets(setup, settings, TRAINEES)
    finally:
        setup.close()  # its connections would not survive the crashes
    with Processes(settings, tmp_path / "processes.log") as processes:
        server, worker = processes.server, processes.worker

        def supervise() -> None:
            """Neither process may die of the outage: the server answers UNAVAILABLE
            meanwhile, and the worker waits and goes on by itself (cli.main.project)."""
            server.assert_running()
            if mode == "worker":
                worker.assert_running()

        if mode == "worker":
            worker.start()
        server.start()
        load = Load(server.url, targets, CLIENTS, tag=f"seed {crash_seed}").start()
        try:
            for _ in range(STOPS):
                load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, supervise)
                time.sleep(moments.uniform(0, STOP_WINDOW_SECONDS))
                private_postgres.stop_immediately()
                load.next_phase()
                time.sleep(moments.uniform(*DOWN_SECONDS))
                private_postgres.start()
                load.wait_for_acks(ACKS_PER_PHASE, ACKS_WITHIN, supervise)
        finally:
            load.stop()
        services = bootstrap.build(settings)
        try:
            wait_until_projected(services, supervise)
            outcome = assert_log_holds_every_ack_once(services, load)
            assert_read_models_equal_a_rebuild(services)
        finally:
            services.close()
    print(f"seed {crash_seed}: {outcome}; neither process was restarted")
