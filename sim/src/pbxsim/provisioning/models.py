"""Tables of the reseller portal: resellers and their partner users, customer accounts with their
users, PBX connection, support contacts and problem reports, and the customers' own PBXs.

Separate tables (nothing added to ``tenants``), so an existing simulator database gains them on
start and the service procedures' tables stay as they are.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pbxsim.clock import utcnow
from pbxsim.models import Base, UTCDateTime


class Reseller(Base):
    __tablename__ = "resellers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Where the platform writes to the reseller (trial expiries).
    notification_email: Mapped[str] = mapped_column(String(320))

    partners: Mapped[list["PartnerUser"]] = relationship(
        back_populates="reseller", cascade="all, delete-orphan", order_by="PartnerUser.id"
    )


class PartnerUser(Base):
    __tablename__ = "partner_users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))

    reseller: Mapped[Reseller] = relationship(back_populates="partners")


class CustomerAccount(Base):
    __tablename__ = "customer_accounts"
    __table_args__ = (Index("ix_customer_name", "reseller_id", "name_key", unique=True),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    product_type: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    locale: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    trial_days: Mapped[int] = mapped_column(Integer, default=30)
    trial_expired: Mapped[bool] = mapped_column(Boolean, default=False)
    internal_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # provisioning → active; an account still provisioning is never billed.
    state: Mapped[str] = mapped_column(String(16), default="provisioning")
    # "partner" (through the reseller portal or API) or "provider" (created directly).
    created_by: Mapped[str] = mapped_column(String(16), default="partner")
    # {"default_roles": [...], "assignments": {"email": [roles]}}: applied to users as they come.
    role_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    users: Mapped[list["CustomerUser"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="CustomerUser.id"
    )
    contacts: Mapped[list["SupportContactRow"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="SupportContactRow.id"
    )
    connection: Mapped["PbxConnection | None"] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class CustomerUser(Base):
    """A user of a customer account: an invited Admin, a user synchronised from the PBX, or both
    (an Admin whose email is the same on the PBX is one user)."""

    __tablename__ = "customer_users"
    __table_args__ = (Index("ix_customer_user_email", "account_id", "email"),)

    account_id: Mapped[str] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # The invitation link's secret part; null once accepted or for users never invited.
    invitation_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pbx_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    extension: Mapped[str | None] = mapped_column(String(32), nullable=True)
    phone_e164: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sub_account: Mapped[str | None] = mapped_column(String(64), nullable=True)

    account: Mapped[CustomerAccount] = relationship(back_populates="users")


class PbxConnection(Base):
    __tablename__ = "pbx_connections"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(253))
    template: Mapped[str] = mapped_column(String(64), default="default")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_provision_sub_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    # disabled | pending | connected | syncing | monitoring
    state: Mapped[str] = mapped_column(String(16), default="pending")
    monitoring_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    monitoring_agent_status: Mapped[bool] = mapped_column(Boolean, default=False)
    monitored_sub_accounts: Mapped[list[str]] = mapped_column(JSON, default=list)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    account: Mapped[CustomerAccount] = relationship(back_populates="connection")


class SupportContactRow(Base):
    __tablename__ = "support_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True
    )
    # A partner user (their current email is used) or an explicit address.
    partner_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    added_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[CustomerAccount] = relationship(back_populates="contacts")


class ProblemReport(Base):
    __tablename__ = "problem_reports"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "open" until support closes it; a service deletion closes the tenant's open reports with
    # the resolution "service deleted".
    state: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CustomerPbx(Base):
    """The customer's own PBX, which the platform connects to (keyed by host)."""

    __tablename__ = "customer_pbxs"

    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), default="MiVoice Business")
    # Country of its numbers as stored on the PBX (national format).
    country: Mapped[str] = mapped_column(String(2), default="IT")
    # Not null: connecting fails with this reason (wrong credentials, unsupported model...).
    connect_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # False: the PBX does not answer (a transient outage, 503).
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)


class CustomerPbxSubAccount(Base):
    __tablename__ = "customer_pbx_sub_accounts"

    host: Mapped[str] = mapped_column(
        ForeignKey("customer_pbxs.host", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class CustomerPbxUser(Base):
    __tablename__ = "customer_pbx_users"

    host: Mapped[str] = mapped_column(
        ForeignKey("customer_pbxs.host", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    extension: Mapped[str] = mapped_column(String(32))
    # As configured on the PBX: national format, no country code.
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # None: the PBX's main account.
    sub_account: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ResellerEsimPool(Base):
    """A reseller's eSIM (mobile-line) licences, shared out to its customers' tenants.

    A tenant's allocation is its ``mobile_orgs.licences_total``: what the reseller has left is
    its total less what its tenants hold, so a deleted tenant's licences come back by themselves.
    A table of its own (no new column on ``resellers``), so an existing database gains it.
    """

    __tablename__ = "reseller_esim_pools"

    reseller_id: Mapped[str] = mapped_column(
        ForeignKey("resellers.id", ondelete="CASCADE"), primary_key=True
    )
    licences_total: Mapped[int] = mapped_column(Integer, default=0)
