"""service gateway, and named readers of TLP:RED messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 04:08:13.363663
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jembatan.store.schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_calls",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("xroad_id", sa.String(length=255), nullable=False),
        sa.Column("client", sa.String(length=800), nullable=False),
        sa.Column("service", sa.String(length=800), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("agreement_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("issue", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=100), nullable=True),
        sa.Column("response_hash", sa.String(length=100), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("started_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "role", name=op.f("pk_gateway_calls")),
    )
    with op.batch_alter_table("gateway_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_calls_client"), ["client"], unique=False)
        batch_op.create_index(batch_op.f("ix_gateway_calls_service"), ["service"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_gateway_calls_started_at"), ["started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gateway_calls_xroad_id"), ["xroad_id"], unique=False)

    op.create_table(
        "gateway_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subsystem", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("openapi", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_services")),
        sa.UniqueConstraint("subsystem", "code", name="one_code_per_subsystem"),
    )
    op.create_table(
        "gateway_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["gateway_services.id"],
            name=op.f("fk_gateway_endpoints_service_id_gateway_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_endpoints")),
        sa.UniqueConstraint("service_id", "method", "path", name="one_endpoint"),
    )
    with op.batch_alter_table("gateway_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_endpoints_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "registry_services",
        sa.Column("member_id", sa.String(length=800), nullable=False),
        sa.Column("subsystem", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["registry_members.member_id"],
            name=op.f("fk_registry_services_member_id_registry_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "subsystem", "code", name=op.f("pk_registry_services")
        ),
    )
    op.create_table(
        "gateway_access_rights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("client", sa.String(length=800), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_at", jembatan.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway_endpoints.id"],
            name=op.f("fk_gateway_access_rights_endpoint_id_gateway_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["gateway_services.id"],
            name=op.f("fk_gateway_access_rights_service_id_gateway_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_access_rights")),
        sa.UniqueConstraint("service_id", "endpoint_id", "client", name="one_right"),
    )
    with op.batch_alter_table("gateway_access_rights", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_access_rights_service_id"), ["service_id"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("readers")
    with op.batch_alter_table("gateway_access_rights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_access_rights_service_id"))

    op.drop_table("gateway_access_rights")
    op.drop_table("registry_services")
    with op.batch_alter_table("gateway_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_endpoints_service_id"))

    op.drop_table("gateway_endpoints")
    op.drop_table("gateway_services")
    with op.batch_alter_table("gateway_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_calls_xroad_id"))
        batch_op.drop_index(batch_op.f("ix_gateway_calls_started_at"))
        batch_op.drop_index(batch_op.f("ix_gateway_calls_service"))
        batch_op.drop_index(batch_op.f("ix_gateway_calls_client"))

    op.drop_table("gateway_calls")
