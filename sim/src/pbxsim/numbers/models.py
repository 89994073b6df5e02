"""Tables of the phone-number area: the customers' number devices and their e-commerce accounts.

Separate tables (no new tenant columns), so an existing simulator database gains them on start.
A removed device keeps its row (``deleted_at`` set): the support view (CSU) shows it with its
Deleted Datetime, the device portal no longer lists it.
"""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime


class NumberDevice(Base):
    """A phone number's device on the device portal, with its subscription (SOC code)."""

    __tablename__ = "number_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    soc_code: Mapped[str] = mapped_column(String(64))
    # The e-commerce account billing this subscription (for Ecom2Checkout* SOC codes).
    billing_account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The Idempotency-Key of the deletion: the same key gets the same answer again.
    delete_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Knobs for tests and demos.
    # Seconds after the deletion until the support view shows the Deleted Datetime; None: never.
    csu_sync_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # When set, the device portal refuses "Delete Device" with this sentence (409).
    locked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class EcommerceAccount(Base):
    """A customer's account on the e-commerce billing panel (2Checkout)."""

    __tablename__ = "ecommerce_accounts"

    account_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), unique=True
    )
    company: Mapped[str] = mapped_column(String(200))
    licences: Mapped[int] = mapped_column(Integer, default=0)
    update_subscription_url: Mapped[str] = mapped_column(Text)
