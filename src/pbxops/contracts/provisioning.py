"""Customer provisioning in four steps: input, platform catalog, payloads
(docs/procedures.md#provisioning).

``CustomerProvisioningInput`` is the one model an operator fills in (YAML/JSON file or flags).
Validated on its own it checks form: every field, every email, the country. Validated with a
``ProvisioningCatalog`` in the context (``model_validate(data, context={"catalog": c})``) it also
checks what only the platform knows: the reseller, a duplicate name, the product type, a second
internal demo, partner contacts and role names. Either way pydantic reports *every* error at once,
each with its field, before anything starts.
"""

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import phonenumbers
from anyascii import anyascii
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from pbxops.contracts.pbx import ServiceState
from pbxops.contracts.procedures import ProcedureStatus
from pbxops.contracts.support import ID_PATTERN, ContactRef, Email, SupportContact
from pbxops.contracts.text import MultiLine, SingleLine

# The provider's document does not fix a trial length: 30 days by default, a usual trial length,
# and each customer's can be set (docs/provisioning.md, "Decisions where the sources are silent").
DEFAULT_TRIAL_DAYS = 30
# Users are read from the customer's PBX a page at a time, and synchronised in batches of pages:
# one activity per batch keeps history small (3 events per batch) while the workflow reports
# progress after each batch; within a batch the activity heartbeats its cursor, so a retry resumes
# where it stopped.
SYNC_PAGE_SIZE = 200
SYNC_BATCH_USERS = 500
DEFAULT_ROLES = ("User",)

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$")


def name_key(name: str) -> str:
    """What makes a customer name unique within a reseller: case, accents and punctuation aside.

    ``"ACME S.r.l."`` and ``"acme srl"`` are the same customer. Also the business key of the
    provisioning workflow id, so the id holds no spaces or odd characters.

    Any script: accents go (NFKD), then ``anyascii`` transliterates what has no ASCII letter
    ("Тест ООД 1" → ``test-ood-1``, "Ελληνική" → ``elliniki``), so non-Latin names stay distinct
    and readable instead of collapsing to their digits. ASCII names keep the key they had.
    """
    plain = anyascii(unicodedata.normalize("NFKD", name)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain.replace(".", "")).strip("-")[:60]


def check_country(value: str) -> str:
    """ISO 3166-1 alpha-2, as far as ``phonenumbers`` knows how to format the country's numbers."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise PydanticCustomError(
            "country",
            "'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. IT, FR, BG, GB)",
            {"value": value},
        )
    return code


def _catalog(info: ValidationInfo) -> "ProvisioningCatalog | None":
    context = info.context
    if isinstance(context, dict):
        found = context.get("catalog")
        if isinstance(found, ProvisioningCatalog):
            return found
    return None


class ProductType(BaseModel):
    """A product type the platform publishes; ``immutable`` ones cannot change once assigned."""

    id: str
    name: str
    immutable: bool
    monthly_price_per_user: float
    description: str = ""


class ProvisioningCatalog(BaseModel):
    """What the platform knows that the input is checked against (read by the CLI first)."""

    reseller_id: str
    reseller_found: bool
    partner_ids: list[str] = []
    # name key → (account id, name as stored): existing customers of this reseller.
    customers: dict[str, tuple[str, str]] = {}
    # "<name> (<account id>)" of the reseller's internal demo system, if it has one.
    demo_account: str | None = None
    product_types: list[ProductType] = []
    roles: list[str] = []

    def product_type(self, type_id: str) -> ProductType | None:
        return next((p for p in self.product_types if p.id == type_id), None)

    def context(self) -> dict[str, Any]:
        """The validation context: ``model_validate(data, context=catalog.context())``."""
        found: dict[str, Any] = {"catalog": self, "reseller": self.reseller_id}
        if self.reseller_found:
            found["partner_ids"] = set(self.partner_ids)
        return found


# --- the input ---------------------------------------------------------------------------------


class CustomerDetails(BaseModel):
    """Step 1. Every property can be edited later except an immutable product type."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: SingleLine = Field(min_length=1, max_length=100)
    product_type: SingleLine = Field(min_length=1, max_length=64)
    # Shown on invoices and billing exports; when empty they show the tenant (account) id.
    reference: SingleLine = Field(default="", max_length=100)
    country: Annotated[str, Field(min_length=1)]
    notes: MultiLine = Field(default="", max_length=2000)
    trial: bool = False
    trial_days: int = Field(default=DEFAULT_TRIAL_DAYS, ge=1, le=365)
    # At most one per reseller, never billed (on invoices at zero).
    internal_demo: bool = False
    # The tenant's eSIM (mobile-line) licence pool, taken from the reseller's.
    esim_licences: int = Field(default=0, ge=0, le=100_000)

    _country = field_validator("country")(check_country)

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str, info: ValidationInfo) -> str:
        if not name_key(value):
            raise PydanticCustomError("name", "a customer name needs letters or digits")
        catalog = _catalog(info)
        if catalog and (existing := catalog.customers.get(name_key(value))):
            account, stored = existing
            raise PydanticCustomError(
                "duplicate_name",
                "a customer named '{name}' already exists for reseller '{reseller}' "
                "(account {account})",
                {"name": stored, "reseller": catalog.reseller_id, "account": account},
            )
        return value

    @field_validator("product_type")
    @classmethod
    def _published_type(cls, value: str, info: ValidationInfo) -> str:
        catalog = _catalog(info)
        if catalog and catalog.product_types and catalog.product_type(value) is None:
            raise PydanticCustomError(
                "product_type",
                "unknown product type '{value}'; the platform publishes: {types}",
                {"value": value, "types": ", ".join(p.id for p in catalog.product_types)},
            )
        return value

    @field_validator("internal_demo")
    @classmethod
    def _one_demo(cls, value: bool, info: ValidationInfo) -> bool:
        catalog = _catalog(info)
        if value and catalog and catalog.demo_account:
            raise PydanticCustomError(
                "second_demo",
                "reseller '{reseller}' already has an internal demo system: {demo}; "
                "each reseller may mark only one customer as internal/demo",
                {"reseller": catalog.reseller_id, "demo": catalog.demo_account},
            )
        return value


