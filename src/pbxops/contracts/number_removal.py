"""Removing the package of a phone number: input, per-number facts, result
(docs/procedures.md#number-removal).

The operator's systems, as the provider's document names them:

- the **support view** (CSU): every number's record, with its subscription's SOC code and the
  **Deleted Datetime** that proves a removal;
- the **device portal** (StreetSmart): each customer's devices; "Delete Device" removes a number;
- the **e-commerce billing panel** (2Checkout): each account's "update subscription" link.

Credentials for these systems are settings (``PBXOPS_CSU_USERNAME``… or secret files), read by the
activities and the CLI only: they never travel in a workflow's input, state or history.
"""

import re
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field, field_validator, model_validator

from pbxops.contracts.procedures import ProcedureStatus

# Beyond the source (it says only "check CSU"): the support view normally shows the Deleted
# Datetime within seconds. Past this a support ticket is opened and checking goes on, more slowly,
# until the hard cap; then the ticket is left to a person.
DEFAULT_VERIFY_DEADLINE = timedelta(minutes=15)
DEFAULT_VERIFY_HARD_CAP = timedelta(hours=24)
# One request is one customer's list of numbers; a longer list is split by the operator.
MAX_NUMBERS = 50
# The Deleted Datetime "should match the time when you removed the number": it must fall between
# the moment the removal was asked for and the check, give or take this much clock difference
# between pbxops and the provider's systems.
CLOCK_TOLERANCE = timedelta(minutes=2)

# Who may ask for a removal: "only an Admin or Super User" (compared case-insensitively).
ALLOWED_ROLES = ("Admin", "Super User")

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class NumberActivities:
    """Activity type names of this procedure (workflows call them by name)."""

    CHECK_REQUESTER = "numbers.check_requester"
    LOOKUP = "numbers.lookup"
    BILLING_LINK = "numbers.billing_link"
    DELETE_DEVICE = "numbers.delete_device"
    VERIFY_REMOVED = "numbers.verify_removed"


class BillingPath(StrEnum):
    """How the number's subscription is billed, read from its SOC code."""

    ECOMMERCE = "e-commerce"
    DIRECT = "direct"
    UNKNOWN = "unknown"


# "Ecom2Checkout1515 or similar" / "CKSWDirectAdv1515 or similar": the family is the prefix.
ECOMMERCE_SOC_PREFIX = "Ecom2Checkout"
DIRECT_SOC_PREFIX = "CKSWDirect"


def billing_path(soc_code: str | None) -> BillingPath:
    code = (soc_code or "").strip().lower()
    if code.startswith(ECOMMERCE_SOC_PREFIX.lower()):
        return BillingPath.ECOMMERCE
    if code.startswith(DIRECT_SOC_PREFIX.lower()):
        return BillingPath.DIRECT
    return BillingPath.UNKNOWN


def removal_key(numbers: list[str]) -> str:
    """The workflow's business key: the lowest E.164 number of the request.

    Independent of the order the numbers were given in, so the same request started twice is
    refused as a duplicate instead of running twice.
    """
    return min(numbers)


