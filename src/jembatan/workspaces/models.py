"""Workspaces as this node holds them: the signed events (the truth), the state folded
from them (a cache, rebuilt from the events at any time), the files their documents
point to (encrypted at rest), and what it told its users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str] = mapped_column(String(800), default="")
    classification: Mapped[str] = mapped_column(String(20), default="TLP:AMBER")
    state: Mapped[str] = mapped_column(Text, default="{}")  # JSON, folded from the events
    state_hash: Mapped[str] = mapped_column(String(64), default="")
    heads: Mapped[str] = mapped_column(Text, default="[]")  # JSON event ids
    events: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int] = mapped_column(Integer, default=0)  # events missing a parent
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkspaceEvent(Base):
    __tablename__ = "workspace_events"
    __table_args__ = (Index("ix_workspace_events_order", "workspace_id", "clock"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(800))
    user: Mapped[str] = mapped_column(String(120))
    clock: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(Text)  # the compact JWS as signed by its author
    # "applied", "rejected" (kept, changes nothing) or "waiting" (a parent is missing)
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    via: Mapped[str | None] = mapped_column(String(36), nullable=True)  # message it came in
    # Ours not yet handed to the exchange for the other members (sent by `flush`).
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkspaceFile(Base):
    """The bytes of a document version: an age stream encrypted to this node's keys."""

    __tablename__ = "workspace_files"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)  # of the plain bytes
    size: Mapped[int] = mapped_column(BigInteger)
    blob_sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")  # extracted for search
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkspaceIntake(Base):
    """Inbox messages of kind workspace:ID already taken in, and what came of them."""

    __tablename__ = "workspace_intake"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    __tablename__ = "workspace_notifications"
    __table_args__ = (Index("ix_workspace_notifications_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20))  # "mention" or "assigned"
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # E-mail: sent, given up (no address, or too many failures), or still to try.
    mailed: Mapped[str | None] = mapped_column(String(10), nullable=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)


class WorkspaceText(Base):
    """What search finds: one row per document, comment, task, milestone or decision,
    rebuilt from the state whenever it changes. Indexed by SQLite FTS5 (the table
    workspace_texts_fts) or a PostgreSQL tsvector column, both made by the migration."""

    __tablename__ = "workspace_texts"
    __table_args__ = (Index("ix_workspace_texts_workspace", "workspace_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # document, comment, task, milestone, decision
    ref: Mapped[str] = mapped_column(String(64))  # its id in the workspace's state
    classification: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")


class Webhook(Base):
    """An agency system told of every new event of one workspace, by signed HTTP POST
    (Standard Webhooks); set up at this node by the workspace's owners here."""

    __tablename__ = "workspace_webhooks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(Text)  # sealed under the node's secret key
    created_by: Mapped[str] = mapped_column(String(900))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "workspace_webhook_deliveries"
    __table_args__ = (Index("ix_workspace_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the webhook-id header
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("workspace_webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