class AdminUser(BaseModel):
    """Step 2: an Admin of the customer; invited by email as soon as the account exists."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: SingleLine = Field(min_length=1, max_length=200)
    # The same address as on the PBX when the person exists there: the sync links them.
    email: Email


class PbxConnectionSpec(BaseModel):
    """Step 3: the customer's PBX. ``enabled: false`` stores it without connecting or importing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    host: str = Field(max_length=253)
    template: SingleLine = Field(default="default", min_length=1, max_length=64)
    enabled: bool = True
    # Monitor calls on every sub-account of the PBX; only settable at creation.
    auto_provision_sub_accounts: bool = False

    @field_validator("host")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise PydanticCustomError(
                "host", "'{value}' is not a host name (e.g. pbx.acme.example)", {"value": value}
            )
        return value.lower()


def _check_roles(roles: list[str], info: ValidationInfo) -> list[str]:
    catalog = _catalog(info)
    if catalog and catalog.roles:
        unknown = [role for role in roles if role not in catalog.roles]
        if unknown:
            raise PydanticCustomError(
                "role",
                "unknown role(s) {unknown}; the platform's roles: {roles}",
                {"unknown": ", ".join(unknown), "roles": ", ".join(catalog.roles)},
            )
    return roles


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Email
    roles: list[SingleLine] = Field(min_length=1)

    _known = field_validator("roles")(_check_roles)


class RoleSetup(BaseModel):
    """Step 4. Users not named get ``default_roles``; Admin users always keep Admin.

    Assignments for people not on the account yet (a disabled PBX connection) are kept by the
    platform and applied when their users are synchronised.
    """

    model_config = ConfigDict(extra="forbid")

    default_roles: list[SingleLine] = Field(default_factory=lambda: list(DEFAULT_ROLES))
    assignments: list[RoleAssignment] = []

    _known = field_validator("default_roles")(_check_roles)


class SyncOptions(BaseModel):
    page_size: int = Field(default=SYNC_PAGE_SIZE, ge=1, le=1000)
    batch_users: int = Field(default=SYNC_BATCH_USERS, ge=1, le=100_000)


