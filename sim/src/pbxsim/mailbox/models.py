"""Tables of the mailbox: every message received over SMTP."""

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime


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
