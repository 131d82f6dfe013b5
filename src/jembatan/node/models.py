from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
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
