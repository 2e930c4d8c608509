"""Runs the Alembic migrations from inside the application (`dualtrack migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from service.settings import Settings

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.attributes["database_url"] = settings.database_url
    return config


def upgrade(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")
