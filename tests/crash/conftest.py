"""The seed of a crash test's random moments (printed, so a failure can be replayed),
and the private PostgreSQL server the crash tests may stop (tests.private_postgres)."""

from __future__ import annotations

import os
import random

import pytest

from tests.private_postgres import private_postgres  # noqa: F401 - the fixture

SEED_VARIABLE = "DUALTRACK_CRASH_SEED"


@pytest.fixture
def crash_seed(request: pytest.FixtureRequest) -> int:
    """Random unless DUALTRACK_CRASH_SEED names one; shown with a failing test's output."""
    chosen = os.environ.get(SEED_VARIABLE)
    seed = int(chosen) if chosen else random.SystemRandom().randrange(2**32)
    print(f"crash seed {seed}; replay with {SEED_VARIABLE}={seed} "
          f".venv/bin/pytest '{request.node.nodeid}'")
    return seed