class CustomerProvisioningInput(BaseModel):
    """Everything the four steps need, checked before anything starts."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reseller: str = Field(pattern=ID_PATTERN)
    customer: CustomerDetails
    # Defaults only so that a missing list gets the same sentence as an empty one.
    admins: list[AdminUser] = Field(default_factory=list, validate_default=True)
    pbx: PbxConnectionSpec
    roles: RoleSetup = RoleSetup()
    support_contacts: list[ContactRef] = Field(default_factory=list, validate_default=True)
    sync: SyncOptions = SyncOptions()

    @field_validator("reseller")
    @classmethod
    def _known_reseller(cls, value: str, info: ValidationInfo) -> str:
        catalog = _catalog(info)
        if catalog and not catalog.reseller_found:
            raise PydanticCustomError("reseller", "reseller '{value}' not found", {"value": value})
        return value

    @field_validator("admins")
    @classmethod
    def _admins(cls, admins: list[AdminUser]) -> list[AdminUser]:
        if not admins:
            raise PydanticCustomError("admins", "at least one Admin user is required")
        emails = [admin.email.lower() for admin in admins]
        if duplicated := sorted({e for e in emails if emails.count(e) > 1}):
            raise PydanticCustomError(
                "admins", "Admin users listed twice: {emails}", {"emails": ", ".join(duplicated)}
            )
        return admins

    @field_validator("support_contacts")
    @classmethod
    def _contacts(cls, contacts: list[ContactRef]) -> list[ContactRef]:
        if not contacts:
            raise PydanticCustomError(
                "support_contacts",
                "at least one support contact (a partner user or an email address) is required",
            )
        return contacts

    @property
    def business_key(self) -> str:
        return f"{self.reseller}/{name_key(self.customer.name)}"


# --- what the platform answers -----------------------------------------------------------------


class AccountState(StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"


class ConnectionState(StrEnum):
    DISABLED = "disabled"
    PENDING = "pending"
    CONNECTED = "connected"
    SYNCING = "syncing"
    MONITORING = "monitoring"


class ConnectionSnapshot(BaseModel):
    host: str
    template: str
    enabled: bool
    auto_provision_sub_accounts: bool
    state: ConnectionState
    users_synced: int = 0
    sub_accounts_monitored: int = 0
    monitoring_calls: bool = False
    monitoring_agent_status: bool = False


class AccountSnapshot(BaseModel):
    """A customer account as procedures read it (counts, never the users themselves)."""

    id: str
    reseller: str
    name: str
    product_type: str
    reference: str
    country: str
    locale: str
    state: AccountState
    created_by: str
    trial: bool
    trial_days: int
    trial_ends_at: datetime | None = None
    trial_expired: bool = False
    internal_demo: bool
    users: int = 0
    admins: int = 0
    connection: ConnectionSnapshot | None = None
    support_contacts: list[SupportContact] = []
    roles_pending: list[str] = []
    # One tenant model: the account is the tenant of this id, its Cloud PBX service in this
    # state (provisioning until the last step, then active), with this eSIM licence pool.
    service_state: ServiceState | None = None
    esim_licences: int = 0


class ResellerSnapshot(BaseModel):
    id: str
    name: str
    notification_email: str


# --- activity payloads -------------------------------------------------------------------------


class AccountRef(BaseModel):
    account_id: str


class ResellerRef(BaseModel):
    reseller_id: str


class CreateAccount(BaseModel):
    reseller: str
    customer: CustomerDetails
    support_contacts: list[ContactRef]


class InviteAdmin(BaseModel):
    account_id: str
    customer_name: str
    admin: AdminUser


class InvitationSent(BaseModel):
    """No invitation link here: it is a credential, built and mailed inside the activity."""

    user_id: str
    email: str
    message_id: str


class WithdrawInvitation(BaseModel):
    customer_name: str
    email: str
    reason: str
    # For the email's language; absent in runs started before emails came from templates.
    account_id: str | None = None
    country: str | None = None


class ConfigurePbx(BaseModel):
    account_id: str
    pbx: PbxConnectionSpec


class PbxDiscovery(BaseModel):
    host: str
    model: str
    users_total: int
    sub_accounts_total: int


class SyncUsersRequest(BaseModel):
    account_id: str
    country: str
    include_sub_accounts: bool
    cursor: str | None = None
    page_size: int = SYNC_PAGE_SIZE
    batch_users: int = SYNC_BATCH_USERS


class SyncProgress(BaseModel):
    cursor: str | None
    done: bool
    synced_in_batch: int
    discovered_total: int
    account_users: int


class StartMonitoring(BaseModel):
    account_id: str
    include_sub_accounts: bool
    page_size: int = SYNC_PAGE_SIZE


class MonitoringStarted(BaseModel):
    calls: bool
    agent_status: bool
    sub_accounts_monitored: int


class RemovePbx(BaseModel):
    account_id: str
    keep_disabled: bool
    """True: back to a disabled connection (enable failed); False: remove it (saga undo)."""


class Undone(BaseModel):
    """A compensation's answer: ``done`` is False when there was nothing left to undo."""

    what: str
    done: bool


