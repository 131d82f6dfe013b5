"""agreements and clearance

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 02:03:38.699301
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_agreements")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreements_status"), ["status"], unique=False)

    op.create_table(
        "agreement_signatures",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("member", sa.String(length=800), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("signed_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id", "version"],
            ["agreements.id", "agreements.version"],
            name=op.f("fk_agreement_signatures_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agreement_id", "version", "member", name=op.f("pk_agreement_signatures")
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=64), nullable=False, server_default="message")
        )
        batch_op.add_column(sa.Column("agreement_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_messages_kind"), ["kind"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "clearance", sa.String(length=20), server_default="TLP:AMBER+STRICT", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("clearance")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_kind"))
        batch_op.drop_index(batch_op.f("ix_messages_agreement_id"))
        batch_op.drop_column("agreement_id")
        batch_op.drop_column("kind")

    op.drop_table("agreement_signatures")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_status"))

    op.drop_table("agreements")
