"""trust: node keys, registry and directory

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:44:02.939368
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("registry_url", sa.String(length=500), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("added_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_anchors_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchors")),
    )
    op.create_table(
        "directory_copies",
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("issued_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("fetched_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_directory_copies")),
    )
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=800), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("node_url", sa.String(length=500), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")),
    )
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_join_requests_member_id"), ["member_id"], unique=False)

    op.create_table(
        "node_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("use", sa.String(length=8), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retire_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_node_keys")),
    )
    op.create_table(
        "registry_members",
        sa.Column("member_id", sa.String(length=800), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("node_url", sa.String(length=500), nullable=False),
        sa.Column("joined_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_registry_members")),
    )
    op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("issued_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed", sa.Text(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    op.create_table(
        "seen_nonces",
        sa.Column("keyid", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("keyid", "nonce", name=op.f("pk_seen_nonces")),
    )
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "trusted_instances",
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("registry_url", sa.String(length=500), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("trusted_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_trusted_instances")),
    )
    op.create_table(
        "registry_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=800), nullable=False),
        sa.Column("use", sa.String(length=8), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("not_before", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["registry_members.member_id"],
            name=op.f("fk_registry_keys_member_id_registry_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_registry_keys")),
    )
    with op.batch_alter_table("registry_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_keys_member_id"), ["member_id"], unique=False)

    op.create_table(
        "registry_subsystems",
        sa.Column("member_id", sa.String(length=800), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["registry_members.member_id"],
            name=op.f("fk_registry_subsystems_member_id_registry_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "code", name=op.f("pk_registry_subsystems")),
    )


def downgrade() -> None:

    op.drop_table("registry_subsystems")
    with op.batch_alter_table("registry_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_keys_member_id"))

    op.drop_table("registry_keys")
    op.drop_table("trusted_instances")
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_nonces_expires_at"))

    op.drop_table("seen_nonces")
    op.drop_table("registry_state")
    op.drop_table("registry_members")
    op.drop_table("node_keys")
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_join_requests_member_id"))

    op.drop_table("join_requests")
    op.drop_table("directory_copies")
    op.drop_table("anchors")
