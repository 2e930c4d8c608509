"""`dualtrack import FILE` as a user runs it (a subprocess), on each backend: its report,
its exit status, projection afterwards, and a SIGKILL in the middle of a big file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from bench.province import write_cohort_file
from projections import tables as t
from service.bootstrap import Services
from service.settings import Settings
from tests.import_files import enrollment, short_trainee, write
from tests.test_cli import REPO, _env, dualtrack


def environment(settings: Settings) -> dict[str, str]:
    return {
        "DUALTRACK_DATABASE_URL": settings.database_url,
        "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file,
        "DUALTRACK_SIGNING_KEY_FILE": settings.signing_key_file,
        "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
        "DUALTRACK_SNAPSHOT_INTERVAL": str(settings.snapshot_interval),
    }


def stream_sizes(services: Services) -> Counter[UUID]:
    table = services.records.events_table
    with services.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.originator_id, sa.func.count()).group_by(table.c.originator_id)
        ).all()
    return Counter({UUID(str(stream)): count for stream, count in rows})


def test_a_clean_file_loads_projects_and_exits_0(services: Services, settings: Settings,
                                                 tmp_path: Path) -> None:
    path = write(tmp_path / "cohort.jsonl", *short_trainee("a"), *short_trainee("b"))
    result = dualtrack("import", str(path), env=environment(settings))
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith(f"{path}:")]
    assert f"imported {path}: 2 trainees loaded, 0 rejected, 10 events stored in" in (
        result.stdout)
    assert "projected 12 events in" in result.stdout  # and the two national-ID claims
    assert services.projector.position() == services.projector.head()
    with services.engine.connect() as connection:
        names = connection.execute(sa.select(t.trainees.c.name).order_by(t.trainees.c.name)
                                   ).scalars().all()
    assert names == ["Trainee a", "Trainee b"]


def test_a_bad_line_is_reported_and_the_import_exits_1(services: Services, settings: Settings,
                                                       tmp_path: Path) -> None:
    path = write(tmp_path / "cohort.jsonl", *short_trainee("a"),
                 enrollment("b", enrolledOn="2031-01-01"), *short_trainee("c"))
    result = dualtrack("import", str(path), "--no-project", env=environment(settings))
    assert result.returncode == 1, result.stderr
    refused, rejected = result.stdout.splitlines()[:2]
    assert refused.startswith(f"{path}:6: EnrollTrainee refused (BAD_USER_INPUT): enrolledOn "
                              "2031-01-01 is in the future (today is ")
    assert rejected == (f"{path}:6: trainee 'b' (line 6) rejected: 1 problem; none of its 1 "
                        "line stored")
    assert f"imported {path}: 2 trainees loaded, 1 rejected, 10 events stored" in result.stdout
    assert "projected" not in result.stdout
    assert services.projector.position() == 0 < services.projector.head()


def test_a_dry_run_stores_nothing(services: Services, settings: Settings,
                                  tmp_path: Path) -> None:
    path = write(tmp_path / "cohort.jsonl", *short_trainee("a"))
    result = dualtrack("import", str(path), "--dry-run", env=environment(settings))
    assert result.returncode == 0, result.stderr
    assert (f"checked {path} (dry run, nothing stored): 1 trainee would load, 0 rejected, "
            "5 events") in result.stdout
    assert services.projector.head() == 0


def test_a_file_that_cannot_be_read_is_one_line_and_exit_2(settings: Settings,
                                                           tmp_path: Path) -> None:
    result = dualtrack("import", str(tmp_path / "missing.jsonl"), env=environment(settings))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"dualtrack: error: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory"]


TRAINEES, EVENTS_EACH = 120, 100


def test_an_import_killed_midway_leaves_whole_trainees_and_a_rerun_completes_it(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "province.jsonl"
    write_cohort_file(path, TRAINEES, EVENTS_EACH)
    # One trainee per transaction, so that the kill falls between many commits.
    command = [sys.executable, "-m", "cli.main", "import", str(path), "--no-project",
               "--jobs", "1", "--batch-events", str(EVENTS_EACH)]
    importing = subprocess.Popen(command, cwd=REPO, env=_env(environment(settings)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while sum(stream_sizes(services).values()) < 2 * EVENTS_EACH:
            assert importing.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        importing.send_signal(signal.SIGKILL)
    finally:
        importing.wait(timeout=30)
    sizes = stream_sizes(services)
    trainees = [stream for stream, size in sizes.items() if size > 1]
    claims = [stream for stream, size in sizes.items() if size == 1]
    assert 2 <= len(trainees) < TRAINEES
    assert {sizes[stream] for stream in trainees} == {EVENTS_EACH}
    assert len(claims) == len(trainees)

    rerun = dualtrack("import", str(path), env=environment(settings), timeout=300)
    assert rerun.returncode == 1, rerun.stderr
    assert rerun.stdout.count("already enrolled (imported before)") == len(trainees)
    assert (f"{TRAINEES - len(trainees)} trainees loaded, {len(trainees)} rejected"
            in rerun.stdout)
    sizes = stream_sizes(services)
    assert sorted(sizes.values()) == [1] * TRAINEES + [EVENTS_EACH] * TRAINEES
    assert services.projector.position() == services.projector.head()
