"""Tables the service deletion needs: the tenant's stored data, and what remains after deletion.

Separate tables (not new tenant columns) so an existing simulator database gains them on start.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime


class Recording(Base):
    """A call recording: the "data" a deletion must erase."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    size_kb: Mapped[int] = mapped_column(Integer, default=0)


class DeletionRecord(Base):
    """The one thing that remains of a deleted tenant, besides its id and name."""

    __tablename__ = "deletion_records"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
