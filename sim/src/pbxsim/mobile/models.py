"""Tables of the mobile-line (eSIM) area: the organisation's pool and settings, devices, activation
codes and call detail records.

Separate tables (no new tenant columns), so an existing simulator database gains them on start.
"""

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime

DEFAULT_SMDP_ADDRESS = "smdp.esim.pbx.example"


class MobileOrg(Base):
    """An organisation's (tenant's) mobile-line licence pool and settings."""

    __tablename__ = "mobile_orgs"

    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    licences_total: Mapped[int] = mapped_column(Integer, default=0)
    # "If the organisation's settings suppress emails": the operator hands the code over instead.
    suppress_emails: Mapped[bool] = mapped_column(Boolean, default=False)
    smdp_address: Mapped[str] = mapped_column(String(200), default=DEFAULT_SMDP_ADDRESS)
    # Online lines make a call this often (records appear when CDRs are read); None: never.
    auto_calls_every_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class MobileDevice(Base):
    __tablename__ = "mobile_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="pending_activation")
    # Where phone events are reported (the owning workflow's receiver URL).
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_event: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The code whose eSIM profile is installed on a phone (None: no phone holds the line).
    profile_code_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Calls were generated up to here; set while the line is online.
    calls_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ActivationCode(Base):
    __tablename__ = "mobile_activation_codes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("mobile_devices.id", ondelete="CASCADE"), index=True
    )
    # The secret part of ``LPA:1$<SM-DP+ address>$<matching id>``.
    matching_id: Mapped[str] = mapped_column(String(64), unique=True)
    smdp_address: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="current", index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CallRecord(Base):
    """A call detail record; calls through a mobile line carry sub-client type Mobile_Network."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(16))
    calling_number: Mapped[str] = mapped_column(String(32))
    called_number: Mapped[str] = mapped_column(String(32))
    client_type: Mapped[str] = mapped_column(String(32))
    sub_client_type: Mapped[str] = mapped_column(String(32), index=True)
    answered: Mapped[bool] = mapped_column(Boolean, default=True)
