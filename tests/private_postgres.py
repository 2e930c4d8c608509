"""A throwaway PostgreSQL server of a test's own, which the test may crash and restart
(`pg_ctl -m immediate stop`, then start) without touching the shared server the rest of
the suite and the benchmark use.

`initdb` into a fresh temporary directory, then `pg_ctl start` on a free loopback port
with the unix socket in that directory, fsync on (the default: a transaction committed
before an immediate stop must survive it). PostgreSQL refuses to run as root, so when the
tests run as root every server command runs as the `postgres` OS user, which then owns
the directory (created mode 700 outside pytest's own temporary directory, which that
user cannot enter). The server is stopped and the directory removed at the end, even
when the test fails.

    def test_x(private_postgres: PrivatePostgres) -> None:
        url = private_postgres.create_database("dualtrack")
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.servers import free_port

BIN_VARIABLE = "DUALTRACK_TEST_POSTGRES_BIN"
OS_USER = "postgres"
COMMAND_TIMEOUT = 60


def postgres_bin() -> Path:
    """The directory of initdb and pg_ctl: DUALTRACK_TEST_POSTGRES_BIN, else the newest
    Debian/Ubuntu install, else whatever initdb is on PATH."""
    named = os.environ.get(BIN_VARIABLE)
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                       key=lambda path: int(Path(path).parts[-3]))
    on_path = shutil.which("initdb")
    found = named or (str(Path(installed[-1]).parent) if installed else None) or (
        str(Path(on_path).parent) if on_path else None)
    if found is None or not (Path(found) / "initdb").exists():
        pytest.fail(f"the crash tests need PostgreSQL's initdb and pg_ctl: set {BIN_VARIABLE}")
    return Path(found)


class PrivatePostgres:
    def __init__(self, directory: Path, port: int):
        self.directory, self.port = directory, port
        self.data = directory / "data"
        self.log = directory / "server.log"
        self.bin = postgres_bin()

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-instructions")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(COMMAND_TIMEOUT), "start")

    def stop_immediately(self) -> None:
        """Stops the server the way a crash does: every backend quits at once, nothing is
        checkpointed, and the next start replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True, timeout=COMMAND_TIMEOUT,
        )
        return status.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates a database; returns its URL."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            self._as_owner(str(self.bin / program), *args),
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise AssertionError(f"{program} {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}{done.stderr}\n{log[-3000:]}")

    @staticmethod
    def _as_owner(*argv: str) -> list[str]:
        return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else list(argv)


@contextlib.contextmanager
def private_postgres_server() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="dualtrack-pg-"))
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OS_USER)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        directory.chmod(0o700)
        server = PrivatePostgres(directory, free_port())
        server.init()
        server.start()
        try:
            yield server
        finally:
            if server.running():
                server.stop_immediately()  # nothing in it is worth a clean shutdown
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres_server() as server:
        yield server
