"""The integrity ledger's tables (created by migration 0003; append-only by trigger).

Hashes are stored as lowercase hex so the rows read the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

HEX_HASH = sa.String(64)

# One row per stored event, in log order: leaf_index is its place in the Merkle tree.
leaves = sa.Table(
    "integrity_leaves",
    metadata,
    sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("originator_id", sa.String(36), nullable=False),
    sa.Column("originator_version", sa.Integer, nullable=False),
    sa.Column("event_hash", HEX_HASH, nullable=False),
)

# Every perfect, aligned subtree root: (level, idx) covers leaves [idx*2^level, (idx+1)*2^level).
nodes = sa.Table(
    "integrity_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", HEX_HASH, nullable=False),
)

checkpoints = sa.Table(
    "integrity_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("root_hash", HEX_HASH, nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("public_key", HEX_HASH, nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)
