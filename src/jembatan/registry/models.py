"""Tables of the registry role (members, keys, join requests, trusted instances) and of
every node (its trust anchors, the last good directories, seen request nonces)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow

# Registry role ---------------------------------------------------------------------------


class RegistryState(Base):
    """The registry's one row: its instance, the directory serial and the signed copy."""

    __tablename__ = "registry_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    instance: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(500))
    serial: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[bool] = mapped_column(default=True)  # content changed since last signing
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signed: Mapped[str | None] = mapped_column(Text, nullable=True)


class RegistryMember(Base):
    __tablename__ = "registry_members"

    member_id: Mapped[str] = mapped_column(String(800), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    node_url: Mapped[str] = mapped_column(String(500))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegistryKey(Base):
    __tablename__ = "registry_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(
        ForeignKey("registry_members.member_id", ondelete="CASCADE"), index=True
    )
    use: Mapped[str] = mapped_column(String(8))
    jwk: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)


class RegistrySubsystem(Base):
    __tablename__ = "registry_subsystems"

    member_id: Mapped[str] = mapped_column(
        ForeignKey("registry_members.member_id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(255), primary_key=True)


class RegistryService(Base):
    """A service a member's node announced; listed in the directory under the member."""

    __tablename__ = "registry_services"

    member_id: Mapped[str] = mapped_column(
        ForeignKey("registry_members.member_id", ondelete="CASCADE"), primary_key=True
    )
    subsystem: Mapped[str] = mapped_column(String(255), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)


class JoinRequest(Base):
    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(String(800), index=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    node_url: Mapped[str] = mapped_column(String(500))
    keys: Mapped[str] = mapped_column(Text)  # JSON list of public JWKs
    proof: Mapped[str] = mapped_column(Text)  # the JWS as received
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TrustedInstance(Base):
    """Another federation whose anchor this registry trusts (federation of federations)."""

    __tablename__ = "trusted_instances"

    instance: Mapped[str] = mapped_column(String(255), primary_key=True)
    registry_url: Mapped[str] = mapped_column(String(500))
    key: Mapped[str] = mapped_column(Text)  # public JWK
    trusted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Every node -------------------------------------------------------------------------------


class Anchor(Base):
    """The trust anchor of the node's own federation, received out of band."""

    __tablename__ = "anchors"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    instance: Mapped[str] = mapped_column(String(255))
    registry_url: Mapped[str] = mapped_column(String(500))
    key: Mapped[str] = mapped_column(Text)  # public JWK of the registry
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DirectoryCopy(Base):
    """The last good directory of an instance: our own, or a federation ours trusts."""

    __tablename__ = "directory_copies"

    instance: Mapped[str] = mapped_column(String(255), primary_key=True)
    serial: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class SeenNonce(Base):
    """Nonces of accepted signed requests, kept until they are too old to replay anyway."""

    __tablename__ = "seen_nonces"

    keyid: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
