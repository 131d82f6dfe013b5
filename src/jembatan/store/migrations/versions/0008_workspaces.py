"""workspaces

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:52:42.215983
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=800), nullable=False),
        sa.Column("user", sa.String(length=120), nullable=False),
        sa.Column("clock", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=20), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("via", sa.String(length=36), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("received_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_events")),
    )
    with op.batch_alter_table("workspace_events", schema=None) as batch_op:
        batch_op.create_index("ix_workspace_events_order", ["workspace_id", "clock"], unique=False)

    op.create_table(
        "workspace_files",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("stored_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "sha256", name=op.f("pk_workspace_files")),
    )
    op.create_table(
        "workspace_texts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_texts")),
    )
    with op.batch_alter_table("workspace_texts", schema=None) as batch_op:
        batch_op.create_index("ix_workspace_texts_workspace", ["workspace_id"], unique=False)

    _search_index()

    op.create_table(
        "workspace_webhooks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=900), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_webhooks")),
    )
    with op.batch_alter_table("workspace_webhooks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workspace_webhooks_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=800), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("updated_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "workspace_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mailed", sa.String(length=10), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_workspace_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_notifications")),
    )
    with op.batch_alter_table("workspace_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workspace_notifications_user", ["user_id", "read_at"], unique=False
        )

    op.create_table(
        "workspace_webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "webhook_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["workspace_webhooks.id"],
            name=op.f("fk_workspace_webhook_deliveries_webhook_id_workspace_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_webhook_deliveries")),
    )
    with op.batch_alter_table("workspace_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workspace_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_workspace_webhook_deliveries_webhook_id"), ["webhook_id"], unique=False
        )

    op.create_table(
        "workspace_intake",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_workspace_intake_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_workspace_intake")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")

    op.drop_table("workspace_intake")
    with op.batch_alter_table("workspace_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspace_webhook_deliveries_webhook_id"))
        batch_op.drop_index("ix_workspace_webhook_deliveries_due")

    op.drop_table("workspace_webhook_deliveries")
    with op.batch_alter_table("workspace_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_workspace_notifications_user")

    op.drop_table("workspace_notifications")
    op.drop_table("workspaces")
    with op.batch_alter_table("workspace_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspace_webhooks_workspace_id"))

    op.drop_table("workspace_webhooks")
    with op.batch_alter_table("workspace_texts", schema=None) as batch_op:
        batch_op.drop_index("ix_workspace_texts_workspace")

    op.drop_table("workspace_texts")
    op.drop_table("workspace_files")
    with op.batch_alter_table("workspace_events", schema=None) as batch_op:
        batch_op.drop_index("ix_workspace_events_order")

    op.drop_table("workspace_events")


def _search_index() -> None:
    """Full-text search: SQLite's FTS5 over the table (kept in step by triggers), or a
    PostgreSQL tsvector column with a GIN index. 'simple' and unicode61 do not stem, so
    English and Bahasa Indonesia are matched alike."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE workspace_texts ADD COLUMN search tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, ''))) STORED"
        )
        op.execute("CREATE INDEX ix_workspace_texts_search ON workspace_texts USING gin (search)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE workspace_texts_fts USING fts5(title, body, "
        "content='workspace_texts', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER workspace_texts_ai AFTER INSERT ON workspace_texts BEGIN "
        "INSERT INTO workspace_texts_fts(rowid, title, body) VALUES (new.id, new.title, new.body); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER workspace_texts_ad AFTER DELETE ON workspace_texts BEGIN "
        "INSERT INTO workspace_texts_fts(workspace_texts_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); END"
    )


def _drop_search_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_workspace_texts_search")
        return
    op.execute("DROP TRIGGER IF EXISTS workspace_texts_ai")
    op.execute("DROP TRIGGER IF EXISTS workspace_texts_ad")
    op.execute("DROP TABLE IF EXISTS workspace_texts_fts")
