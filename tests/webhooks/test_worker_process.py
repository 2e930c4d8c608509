"""`dualtrack deliver` as a subprocess: killed with SIGKILL while a request is in flight,
restarted (on PostgreSQL as two workers at once), and nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from service.bootstrap import Services
from service.principals import system
from service.settings import Settings
from tests.test_cli import REPO, _env, dualtrack
from tests.webhooks.conftest import Writer, delivery_rows, endpoint_rows, projected_events
from tests.webhooks.receiver import HELD, Receiver

DEADLINE_SECONDS = 40


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "DUALTRACK_DATABASE_URL": settings.database_url,
        "DUALTRACK_SIGNING_KEY_FILE": settings.signing_key_file,
        "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file,
        "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
        "DUALTRACK_WEBHOOK_POLL_SECONDS": "0.1",
        "DUALTRACK_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
        "DUALTRACK_WEBHOOK_BACKOFF_CAP_SECONDS": "0.2",
        **extra,
    }


def start_worker(settings: Settings, log: Path, **extra: str) -> subprocess.Popen[Any]:
    with log.open("a") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "deliver"], cwd=REPO,
            env=_env(worker_env(settings, **extra)), stdout=output, stderr=subprocess.STDOUT,
        )


def wait_until(condition: Any, what: str, workers: list[subprocess.Popen[Any]],
               log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()}"
        for worker in workers:
            assert worker.poll() is None, log.read_text()
        time.sleep(0.05)


def test_a_worker_killed_mid_flight_loses_nothing_and_resends_with_the_same_id(
    services: Services, settings: Settings, writer: Writer, backend: str, tmp_path: Path
) -> None:
    log = tmp_path / "deliver.log"
    with Receiver(hold_request=6).serving() as receiver:
        endpoint, secret = services.webhooks.register(
            url=receiver.url, types=None, base_id=None, description=None,
            from_position=None, by=system("registry-admin"))
        receiver.secret = secret
        for n in range(3):
            writer.trainee(n, entries=1)
        worker = start_worker(settings, log, DUALTRACK_WEBHOOK_TIMEOUT_SECONDS="30")
        try:
            wait_until(receiver.holding.is_set, "the held request", [worker], log)
            [held] = [r for r in receiver.received if r.seq == 6]
            # In flight: sent, not acknowledged, not recorded; the cursor is before it.
            assert held.webhook_id not in {r["event_id"] for r in delivery_rows(services)}
            assert endpoint_rows(services)[0]["position"] < int(held.position)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=20)
        finally:
            if worker.poll() is None:
                worker.kill()
        writer.trainee(3, entries=1)  # written while no worker runs

        count = 2 if backend == "postgresql" else 1  # SQLite: one worker (see README)
        workers = [start_worker(settings, log) for _ in range(count)]
        try:
            wait_until(lambda: log.read_text().count("Ctrl-C stops") == 1 + count,
                       "the workers to start", workers, log)
            for n in range(4, 7):  # written while they run side by side
                writer.trainee(n, entries=1)
            events = projected_events(services)
            wanted = [e["event_id"] for e in events]

            def done() -> bool:
                rows = delivery_rows(services, endpoint.id)
                return [(r["event_id"], r["state"]) for r in rows] == [
                    (i, "DELIVERED") for i in wanted]

            wait_until(done, "every event delivered", workers, log)
            for running in workers:
                running.send_signal(signal.SIGTERM)
            for running in workers:
                assert running.wait(timeout=20) == 0, log.read_text()
        finally:
            for running in workers:
                if running.poll() is None:
                    running.kill()
        receiver.release.set()

    copies = receiver.by_id()
    assert set(copies) == set(wanted)
    assert receiver.acked() == set(wanted)
    # The in-flight event was sent again, with the same id and the same event; every other
    # event exactly once (the receiver never failed): two workers never sent one twice.
    assert [c.answer for c in copies[held.webhook_id]] == [HELD, "ok"]
    assert copies[held.webhook_id][0].body == copies[held.webhook_id][1].body
    assert all(len(c) == 1 for i, c in copies.items() if i != held.webhook_id)
    assert all(r.signature_ok for r in receiver.received)
    assert receiver.max_in_flight == 1
    order = {e["event_id"]: e["position"] for e in events}
    per_trainee: dict[str, list[int]] = {}
    for arrival in receiver.first_arrivals():
        per_trainee.setdefault(arrival.trainee_id, []).append(order[arrival.webhook_id])
    assert all(p == sorted(p) for p in per_trainee.values())


def test_deliver_once_delivers_what_is_due_and_exits(
    services: Services, settings: Settings, writer: Writer
) -> None:
    with Receiver().serving() as receiver:
        endpoint, receiver.secret = services.webhooks.register(
            url=receiver.url, types=["TraineeEnrolled"], base_id=None, description=None,
            from_position=None, by=system("registry-admin"))
        writer.trainee(1)
        result = dualtrack("deliver", "--once", env=worker_env(settings))
    assert result.returncode == 0, result.stderr
    assert "handled" in result.stderr
    [enrolled] = [e for e in projected_events(services) if e["type"] == "TraineeEnrolled"]
    assert [r.webhook_id for r in receiver.received] == [enrolled["event_id"]]
    assert [r["state"] for r in delivery_rows(services, endpoint.id)] == ["DELIVERED"]
