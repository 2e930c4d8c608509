"""Tamper evidence: the integrity ledger, signed checkpoints, append-only evidence tables,
and business-versus-recorded time in the audit trail.

The ledger holds each stored event's chained hash and the nodes of the Merkle tree over
the whole log; checkpoints are signed tree heads. The event store and the ledger refuse
UPDATE, DELETE and TRUNCATE by trigger, so no correction can be made by editing a row:
only by recording a new event. (Whoever can drop a trigger can still edit a row; the
hashes and the signed checkpoints are what make that visible.)

The audit trail's hash now is the chained hash, so the read models are emptied with their
tracking record; the next projector run seals every stored event in the ledger, in log
order, and projects the audit trail again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(36)
HEX_HASH = sa.String(64)
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("dualtrack_events", "integrity_leaves", "integrity_nodes", "integrity_checkpoints")
READ_MODELS = (
    "rm_audit_events",
    "rm_certificates",
    "rm_academic_records",
    "rm_assessments",
    "rm_rotation_entries",
    "rm_rotations",
    "rm_tutor_assignments",
    "rm_trainees",
)


def upgrade() -> None:
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM projection_tracking")
    op.create_table(
        "integrity_leaves",
        sa.Column("leaf_index", SEQUENCE, primary_key=True, autoincrement=False),
        sa.Column("position", SEQUENCE, nullable=False, unique=True),
        sa.Column("originator_id", ID, nullable=False),
        sa.Column("originator_version", sa.Integer, nullable=False),
        sa.Column("event_hash", HEX_HASH, nullable=False),
        sa.UniqueConstraint("originator_id", "originator_version", name="integrity_leaves_stream"),
    )
    op.create_table(
        "integrity_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", SEQUENCE, primary_key=True, autoincrement=False),
        sa.Column("hash", HEX_HASH, nullable=False),
    )
    op.create_table(
        "integrity_checkpoints",
        sa.Column("tree_size", SEQUENCE, primary_key=True, autoincrement=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("root_hash", HEX_HASH, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", HEX_HASH, nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    with op.batch_alter_table("rm_trainees") as table:
        table.add_column(sa.Column("latest_fact_on", sa.Date))
    with op.batch_alter_table("rm_audit_events") as table:
        table.add_column(sa.Column("lag_days", sa.Integer))
        table.add_column(sa.Column("late", sa.Boolean, nullable=False))
        table.add_column(sa.Column("backdated", sa.Boolean, nullable=False))
        table.add_column(sa.Column("corrects_position", sa.BigInteger))
        table.add_column(sa.Column("corrected_by", sa.JSON, nullable=False))
    for table in APPEND_ONLY:
        _refuse_changes(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        _allow_changes(table)
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM projection_tracking")
    with op.batch_alter_table("rm_audit_events") as table:
        for column in ("corrected_by", "corrects_position", "backdated", "late", "lag_days"):
            table.drop_column(column)
    with op.batch_alter_table("rm_trainees") as table:
        table.drop_column("latest_fact_on")
    op.drop_table("integrity_checkpoints")
    op.drop_table("integrity_nodes")
    op.drop_table("integrity_leaves")
    if _dialect() == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS dualtrack_refuse_change()")


def _dialect() -> str:
    return str(op.get_bind().dialect.name)


def _refuse_changes(table: str) -> None:
    if _dialect() == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION dualtrack_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'dualtrack: % is append-only; % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION dualtrack_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION dualtrack_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'dualtrack: {table} is append-only; "
                f"{operation} refused'); END"
            )


def _allow_changes(table: str) -> None:
    if _dialect() == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