class NumberRemovalInput(BaseModel):
    tenant_id: str
    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS)
    """E.164 (``+390280881001``), unique; the CLI parses and normalises what the operator typed."""
    requested_by: EmailStr
    """The customer's Admin or Super User who asked; the completion email goes to them."""
    verify_deadline: timedelta = DEFAULT_VERIFY_DEADLINE
    verify_hard_cap: timedelta = DEFAULT_VERIFY_HARD_CAP

    @field_validator("numbers")
    @classmethod
    def _e164(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not E164.match(number):
                raise ValueError(f"'{number}' is not an E.164 number (e.g. +390280881001)")
        if len(set(numbers)) != len(numbers):
            raise ValueError("each number may appear only once")
        return numbers

    @model_validator(mode="after")
    def _cap_after_deadline(self) -> "NumberRemovalInput":
        if self.verify_deadline <= timedelta(0):
            raise ValueError("the verification deadline must be a positive duration")
        if self.verify_hard_cap <= self.verify_deadline:
            raise ValueError("the verification hard cap must be longer than its deadline")
        return self


# --- activities' inputs and outputs -----------------------------------------------------------


class RequesterCheck(BaseModel):
    tenant_id: str
    email: EmailStr


class RequesterVerdict(BaseModel):
    tenant_id: str
    tenant_name: str
    allowed: bool
    roles: list[str]
    """The requester's roles on the tenant; empty when they are not a user of it."""


class LookupNumbers(BaseModel):
    numbers: list[str]


class NumberRecord(BaseModel):
    """What the support view and the device portal say about one number."""

    number: str
    found: bool
    tenant_id: str | None = None
    company: str | None = None
    soc_code: str | None = None
    billing_account: str | None = None
    deleted_at: datetime | None = None
    """The support view's Deleted Datetime (set when the number was already removed)."""
    device_id: str | None = None
    """The device on the customer's device list; None when the portal does not list it."""
    label: str | None = None


class NumberRecords(BaseModel):
    records: list[NumberRecord]


class BillingAccountRef(BaseModel):
    account_number: str


class BillingLink(BaseModel):
    account_number: str
    company: str
    update_subscription_url: str
    licences_to_decrease: int = 0
    """Filled by the workflow: this account's e-commerce numbers that were removed."""


class DeleteDevice(BaseModel):
    tenant_id: str
    device_id: str
    number: str


class DeviceDeleted(BaseModel):
    number: str
    device_id: str
    deleted_at: datetime
    """When the device portal removed the device (the same on a retried, replayed call)."""


class VerifyRemoval(BaseModel):
    tenant_id: str
    number: str
    device_id: str
    requested_at: datetime
    """When the workflow asked for the deletion: the Deleted Datetime may not be earlier."""


class RemovalVerified(BaseModel):
    number: str
    deleted_at: datetime
    """The support view's Deleted Datetime."""


# --- state, status and result -----------------------------------------------------------------


class NumberOutcome(StrEnum):
    PENDING = "pending"
    REMOVING = "removing"
    VERIFYING = "verifying"
    REMOVED = "removed"
    """Deleted on the device portal and confirmed by the support view's Deleted Datetime."""
    NOT_VERIFIED = "not-verified"
    """Deleted, but the support view never confirmed it: a support ticket follows it up."""
    NOT_REMOVED = "not-removed"
    """The device portal refused the deletion; nothing changed for this number."""
    MANUAL = "manual-handling"
    """Not touched: the billing path is unclear (unknown SOC code); a ticket hands it over."""
    UNKNOWN = "unknown-number"
    ALREADY_REMOVED = "already-removed"
    OTHER_CUSTOMER = "other-customer"

    @property
    def settled(self) -> bool:
        return self not in (
            NumberOutcome.PENDING,
            NumberOutcome.REMOVING,
            NumberOutcome.VERIFYING,
        )


class NumberState(BaseModel):
    number: str
    outcome: NumberOutcome = NumberOutcome.PENDING
    detail: str = ""
    """One human sentence: what happened to this number, or why not."""
    soc_code: str | None = None
    billing: BillingPath | None = None
    billing_account: str | None = None
    device_id: str | None = None
    label: str | None = None
    deleted_at: datetime | None = None
    verified_at: datetime | None = None

    @property
    def display(self) -> str:
        """The number as messages show it, with its label when it has one."""
        return f"{self.number} ({self.label})" if self.label else self.number


class NumberRemovalStatus(ProcedureStatus):
    """The status query: the shared fields plus where each number stands."""

    numbers: list[NumberState] = Field(default_factory=list)
    manual_ticket_id: str | None = None
    verification_ticket_id: str | None = None


class NumberRemovalResult(BaseModel):
    tenant_id: str
    numbers: list[NumberState]
    removed: int
    """Numbers removed and verified."""
    licences_to_decrease: int
    """E-commerce numbers removed: what the customer must take off their subscription."""
    billing_links: list[BillingLink] = Field(default_factory=list)
    email_message_id: str | None = None
    manual_ticket_id: str | None = None
    verification_ticket_id: str | None = None
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR) and the customer's Admin or
    # Super User who asked; None from older workers.
    started_by: str | None = None
    requested_by: str | None = None
