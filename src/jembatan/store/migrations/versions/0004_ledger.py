"""ledger: entries, tiles, checkpoints, witnessing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:00:52.727931
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer", sa.String(length=800), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("seen_note", sa.Text(), nullable=False),
        sa.Column("new_note", sa.Text(), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.Column("raised_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_alerts")),
    )
    with op.batch_alter_table("ledger_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_alerts_peer"), ["peer"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_alerts_raised_at"), ["raised_at"], unique=False)

    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("issued_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoints")),
    )
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_checkpoints_issued_at"), ["issued_at"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("time", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=800), nullable=False),
        sa.Column("subject", sa.String(length=800), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_time"), ["time"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_type"), ["type"], unique=False)

    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("tile_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "tile_index", name=op.f("pk_ledger_tiles")),
    )
    op.create_table(
        "ledger_tree",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_tree")),
    )
    op.create_table(
        "ledger_witnessed",
        sa.Column("peer", sa.String(length=800), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("checked_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("peer", name=op.f("pk_ledger_witnessed")),
    )
    op.create_table(
        "ledger_cosignatures",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=800), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("signed_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"],
            ["ledger_checkpoints.size"],
            name=op.f("fk_ledger_cosignatures_size_ledger_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_ledger_cosignatures")),
    )
    # The single rows that number entries and track the tree.
    op.execute("INSERT INTO ledger_head (id, size) VALUES (1, 0)")
    op.execute("INSERT INTO ledger_tree (id, size) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("ledger_cosignatures")
    op.drop_table("ledger_witnessed")
    op.drop_table("ledger_tree")
    op.drop_table("ledger_tiles")
    op.drop_table("ledger_head")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_type"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_time"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_subject"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_actor"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_checkpoints_issued_at"))

    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("ledger_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_alerts_raised_at"))
        batch_op.drop_index(batch_op.f("ix_ledger_alerts_peer"))

    op.drop_table("ledger_alerts")
