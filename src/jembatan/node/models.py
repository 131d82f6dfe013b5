from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class NodeIdentity(Base):
    """The one row naming the member this node serves."""

    __tablename__ = "node"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    member_id: Mapped[str] = mapped_column(String(800))
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NodeKey(Base):
    """One of this node's key pairs; the private half sealed under the key passphrase."""

    __tablename__ = "node_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "node" or "registry"
    use: Mapped[str] = mapped_column(String(8))  # "sig" or "enc"
    public_jwk: Mapped[str] = mapped_column(Text)
    private_pem: Mapped[str] = mapped_column(Text)
    # pending: announced, not yet in the directory; active: in use; retiring: verifies only.
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
