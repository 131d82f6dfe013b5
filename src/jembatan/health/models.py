"""Surveillance reports (imported here or received from partners), the weekly counts they
carry as time series with every version kept, and the signals detection raises."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class Report(Base):
    """One file of counts: imported by an officer, or received from a partner (then it is
    derived from the inbox message and goes when that message is purged)."""

    __tablename__ = "health_reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7
    member: Mapped[str] = mapped_column(String(800), index=True)  # whose counts these are
    source: Mapped[str] = mapped_column(String(10))  # "import" or "received"
    format: Mapped[str] = mapped_column(String(10))  # "fhir" or "csv"
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the file as given
    fhir_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the reports it held
    classification: Mapped[str] = mapped_column(String(20))
    observations: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)  # counts that were new or corrected
    # A partner's file we could not accept: why (JSON problems); it then holds no counts.
    problems: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    agreement_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class Count(Base):
    """Cases of one disease in one area in one ISO week, as one member reported them.
    A correction adds the next version and retires the one before (history stays)."""

    __tablename__ = "health_counts"
    __table_args__ = (
        Index("ix_health_counts_series", "member", "disease", "area", "current", "period"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    report_id: Mapped[str] = mapped_column(
        ForeignKey("health_reports.id", ondelete="CASCADE"), index=True
    )
    member: Mapped[str] = mapped_column(String(800))
    disease: Mapped[str] = mapped_column(String(16))  # ICD-10
    area: Mapped[str] = mapped_column(String(16))  # ISO 3166-2 (or 3166-1 for a country)
    period: Mapped[str] = mapped_column(String(8))  # ISO week, 2024-W05
    count: Mapped[int] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(default=True)


class Signal(Base):
    """An alarm for one week of one series, waiting for an officer's review; or a
    partner's confirmed signal that reached us (status "received")."""

    __tablename__ = "health_signals"
    __table_args__ = (
        # One signal per series, week and method, even when two runs race.
        Index(
            "ix_health_signals_week", "member", "disease", "area", "period", "method", unique=True
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7
    member: Mapped[str] = mapped_column(String(800))  # whose series alarmed
    disease: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(8))
    method: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # open -> confirmed | dismissed; "received" for a partner's confirmed signal
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(900), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A partner's signal: the message it came in (it goes when that message is purged).
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    sent: Mapped[str] = mapped_column(Text, default="{}")  # ours, confirmed: {member: message}
