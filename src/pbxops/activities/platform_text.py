"""Names and addresses read from the platform, checked before they reach an email.

The platform is not trusted to hand over header-safe text: a tenant name with a line break made
``mail.send_deletion_code`` raise ``ValueError`` on every attempt, retried without end. Every
activity that reads a name or an address bound for a message passes it through here: one rule
(``pbxops.contracts.text.check_single_line``, as for an operator's input) and, if it fails, a
**non-retryable** ``ApplicationError`` of type ``UnsafePlatformData`` whose sentence says which
value and why, without echoing it. The procedure ends with that reason instead of retrying
forever, and opens one support ticket that tells a person to fix the record on the platform
(``workflows.sla.ticket_on_unsafe_platform_data``).
"""

from typing import Any

from temporalio.exceptions import ApplicationError

from pbxops.contracts.mail import BadMailbox, check_address
from pbxops.contracts.text import UNSAFE_PLATFORM_DATA, UnsafeText, check_single_line

__all__ = ["UNSAFE_PLATFORM_DATA", "address", "header_text", "unsafe"]


def unsafe(what: str, why: str) -> ApplicationError:
    return ApplicationError(
        f"the platform's {what} cannot be used in an email: {why}; correct it on the platform "
        "and start again",
        type=UNSAFE_PLATFORM_DATA,
        non_retryable=True,
    )


def header_text(value: Any, what: str) -> str:
    """A name (tenant, customer, user) as the platform gave it, if it is one line of text."""
    if not isinstance(value, str):
        raise unsafe(what, f"it is not text ({type(value).__name__})")
    try:
        return check_single_line(value, what)
    except UnsafeText as err:
        raise unsafe(what, str(err)) from None


def address(value: Any, what: str) -> str:
    """An email address as the platform gave it, if it is one valid address on one line."""
    if not isinstance(value, str):
        raise unsafe(what, f"it is not text ({type(value).__name__})")
    try:
        check_address(value, what)
    except UnsafeText as err:
        raise unsafe(what, str(err)) from None
    except BadMailbox:
        raise unsafe(what, "it is not a valid email address") from None
    return value  # as given: other steps compare it with the platform's own records
