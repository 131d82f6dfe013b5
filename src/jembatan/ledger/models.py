"""Ledger tables: entries, the tiles of the Merkle tree, checkpoints and cosignatures, and
what this node saw of its peers' logs as a witness."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class LedgerHead(Base):
    """One row: how many entries exist. Appending updates it first, so appends are
    numbered in commit order (the row lock serialises them until commit)."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTree(Base):
    """One row: how many entries are hashed into the tiles. Integration claims it."""

    __tablename__ = "ledger_tree"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(800), index=True)
    subject: Mapped[str] = mapped_column(String(800), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # the exact canonical JSON that is hashed


class LedgerTile(Base):
    """Up to 256 consecutive node hashes of tree level 8 * level (C2SP tlog-tiles layout):
    any proof needs O(log n) of these rows."""

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)  # the signed note exactly as first issued
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Cosignature(Base):
    __tablename__ = "ledger_cosignatures"

    size: Mapped[int] = mapped_column(
        ForeignKey("ledger_checkpoints.size", ondelete="CASCADE"), primary_key=True
    )
    witness: Mapped[str] = mapped_column(String(800), primary_key=True)
    line: Mapped[str] = mapped_column(Text)  # the note signature line
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WitnessedLog(Base):
    """The latest consistent checkpoint this node saw (and cosigned) of a peer's log."""

    __tablename__ = "ledger_witnessed"

    peer: Mapped[str] = mapped_column(String(800), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class LedgerAlert(Base):
    """A peer's log that failed a witness check, kept as evidence."""

    __tablename__ = "ledger_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer: Mapped[str] = mapped_column(String(800), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # fork, rollback or inconsistent
    detail: Mapped[str] = mapped_column(String(1000))
    seen_note: Mapped[str] = mapped_column(Text)  # what we had witnessed before
    new_note: Mapped[str] = mapped_column(Text)  # what the peer showed us now
    proof: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of base64 hashes
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
