"""The simulator's tables (SQLAlchemy 2, typed).

Design notes, so later procedures fit without rework:

- The service's lifecycle lives on ``tenants`` (one Cloud PBX service per tenant, as on the real
  platform); a new procedure adds a state value and a ``transitions`` entry, not a table.
- Per-tenant platform timings live in the JSON ``settings`` column, validated by
  ``schemas.TenantSettings``: a new procedure (``deletion_seconds``…) adds a field there and needs
  no migration of an existing database file (``create_all`` never alters tables).
- ``jobs`` are generic (``kind`` + optional JSON ``payload``), so a deletion with purge steps
  records its steps in the payload; mobile lines or phone-number devices become new tables keyed
  by ``tenant_id`` like ``extensions``.
- The helpdesk and the mailbox are separate systems: they reference tenants by plain strings,
  never by foreign key.
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pbxsim.clock import as_utc, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC: SQLite keeps no offset, so we normalise both ways."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite compares timestamps as text: the same naive UTC format everywhere keeps order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    pass


AnyRow = Row[*tuple[Any, ...]]
"""A result row of any columns, for the Core statements' readers."""


def table(model: type[Base]) -> Table:
    """A model's table for Core statements: ``__table__`` is typed as any FromClause."""
    return cast(Table, model.__table__)


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


class Ticket(Base):
    __tablename__ = "tickets"

    # Shown as ``T-000001``; the integer keeps numbering sequential and cheap.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    workflow_id: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    workflow_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    comments: Mapped[list["TicketComment"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketComment.id"
    )


class TicketComment(Base):
    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="comments")


class IdempotencyKey(Base):
    """The first response given for a key, replayed verbatim for any later request with it."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """One email received over SMTP: the raw source plus what the read API shows."""

    __tablename__ = "messages"
    # Newest first, and what a ``to:`` search (the usual one) reads: scanning this index instead
    # of the rows (each a whole email) made a search over thousands of messages ~5x cheaper.
    __table_args__ = (Index("ix_messages_created_at_to", "created_at", "id", "to_search"),)

    # Mailpit-style opaque id, used in URLs.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Unique: a resent message (same Message-ID) is dropped, as Mailpit --ignore-duplicate-ids.
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    from_name: Mapped[str] = mapped_column(String(300), default="")
    from_address: Mapped[str] = mapped_column(String(320), default="")
    # [{"Name": ..., "Address": ...}], in header order.
    to: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Lower-cased "name <address>" list, for substring search without JSON functions.
    to_search: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    snippet: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class FaultRule(Base):
    __tablename__ = "fault_rules"

    route_prefix: Mapped[str] = mapped_column(String(300), primary_key=True)
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    latency_rate: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Deletion order for a full reset: children before parents.
