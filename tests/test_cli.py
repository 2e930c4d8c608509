"""The `dualtrack` command line, run as a user runs it: as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from projections import tables as t
from service import bootstrap
from service.settings import Settings
from tests.history import enroll

REPO = Path(__file__).resolve().parents[1]


def dualtrack(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO,
        env=_env(env),
    )


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALTRACK_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense://x", "supports sqlite and postgresql"),
        ("postgresql://postgres@127.0.0.1:1/nothing", "database error"),
        ("::::", "not a database URL"),
    ],
)
def test_a_bad_or_unreachable_database_gives_one_line_and_no_traceback(url: str, says: str) -> None:
    result = dualtrack("migrate", env={"DUALTRACK_DATABASE_URL": url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stderr


def test_the_service_refuses_to_start_on_a_bad_regulations_file(tmp_path: Path) -> None:
    standards = tmp_path / "regulations" / "standards"
    standards.mkdir(parents=True)
    (standards / "ward.yaml").write_text(
        "specialty: ward medicine\nversions:\n  - version: '1'\n"
        "    effective_from: 2020-01-01\n    degree_category: CLINICAL_MEDICINE\n"
        "    total_months: thirty\n    departments: []\n", encoding="utf-8")
    result = dualtrack("serve", "--port", "1", env={
        "DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "DUALTRACK_REGULATIONS_DIR": str(tmp_path / "regulations"),
        "DUALTRACK_TOKEN_SECRET": "a-token-secret-for-this-test-" + "0123456789abcdef"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"dualtrack: error: {standards / 'ward.yaml'}:6: versions[0].total_months: "
        "must be a number, got 'thirty'"]


def test_an_unmigrated_database_is_named_with_the_fix(tmp_path: Path) -> None:
    result = dualtrack("rebuild", env={"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert "run `dualtrack migrate` first" in result.stderr


def test_schema_prints_the_served_sdl() -> None:
    result = dualtrack("schema")
    assert result.returncode == 0, result.stderr
    assert "type Query" in result.stdout
    assert "enrollTrainee(input: EnrollTraineeInput!): CommandResult!" in result.stdout


def test_migrate_without_a_url_creates_the_sqlite_file_under_var(tmp_path: Path) -> None:
    result = dualtrack("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "dualtrack.sqlite3").exists()


def test_rebuild_reports_events_per_second(services: bootstrap.Services,
                                           settings: Settings) -> None:
    enroll(services)
    result = dualtrack("rebuild", env={"DUALTRACK_DATABASE_URL": settings.database_url,
                                       "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file})
    assert result.returncode == 0, result.stderr
    assert "rebuilt read models from 2 events" in result.stderr
    assert "events/s" in result.stderr
    assert services.projector.position() == services.projector.head()


def test_the_worker_projects_what_another_process_wrote(services: bootstrap.Services,
                                                        settings: Settings,
                                                        tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "project"], cwd=REPO,
            env=_env({"DUALTRACK_DATABASE_URL": settings.database_url,
                      "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file}),
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        trainee_id = enroll(services)  # written here, without projecting it here
        head = services.projector.head()
        deadline = time.monotonic() + 30
        while services.projector.position() < head and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        assert services.projector.position() == head
        with services.engine.connect() as connection:
            names = connection.execute(
                sa.select(t.trainees.c.name).where(t.trainees.c.id == str(trainee_id))
            ).scalars().all()
        assert names == ["Li Lei"]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    assert worker.returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_first_command_serves_graphql_on_sqlite(tmp_path: Path) -> None:
    """`make serve` (development mode), then the README's token in GraphiQL's headers."""
    dev_mode = {"DUALTRACK_DEV_MODE": "1"}
    minted = dualtrack("token", "--role", "base_admin", "--role", "school_admin", "--subject",
                       "registrar", "--base", "base-1", "--university", "Peking University",
                       env=dev_mode, cwd=tmp_path)
    assert minted.returncode == 0, minted.stderr
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=tmp_path,
            env=_env(dev_mode), stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        query = {"query": "{ trainees { items { id } hasMore } }"}
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                answer = httpx.post(url, json=query, headers=headers)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
        assert answer.json() == {"data": {"trainees": {"items": [], "hasMore": False}}}
        anonymous = httpx.post(url, json=query).json()
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", anonymous
        graphiql = httpx.get(url, headers={"Accept": "text/html"})
        assert "graphiql" in graphiql.text.lower()
        assert (tmp_path / "var" / "dualtrack.sqlite3").exists()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
