"""The benchmark runs end to end. It checks what it prints, never how fast anything was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFAULT_POSTGRES_URL, POSTGRES_URL_VARIABLE

REPO = Path(__file__).resolve().parents[1]
MEASURES = (
    "commands, 1 writer",
    "commands, 8 writers in process",
    "commands, 8 writers against our 1 writer",
    "handbook over HTTP",
    "record an entry over HTTP, 8 clients",
    "trainee, from its snapshot",
    "trainee, full replay",
    "trainee, cold, persisted snapshots",
    "trainee, cold, worst moment",
    "bulk import",
    "rebuild read models",
    "verify the whole log",
)


def test_the_quick_benchmark_prints_every_measure_with_its_ratio() -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick"], cwd=REPO, capture_output=True,
        text=True, timeout=300, env=os.environ | {"DUALTRACK_BENCH_POSTGRES_URL": server},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine:"), result.stdout
    headers = [line for line in lines if line.startswith("figure")]
    assert len(headers) == 1, result.stdout
    assert [cell.strip() for cell in headers[0].split(" | ")] == [
        "figure", "store", "dualtrack", "peer", "ratio", "machine"]
    rows = [line.split(" | ") for line in lines[lines.index(headers[0]) + 2:] if " | " in line]
    stores = sorted({int(row[1].replace(",", "")) for row in rows})
    assert len(stores) == 2 and stores[0] < stores[1], result.stdout  # two sizes of history
    for store in stores:
        for measure in MEASURES:
            assert any(measure in row[0] and int(row[1].replace(",", "")) == store
                       and row[4].strip().endswith("x") for row in rows), (measure, store)
    assert "Traceback" not in result.stderr
