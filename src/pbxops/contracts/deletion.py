"""Service deletion (docs/procedures.md#deletion): input, code handling, purge steps, result."""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field

from pbxops.contracts.pbx import ServiceState
from pbxops.contracts.procedures import Identity, ProcedureStatus
from pbxops.contracts.text import SingleLine

# Fixed by the provider's document.
CODE_DIGITS = 8
CODE_VALIDITY = timedelta(hours=1)  # "valid 1 hour from the email"
DELIVERY_BUSINESS_DAYS = 2  # "can take up to 2 business days"
# Beyond the source: wrong attempts are limited, and waiting has an end.
MAX_WRONG_CODES = 5
DEFAULT_HARD_CAP = timedelta(days=30)

# The delivery team's purge, in order; each is one idempotent platform call shown in the UI.
PURGE_STEPS = ("extensions", "users", "recordings", "numbers", "usage", "billing")
# What the purge also erases, in deletions started since (workflow patch
# ERASE_EVERYTHING); the step-by-step purge of older deletions keeps PURGE_STEPS alone.
ERASE_STEPS = ("mobile-lines", "contacts", "problem-reports")
PURGE_LABELS = {
    "extensions": "deleting extensions",
    "users": "deleting users",
    "recordings": "erasing recordings and data",
    "numbers": "releasing phone numbers",
    "usage": "zeroing usage",
    "billing": "stopping billing",
    "mobile-lines": "ending eSIM lines, licences back to the reseller",
    "contacts": "removing support contacts",
    "problem-reports": "closing problem reports",
}


class DeletionInput(BaseModel):
    tenant_id: str
    requested_by: EmailStr
    code_validity: timedelta = CODE_VALIDITY
    max_wrong_codes: int = Field(default=MAX_WRONG_CODES, ge=1, le=20)
    delivery_business_days: int = Field(default=DELIVERY_BUSINESS_DAYS, ge=1, le=30)
    hard_cap: timedelta = DEFAULT_HARD_CAP


class TenantAdmins(BaseModel):
    tenant_id: str
    tenant_name: str
    country: str
    timezone: str
    state: ServiceState
    admins: list[EmailStr]


class IssuedCode(BaseModel):
    """What history holds of a code: its HMAC, and the code sealed for the email step only, both
    keyed by PBXOPS_CODE_SECRET (which has no default); and the worker's public key that the CLI
    seals the operator's code to (None in histories from before it existed)."""

    digest: str
    sealed: str
    box_key: str | None = None


class IssueCode(BaseModel):
    digits: int = CODE_DIGITS


class CodeEmail(BaseModel):
    tenant_id: str
    tenant_name: str
    to: list[EmailStr] = Field(min_length=1)
    sealed: str
    valid_minutes: int


class CodeCheck(BaseModel):
    code: str = ""
    digest: str
    sealed: str | None = None
    """The operator's code sealed to the worker's key (ConfirmCode.sealed), opened by the check."""


class ConfirmCode(BaseModel):
    """The Update's argument, which history records. ``sealed``: the code the operator typed,
    encrypted to the worker's public key (``ConfirmKey``) and bound to the run, so that no code
    (right, wrong, or another tenant's) is readable in history. ``code``: the plain code, accepted
    only by runs from before the sealing (their validator checks its format)."""

    code: str = ""
    sealed: str | None = None
    # Who confirms: required (the validator refuses an Update without it); absent only in
    # Updates accepted before it existed.
    by: Identity = ""


class ConfirmKey(BaseModel):
    """What the CLI seals the operator's code with (the ``confirm_key`` query)."""

    box_key: str | None
    """The worker's X25519 public key (base64); None: a run from before sealing (send plain)."""
    context: str
    """``<workflow id>/<run id>``: the sealed code opens only in this run."""


class WithdrawRequest(BaseModel):
    reason: SingleLine = "withdrawn by the operator"
    by: Identity = ""


class Phase(StrEnum):
    REQUESTING = "requesting"
    AWAITING_CODE = "awaiting-confirmation"
    CONFIRMED = "confirmed"
    LOCKED = "locked"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Answer(BaseModel):
    message: str
    phase: Phase
    deadline: datetime | None = None


class PurgeStep(BaseModel):
    tenant_id: str
    step: str


class Purged(BaseModel):
    step: str
    removed: int


class PurgeRequest(BaseModel):
    """Every purge step of one tenant, run in order by one activity."""

    tenant_id: str
    steps: list[str]


class PurgeReport(BaseModel):
    steps: list[Purged]


class DeletionStatus(ProcedureStatus):
    phase: Phase = Phase.REQUESTING
    admins_notified: int = 0
    code_expires_at: datetime | None = None
    wrong_codes: int = 0
    # The limit the request locks at (its input's); 0 from a worker older than this field.
    max_wrong_codes: int = 0
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    withdrawn_by: str | None = None
    purged: list[str] = Field(default_factory=list)


class DeletionResult(BaseModel):
    tenant_id: str
    phase: Phase
    state: ServiceState | None = None
    requested_by: str | None = None
    confirmed_by: str | None = None
    withdrawn_by: str | None = None
    confirmed_at: datetime | None = None
    deadline: datetime | None = None
    escalated: bool = False
    ticket_id: str | None = None


class TenantLines(BaseModel):
    """The tenant's eSIM lines still live (their device ids): each one's workflow is told."""

    tenant_id: str
    device_ids: list[str] = Field(default_factory=list)


class ServiceDeleted(BaseModel):
    """Signal to a line's workflow: the tenant's service is being deleted; end the line."""

    tenant_id: str
    by: str = ""


SERVICE_DELETED_SIGNAL = "service_deleted"


class DeletionActivities:
    GET_ADMINS = "pbx.get_admins"
    PURGE = "pbx.purge"
    """One purge step per activity: histories recorded before the purge was folded into one."""
    PURGE_ALL = "pbx.purge_all"
    ISSUE_CODE = "codes.issue"
    CHECK_CODE = "codes.check"
    SEND_CODE = "mail.send_deletion_code"
    LIVE_LINES = "pbx.live_mobile_lines"
    LINES_ENDED = "pbx.mobile_lines_ended"
