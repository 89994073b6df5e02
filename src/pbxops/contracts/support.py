"""Support contacts and problem reports (docs/procedures.md#support-contacts).

A customer account's support contacts receive every problem report of that account. A contact is
an existing partner user (by id) or an explicit email address; an invalid address is refused with
the platform's sentence, "Contains an invalid email", naming the address.
"""

import re
from enum import StrEnum
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from pbxops.contracts.text import MultiLine, SingleLine, UnsafeText, check_single_line

INVALID_EMAIL = "Contains an invalid email"

# Partner user ids and account ids: the platform's id syntax (also safe in URLs and queries).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ID = re.compile(ID_PATTERN)


def check_email(value: str) -> str:
    """An email address as the portal accepts it, or the portal's own refusal naming it.

    A control character anywhere (a line break would start a new mail header) is refused before
    the surrounding white space is stripped, not stripped away with it."""
    try:
        check_single_line(value, "email")
        return validate_email(value.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, UnsafeText):
        raise PydanticCustomError(
            "invalid_email", INVALID_EMAIL + ": '{email}'", {"email": value}
        ) from None


Email = Annotated[str, AfterValidator(check_email)]


def looks_like_partner_id(value: str) -> bool:
    return "@" not in value and bool(_ID.fullmatch(value))


class ContactRef(BaseModel):
    """A support contact as given: ``{"partner": "p-anna"}``, ``{"email": "x@y"}`` or a bare
    string (a partner user id when it has no ``@`` and no spaces, else an email address)."""

    model_config = ConfigDict(extra="forbid")

    partner: str | None = Field(default=None, pattern=ID_PATTERN)
    email: Email | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return {"partner": value} if looks_like_partner_id(value) else {"email": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> "ContactRef":
        if (self.partner is None) == (self.email is None):
            raise PydanticCustomError(
                "contact", "a support contact is either a partner user id or an email address"
            )
        # With the reseller's partner users in the context (the CLI reads them first), an
        # unknown partner is reported here, beside any other error of the same input.
        context = info.context if isinstance(info.context, dict) else {}
        partners = context.get("partner_ids")
        if self.partner and partners is not None and self.partner not in partners:
            raise PydanticCustomError(
                "partner",
                "partner user '{partner}' not found at reseller '{reseller}'",
                {"partner": self.partner, "reseller": context.get("reseller", "?")},
            )
        return self

    def __str__(self) -> str:
        return f"partner user {self.partner}" if self.partner else str(self.email)


class ContactKind(StrEnum):
    PARTNER = "partner"
    EMAIL = "email"


class SupportContact(BaseModel):
    """A contact as the platform stores it; partner users carry their current address."""

    kind: ContactKind
    email: str
    partner_user_id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return (
            f"{self.name} <{self.email}> (partner {self.partner_user_id})"
            if (self.partner_user_id)
            else self.email
        )


class ActingAs(StrEnum):
    """Who changes the contacts: a partner user, or an administrative user of the account."""

    PARTNER = "partner"
    ADMIN = "admin"


class ContactAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class SupportContactsChangeInput(BaseModel):
    account_id: str = Field(pattern=ID_PATTERN)
    action: ContactAction
    contact: ContactRef
    acting_as: ActingAs
    acting_user: SingleLine | None = Field(
        default=None, description="partner user id, or the administrative user's email"
    )


class SupportContactsChangeResult(BaseModel):
    account_id: str
    action: ContactAction
    changed: bool
    contacts: list[SupportContact]
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR); None from older workers.
    started_by: str | None = None


class ProblemReportInput(BaseModel):
    account_id: str = Field(pattern=ID_PATTERN)
    report_id: str = Field(pattern=ID_PATTERN)
    application: SingleLine = Field(min_length=1, max_length=100)
    description: MultiLine = Field(min_length=1, max_length=5000)
    reported_by: Email | None = None


class ProblemReportCreated(BaseModel):
    """The report as the platform recorded it, with the account's contacts at that moment."""

    report_id: str
    account_id: str
    customer_name: str
    created_at: str
    contacts: list[SupportContact]


class ProblemReportResult(BaseModel):
    report_id: str
    account_id: str
    emailed: list[str]
    # Who started it (the start's memo: --by or PBXOPS_OPERATOR); None from older workers.
    started_by: str | None = None


class SupportActivityNames:
    CHANGE_CONTACTS = "support.change_contacts"
    CREATE_REPORT = "support.create_report"
