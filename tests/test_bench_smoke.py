"""The benchmark runs end to end. It checks what it prints, never how fast anything was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFAULT_POSTGRES_URL, POSTGRES_URL_VARIABLE

REPO = Path(__file__).resolve().parents[1]
MEASURES = (
    "single-command append",
    "bulk import of a cohort",
    "trainee, snapshots",
    "trainee, full replay",
    "handbook query over HTTP p50",
    "handbook query over HTTP p99",
    "trainee, cold",
    "trainee, another moment",
    "trainee, warm",
    "verify the whole log",
)


def test_the_quick_benchmark_prints_every_measure_with_its_ratio() -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick"], cwd=REPO, capture_output=True,
        text=True, timeout=180, env=os.environ | {"DUALTRACK_BENCH_POSTGRES_URL": server},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine:"), result.stdout
    headers = [line for line in lines if line.startswith("measure")]
    assert len(headers) == 1 and "ratio" in headers[0], result.stdout
    rows = [line for line in lines[lines.index(headers[0]) + 2:] if " | " in line]
    for measure in MEASURES:
        assert any(measure in row.split(" | ")[0] for row in rows), (measure, result.stdout)
    assert "Traceback" not in result.stderr
