"""Agreements as this node holds them: each version's signed terms, and the parties'
signatures and notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    terms: Mapped[str] = mapped_column(Text)  # the canonical JSON every party signs
    digest: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    parties: Mapped[str] = mapped_column(Text)  # JSON list, for listing without parsing
    # draft (ours, unsigned), proposed (signatures missing), active, suspended, revoked,
    # superseded (a later version became active)
    status: Mapped[str] = mapped_column(String(16), index=True)
    notice: Mapped[str | None] = mapped_column(Text, nullable=True)  # signed suspend/revoke
    # The parties' shared pseudonym key, sealed under this node's secret key.
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementSignature(Base):
    __tablename__ = "agreement_signatures"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agreement_id", "version"], ["agreements.id", "agreements.version"], ondelete="CASCADE"
        ),
    )

    agreement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    member: Mapped[str] = mapped_column(String(800), primary_key=True)
    jws: Mapped[str] = mapped_column(Text)  # the party's EdDSA JWS over the terms
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
