"""Messages (outbox and inbox), per-recipient deliveries and the receipts they earned.

Only the exact envelope is stored (in the blob store): it is encrypted to the recipients
and to the sender itself, so content is never kept in the clear at rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7 message id
    box: Mapped[str] = mapped_column(String(8), index=True)  # "outbox" or "inbox"
    conversation_id: Mapped[str] = mapped_column(String(36), index=True)
    sender: Mapped[str] = mapped_column(String(800), index=True)
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of member ids
    subject: Mapped[str] = mapped_column(String(500))
    classification: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(64), default="message", index=True)
    agreement_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # TLP:RED only: JSON list of the people (MEMBER/user/NAME) who alone may read it.
    readers: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Large payloads travel apart from the envelope as an age stream (the blob named here).
    bulk_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Inbox only: the receipt we signed, returned again for a repeated delivery.
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    recipient: Mapped[str] = mapped_column(String(800), primary_key=True)
    # queued -> sent -> delivered; or failed (refused for good) / expired (gave up)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)  # the recipient's JWS


class Transfer(Base):
    """Receiving side of a large payload: how many bytes of the age stream have arrived."""

    __tablename__ = "transfers"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(String(800))
    total: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
