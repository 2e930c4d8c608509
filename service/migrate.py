"""Runs the Alembic migrations from inside the application (`dualtrack migrate`)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from service.settings import Settings

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.attributes["database_url"] = settings.database_url
    return config


def upgrade(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")


@functools.cache
def revisions() -> tuple[str, frozenset[str]]:
    """This code's head revision, and every revision it knows (read once per process)."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIRECTORY))
    head = scripts.get_current_head()
    assert head is not None, "the migrations have no head"
    return head, frozenset(script.revision for script in scripts.walk_revisions())
