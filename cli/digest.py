"""`dualtrack digest`: prints a digest of every read-model table (service.read_model_digest).

Equal digests at the same position mean equal rows. An operator compares the digest of
a restored database with the one taken before the backup, or the digest of the live read
models with the one after `dualtrack rebuild`. Needs no keys: it reads rows, not events.
"""

from __future__ import annotations

import argparse
from typing import Any

import sqlalchemy as sa

from projections.tables import trainees
from service import positions
from service.read_model_digest import read_model_digest
from service.settings import ConfigurationError, Settings


def digest(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            migrated = sa.inspect(connection).has_table(trainees.name)
        if not migrated:
            raise ConfigurationError(
                f"the database {settings.describe_database()} has no dualtrack tables; "
                "run `dualtrack migrate` first"
            )
        taken = read_model_digest(engine)
    finally:
        engine.dispose()
    for name, table in taken.tables.items():
        print(f"{name:<22} {table.rows:>10} rows  sha256:{table.sha256}")
    print(f"read models at position {positions.encode(taken.position)}  sha256:{taken.sha256}")


def add_commands(commands: Any) -> None:
    commands.add_parser(
        "digest", help="print a sha256 of every read-model table, to compare with a rebuild "
        "or a restore"
    ).set_defaults(run=digest)
