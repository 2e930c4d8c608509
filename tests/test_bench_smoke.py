"""The benchmark runs end to end. It asserts what it prints, never how fast anything was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFAULT_POSTGRES_URL, POSTGRES_URL_VARIABLE

REPO = Path(__file__).resolve().parents[1]


def test_the_quick_benchmark_prints_every_measure_with_its_ratio() -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick"], cwd=REPO, capture_output=True,
        text=True, timeout=180, env=os.environ | {"DUALTRACK_BENCH_POSTGRES_URL": server},
    )
    assert result.returncode == 0, result.stderr
    for measure in ("single-command append", "bulk import of a cohort",
                    "trainee, snapshots", "handbook query over HTTP p50",
                    "handbook query over HTTP p99"):
        assert measure in result.stdout
    assert "ratio" in result.stdout.splitlines()[1]
    assert result.stdout.startswith("machine:")
