"""Customer emails as workflows ask for them: a template's name and its values, never the text.

The text is rendered by the mail activity (``activities/emails.py``) from the templates in
``activities/templates/`` and the gettext catalogues in ``activities/locale/``, in the language
of the tenant (its country, or the per-tenant override ``PBXOPS_EMAIL_LANGUAGES``) and its time
zone. Workflows stay deterministic and free of wording; a translator edits ``.po`` files only.
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, EmailStr, Field

# Workflows started before emails came from templates built them inline and sent them with
# ``mail.send``; those started after ask ``mail.send_template``. Kept while such runs may replay.
EMAIL_TEMPLATES_PATCH = "emails-from-templates"

# The language every email falls back to, and the one the provider's own staff read.
FALLBACK_LANGUAGE = "en"


class EmailTemplate(StrEnum):
    """Every customer-facing email pbxops sends (docs/emails.md has the table by language)."""

    DELETION_CODE = "deletion_code"
    DELETION_DONE = "deletion_done"
    TRANSITION_DONE = "transition_done"
    INVITATION = "invitation"
    INVITATION_WITHDRAWN = "invitation_withdrawn"
    TRIAL_EXPIRED = "trial_expired"
    PROBLEM_REPORT = "problem_report"
    ESIM_ACTIVATION = "esim_activation"
    ESIM_NEW_CODE = "esim_new_code"
    ESIM_LOST_STOLEN = "esim_lost_stolen"
    ESIM_LINE_DELETED = "esim_line_deleted"
    NUMBER_REMOVAL_DONE = "number_removal_done"


class Audience(BaseModel):
    """Whose language and time zone: what the workflow already knows, the rest is looked up.

    ``tenant_id`` (a service tenant) or ``account_id`` (a customer account) names the customer
    for the per-tenant override and, when ``country`` is not given, for the platform lookup.
    """

    tenant_id: str | None = None
    account_id: str | None = None
    country: str | None = None
    locale: str | None = None
    timezone: str | None = None


class TemplatedEmail(BaseModel):
    template: EmailTemplate
    to: list[EmailStr] = Field(min_length=1)
    """The customer's recipients: one message in the customer's language."""
    staff_to: list[EmailStr] = Field(default_factory=list)
    """The provider's own staff (e.g. the operator who asked): one more message, in English."""
    audience: Audience
    values: dict[str, Any] = Field(default_factory=dict)
    """The template's values: plain JSON (datetimes as ISO 8601 strings are formatted per
    language and time zone by the template's ``datetime``/``date`` filters)."""


class EmailActivities:
    SEND_TEMPLATE = "mail.send_template"
