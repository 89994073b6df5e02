"""The declarative base, its column types and helpers, and the tables of shared infrastructure.

Each simulated system keeps its tables in its subpackage (``pbx.models``, ``mobile.models``…),
all on this ``Base``: ``db.py`` imports every one of them before ``create_all``.
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, Table, Text, TypeDecorator
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class FaultRule(Base):
    __tablename__ = "fault_rules"

    route_prefix: Mapped[str] = mapped_column(String(300), primary_key=True)
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    latency_rate: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
