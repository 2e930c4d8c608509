"""Alembic migrations. They own every table: the event store's and the read models'."""
