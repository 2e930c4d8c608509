"""`dualtrack serve` and `dualtrack project` as subprocesses, started the way an operator
(or a supervisor) starts them, killed with SIGKILL by the crash tests.

Every process a test starts is registered with its `Processes`, which kills them all on
exit, whatever happened; each start and each kill is bounded by a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from service.settings import Settings
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
START_WITHIN = 30.0
EXIT_WITHIN = 10.0


def dualtrack_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `dualtrack` subprocess the test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALTRACK_")}
    env.update(
        PYTHONPATH=str(REPO),
        DUALTRACK_DATABASE_URL=settings.database_url,
        DUALTRACK_PROJECTION_MODE=settings.projection_mode,
        DUALTRACK_CIPHER_KEY_FILE=settings.cipher_key_file,
        DUALTRACK_SIGNING_KEY_FILE=settings.signing_key_file,
        DUALTRACK_REGULATIONS_DIR=str(settings.regulations_dir),
        DUALTRACK_SNAPSHOT_INTERVAL=str(settings.snapshot_interval),
        DUALTRACK_TOKEN_SECRET=str(settings.token_secret),
    )
    return env


class Child:
    """One `dualtrack` command, started again after each kill; output appended to `log`."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name, self.args, self.env, self.log = name, args, env, log
        self.process: subprocess.Popen[Any] | None = None
        self.starts = 0

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self.log.open("a") as output:
            output.write(f"--- {self.name} start {self.starts}\n")
            output.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *self.args], cwd=REPO, env=self.env,
                stdout=output, stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exited(self) -> bool:
        """Whether it was started and has ended by itself (not killed by the test)."""
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=EXIT_WITHIN)
        self.process = None

    def assert_running(self) -> None:
        if not self.running():
            raise AssertionError(f"{self.name} exited unexpectedly:\n{tail(self.log)}")


class Server(Child):
    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()  # kept across restarts: the clients keep their URL
        super().__init__(
            "server", ["serve", "--no-migrate", "--port", str(self.port)], env, log
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the server and returns once it answers /health."""
        super().start()
        deadline = time.monotonic() + START_WITHIN
        while True:
            self.assert_running()
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{tail(self.log)}"
            time.sleep(0.05)


class Processes:
    """The server and the projection worker of one test, always killed on exit."""

    def __init__(self, settings: Settings, log: Path):
        env = dualtrack_env(settings)
        self.log = log
        self.server = Server(env, log)
        self.worker = Child("worker", ["project"], env, log)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for child in (self.server, self.worker):
            child.kill()


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
