"""The services this node provides, their endpoints and access rights, and the log of
calls that passed through the gateway in either role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jembatan.store.schema import Base, UTCDateTime, utcnow


class Service(Base):
    """A REST service of one of our subsystems, mediated to other members."""

    __tablename__ = "gateway_services"
    __table_args__ = (UniqueConstraint("subsystem", "code", name="one_code_per_subsystem"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subsystem: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(500))  # the internal service, never published
    openapi: Mapped[str | None] = mapped_column(Text, nullable=True)  # OpenAPI 3 as given
    enabled: Mapped[bool] = mapped_column(default=True)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Endpoint(Base):
    """A method and path pattern of a service; calls match the most specific one."""

    __tablename__ = "gateway_endpoints"
    __table_args__ = (UniqueConstraint("service_id", "method", "path", name="one_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("gateway_services.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(10))  # GET, POST, ... or * for any
    path: Mapped[str] = mapped_column(String(500))  # /v1/status/{id}, /v1/** or **
    enabled: Mapped[bool] = mapped_column(default=True)


class AccessRight(Base):
    """Who may call: a client subsystem, or every other party of an agreement."""

    __tablename__ = "gateway_access_rights"
    __table_args__ = (UniqueConstraint("service_id", "endpoint_id", "client", name="one_right"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("gateway_services.id", ondelete="CASCADE"), index=True
    )
    # None: every endpoint of the service.
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway_endpoints.id", ondelete="CASCADE"), nullable=True
    )
    client: Mapped[str] = mapped_column(String(800))  # INSTANCE/CLASS/CODE/SUB or agreement:ID
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Call(Base):
    """One call as this node saw it: as the consumer's node or as the provider's."""

    __tablename__ = "gateway_calls"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # X-Road-Request-Id
    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # consumer | provider
    xroad_id: Mapped[str] = mapped_column(String(255), index=True)  # X-Road-Id
    client: Mapped[str] = mapped_column(String(800), index=True)
    service: Mapped[str] = mapped_column(String(800), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(100), nullable=True)  # X-Road-Error type
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    agreement_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # X-Road-UserId
    issue: Mapped[str | None] = mapped_column(String(255), nullable=True)  # X-Road-Issue
    request_hash: Mapped[str | None] = mapped_column(String(100), nullable=True)
    response_hash: Mapped[str | None] = mapped_column(String(100), nullable=True)
    request_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    response_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