class AssignRoles(BaseModel):
    account_id: str
    roles: RoleSetup


class RolesAssigned(BaseModel):
    applied: int
    pending: list[str] = []


class AccountChanges(BaseModel):
    """``pbxops customer update``: only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: SingleLine | None = Field(default=None, min_length=1, max_length=100)
    product_type: SingleLine | None = Field(default=None, min_length=1, max_length=64)
    reference: SingleLine | None = Field(default=None, max_length=100)
    country: str | None = None
    notes: MultiLine | None = Field(default=None, max_length=2000)
    trial: bool | None = None
    trial_days: int | None = Field(default=None, ge=1, le=365)
    internal_demo: bool | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else check_country(value)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class UpdateAccount(BaseModel):
    account_id: str
    changes: AccountChanges


# --- workflow inputs and results ---------------------------------------------------------------


class ProvisioningResult(BaseModel):
    account_id: str
    reseller: str
    name: str
    connection: ConnectionState
    users_synced: int
    sub_accounts_monitored: int
    invitations_sent: list[str]
    roles_pending: list[str] = []
    trial_ends_at: datetime | None = None
    trial_workflow_id: str | None = None
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR); None from older workers.
    started_by: str | None = None


class PbxEnableInput(BaseModel):
    account_id: str = Field(pattern=ID_PATTERN)
    sync: SyncOptions = SyncOptions()


class PbxEnableResult(BaseModel):
    account_id: str
    users_synced: int
    sub_accounts_monitored: int
    roles_pending: list[str] = []
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR); None from older workers.
    started_by: str | None = None


# Sent to a running CustomerTrial when the trial was changed: it re-reads the end date.
TRIAL_CHANGED_SIGNAL = "trial_changed"


class TrialTimerRequest(BaseModel):
    account_id: str
    start_if_missing: bool
    """True: start the trial workflow unless it runs (then only signal it); False: signal only."""


class TrialTimer(BaseModel):
    workflow_id: str
    running: bool


class CustomerTrialInput(BaseModel):
    account_id: str = Field(pattern=ID_PATTERN)


class TrialOutcome(StrEnum):
    EXPIRED = "expired"
    CONVERTED = "converted"
    ACCOUNT_GONE = "account-gone"


class CustomerTrialResult(BaseModel):
    account_id: str
    outcome: TrialOutcome
    notified: str | None = None


class CustomerUpdateInput(BaseModel):
    account_id: str = Field(pattern=ID_PATTERN)
    changes: AccountChanges


class CustomerUpdateResult(BaseModel):
    account: AccountSnapshot
    trial_workflow_id: str | None = None
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR); None from older workers.
    started_by: str | None = None


class ProvisioningStatus(ProcedureStatus):
    """The ``status`` query of provisioning and PBX connection: the shared fields plus progress.

    ``tenant_id`` is the account id once step 1 has created it (empty before).
    """

    steps_done: list[str] = []
    users_synced: int = 0
    users_total: int | None = None
    undone: list[str] = []


class ProvisioningActivityNames:
    CREATE_ACCOUNT = "customers.create_account"
    INVITE_ADMIN = "customers.invite_admin"
    WITHDRAW_INVITATION = "customers.withdraw_invitation"
    CONFIGURE_PBX = "customers.configure_pbx"
    ENABLE_PBX = "customers.enable_pbx"
    CONNECT_PBX = "customers.connect_pbx"
    SYNC_PBX_USERS = "customers.sync_pbx_users"
    START_MONITORING = "customers.start_monitoring"
    REMOVE_PBX = "customers.remove_pbx"
    ASSIGN_ROLES = "customers.assign_roles"
    ACTIVATE_ACCOUNT = "customers.activate_account"
    DELETE_ACCOUNT = "customers.delete_account"
    GET_ACCOUNT = "customers.get_account"
    GET_RESELLER = "customers.get_reseller"
    UPDATE_ACCOUNT = "customers.update_account"
    EXPIRE_TRIAL = "customers.expire_trial"
    TRIAL_TIMER = "customers.trial_timer"
