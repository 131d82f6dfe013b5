"""health surveillance

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 06:57:35.856447
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=800), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fhir_ids", sa.Text(), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("agreement_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_health_reports_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_health_reports_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_reports")),
        sa.UniqueConstraint("message_id", name=op.f("uq_health_reports_message_id")),
    )
    with op.batch_alter_table("health_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_reports_member"), ["member"], unique=False)

    op.create_table(
        "health_signals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=800), nullable=False),
        sa.Column("disease", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=900), nullable=True),
        sa.Column("reviewed_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("sent", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_health_signals_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_signals")),
        sa.UniqueConstraint("message_id", name=op.f("uq_health_signals_message_id")),
    )
    with op.batch_alter_table("health_signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_signals_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_health_signals_week",
            ["member", "disease", "area", "period", "method"],
            unique=True,
        )

    op.create_table(
        "health_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=800), nullable=False),
        sa.Column("disease", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["health_reports.id"],
            name=op.f("fk_health_counts_report_id_health_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_counts")),
    )
    with op.batch_alter_table("health_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_counts_report_id"), ["report_id"], unique=False)
        batch_op.create_index(
            "ix_health_counts_series",
            ["member", "disease", "area", "current", "period"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("health_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_health_counts_series")
        batch_op.drop_index(batch_op.f("ix_health_counts_report_id"))

    op.drop_table("health_counts")
    with op.batch_alter_table("health_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_health_signals_week")
        batch_op.drop_index(batch_op.f("ix_health_signals_status"))

    op.drop_table("health_signals")
    with op.batch_alter_table("health_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_reports_member"))

    op.drop_table("health_reports")
