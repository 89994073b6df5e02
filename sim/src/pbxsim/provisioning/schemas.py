"""Bodies of the reseller portal API: customers, PBX connections, contacts, reports, billing."""

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a long list: pass ``next_cursor`` back as ``cursor``; null means the end."""

    items: list[T]
    next_cursor: str | None
    total: int


class ProductTypeOut(BaseModel):
    id: str
    name: str
    immutable: bool
    monthly_price_per_user: float
    description: str


class RoleOut(BaseModel):
    id: str
    description: str


class PartnerIn(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    name: str
    email: str


class PartnerOut(PartnerIn):
    pass


class ResellerIn(BaseModel):
    name: str | None = None
    notification_email: str | None = None
    partners: list[PartnerIn] = []
    # eSIM licences the reseller shares out to its customers' tenants (None: leave as is).
    esim_licences: int | None = Field(default=None, ge=0)


class ResellerOut(BaseModel):
    id: str
    name: str
    notification_email: str
    partners: list[PartnerOut]
    demo_account: str | None
    customers: int
    esim_licences_total: int = 0
    esim_licences_allocated: int = 0
    esim_licences_available: int = 0


class ContactIn(BaseModel):
    """A partner user id or an explicit email address (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    partner: str | None = None
    email: str | None = None


class ContactOut(BaseModel):
    kind: str
    email: str
    partner_user_id: str | None = None
    name: str | None = None


class CustomerIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    product_type: str
    reference: str = Field(default="", max_length=100)
    country: str = Field(min_length=2, max_length=2)
    notes: str = ""
    trial: bool = False
    trial_days: int = Field(default=30, ge=1, le=365)
    internal_demo: bool = False
    support_contacts: list[ContactIn] = []
    # The tenant's eSIM licence pool, taken from the reseller's.
    esim_licences: int = Field(default=0, ge=0, le=100_000)


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    product_type: str | None = None
    reference: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    notes: str | None = None
    trial: bool | None = None
    trial_days: int | None = Field(default=None, ge=1, le=365)
    internal_demo: bool | None = None


class DirectCustomerIn(CustomerIn):
    """Admin API: an account created outside the workflow (seed, tests)."""

    reseller: str
    created_by: str = Field(default="partner", pattern="^(partner|provider)$")
    state: str = Field(default="active", pattern="^(provisioning|active)$")
    admins: list["AdminIn"] = []


class ConnectionOut(BaseModel):
    host: str
    template: str
    enabled: bool
    auto_provision_sub_accounts: bool
    state: str
    users_synced: int
    sub_accounts_monitored: int
    monitoring_calls: bool
    monitoring_agent_status: bool


class CustomerOut(BaseModel):
    id: str
    reseller: str
    name: str
    product_type: str
    reference: str
    # What invoices and billing exports show: the reference, or the tenant (account) id.
    billing_reference: str
    country: str
    locale: str
    calling_code: int
    notes: str
    state: str
    created_by: str
    trial: bool
    trial_days: int
    trial_ends_at: datetime | None
    trial_expired: bool
    internal_demo: bool
    users: int
    admins: int
    connection: ConnectionOut | None
    support_contacts: list[ContactOut]
    # One tenant model: the account's tenant (same id) and its Cloud PBX service's state.
    tenant_id: str | None = None
    service_state: str | None = None
    esim_licences: int = 0
    roles_pending: list[str]
    created_at: datetime


class AdminIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str


class InvitationOut(BaseModel):
    user_id: str
    email: str
    # The link's token is a credential: only the invitation email carries it.
    invitation_url: str


class CustomerUserOut(BaseModel):
    id: str
    name: str
    email: str
    roles: list[str]
    is_admin: bool
    invited: bool
    pbx_user_id: str | None
    extension: str | None
    phone_e164: str | None
    sub_account: str | None


class PbxIn(BaseModel):
    host: str = Field(min_length=1, max_length=253)
    template: str = "default"
    enabled: bool = True
    auto_provision_sub_accounts: bool = False


class DiscoveryOut(BaseModel):
    host: str
    model: str
    users_total: int
    sub_accounts_total: int


class DiscoveredUserOut(BaseModel):
    id: str
    name: str
    email: str
    extension: str
    phone: str | None
    sub_account: str | None


class SubAccountOut(BaseModel):
    id: str
    name: str


class ImportUserIn(BaseModel):
    pbx_user_id: str
    name: str
    email: str
    extension: str | None = None
    phone_e164: str | None = None
    sub_account: str | None = None


class ImportIn(BaseModel):
    users: list[ImportUserIn] = Field(max_length=1000)


class ImportOut(BaseModel):
    imported: int
    account_users: int


class SubAccountsIn(BaseModel):
    ids: list[str] = Field(max_length=1000)


class RoleAssignmentIn(BaseModel):
    user: str
    roles: list[str] = Field(min_length=1)


class RolesIn(BaseModel):
    default_roles: list[str] = ["User"]
    assignments: list[RoleAssignmentIn] = []


class RolesOut(BaseModel):
    applied: int
    pending: list[str]


class ContactChangeIn(BaseModel):
    contact: ContactIn
    acting_as: str = Field(pattern="^(partner|admin)$")
    acting_user: str | None = None


class ContactsOut(BaseModel):
    account_id: str
    changed: bool
    contacts: list[ContactOut]


class ProblemReportIn(BaseModel):
    application: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=5000)
    reported_by: str | None = None


class ProblemReportOut(BaseModel):
    report_id: str
    account_id: str
    customer_name: str
    application: str
    description: str
    reported_by: str | None
    created_at: datetime
    contacts: list[ContactOut]
    state: str = "open"
    """``open`` or ``closed``."""
    resolution: str | None = None
    """Why it was closed: ``service deleted`` when the tenant's service was deleted."""
    closed_at: datetime | None = None


class BillingRow(BaseModel):
    reseller: str
    account_id: str
    customer: str
    reference: str
    product_type: str
    users: int
    unit_price: float
    amount: float
    note: str


class BillingOut(BaseModel):
    month: str
    currency: str
    rows: list[BillingRow]


class NamedPbxUserIn(BaseModel):
    id: str
    name: str
    email: str
    extension: str
    phone: str | None = None
    sub_account: str | None = None


class SubAccountIn(BaseModel):
    id: str
    name: str
    users: int = Field(default=0, ge=0, le=20_000)


class CustomerPbxIn(BaseModel):
    """Admin API: a customer's PBX with ``users`` generated users plus named ones."""

    model: str = "MiVoice Business"
    country: str = Field(default="IT", min_length=2, max_length=2)
    users: int = Field(default=0, ge=0, le=50_000)
    people: list[NamedPbxUserIn] = []
    sub_accounts: list[SubAccountIn] = []
    connect_error: str | None = None
    reachable: bool = True


class CustomerPbxPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connect_error: str | None = None
    reachable: bool | None = None


class CustomerPbxOut(BaseModel):
    host: str
    model: str
    country: str
    users: int
    sub_accounts: int
    connect_error: str | None
    reachable: bool


DirectCustomerIn.model_rebuild()
