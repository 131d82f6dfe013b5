"""exchange: messages, deliveries, transfers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:07:52.339527
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "transfers",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=800), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_transfers")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("box", sa.String(length=8), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=800), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("bulk_sha256", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_messages_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_box"), ["box"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_messages_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_messages_sender"), ["sender"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=800), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_until", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_deliveries_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "recipient", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")

    op.drop_table("deliveries")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_sender"))
        batch_op.drop_index(batch_op.f("ix_messages_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_messages_box"))

    op.drop_table("messages")
    op.drop_table("transfers")
