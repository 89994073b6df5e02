"""Tables of the PBX platform: tenants (one Cloud PBX service each), users, extensions, jobs.

Design notes, so later procedures fit without rework:

- The service's lifecycle lives on ``tenants`` (one Cloud PBX service per tenant, as on the real
  platform); a new procedure adds a state value and a ``transitions`` entry, not a table.
- Per-tenant platform timings live in the JSON ``settings`` column, validated by
  ``pbx.schemas.TenantSettings``: a new procedure (``deletion_seconds``…) adds a field there and
  needs no migration of an existing database file (``create_all`` never alters tables).
- ``jobs`` are generic (``kind`` + optional JSON ``payload``), so a deletion with purge steps
  records its steps in the payload; mobile lines or phone-number devices become new tables keyed
  by ``tenant_id`` like ``extensions``.
- The helpdesk and the mailbox are separate systems: they reference tenants by plain strings,
  never by foreign key.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="IT")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    service_state: Mapped[str] = mapped_column(String(32), default="active")
    portal_url: Mapped[str] = mapped_column(String(300))
    sip_domain: Mapped[str] = mapped_column(String(200))
    billing_active: Mapped[bool] = mapped_column(Boolean, default=True)
    usage_minutes: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    users: Mapped[list["User"]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="User.id"
    )
    extensions: Mapped[list["Extension"]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="Extension.number"
    )


class User(Base):
    __tablename__ = "users"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    # User ids are the platform's, unique within a tenant only.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)

    tenant: Mapped[Tenant] = relationship(back_populates="users")


class Extension(Base):
    __tablename__ = "extensions"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Not a foreign key to users: an extension may outlive (or precede) its user on the platform.
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=True)

    tenant: Mapped[Tenant] = relationship(back_populates="extensions")


class Job(Base):
    """An asynchronous platform job; durable, so a restarted simulator resumes it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: the platform never finishes on its own (a stuck platform).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Callback delivery is durable too: a restart redelivers what was still pending.
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_state: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    callback_error: Mapped[str | None] = mapped_column(Text, nullable=True)
