"""Email as procedures ask for it; the mail activity turns it into a real SMTP message.

Also the one place that says what a mailbox given by a person looks like (``parse_mailbox``):
an address or ``Name <address>``, nothing else. A line break, a second address or a display name
that is itself an address is refused, never "repaired" by a lenient parser into whatever address
it happens to find (``Eve\\r\\nBcc: evil@attacker.example <eve@flag.example>`` made
``email.utils.parseaddr`` answer ``evil@attacker.example``).
"""

import re
from email import errors, policy
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, EmailStr, Field

from pbxops.contracts.text import UnsafeText, check_single_line


class EmailMessage(BaseModel):
    to: list[EmailStr] = Field(min_length=1)
    subject: str
    text: str
    html: str | None = None


class EmailSent(BaseModel):
    message_id: str
    recipients: int


class BadMailbox(ValueError):
    """Not one mailbox; the message is one sentence."""


# ``Name <address>`` or a bare address; the name may be quoted ("Rossi, Giulia" <g@x.example>).
_MAILBOX = re.compile(r"^(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>]*)>|(?P<bare>[^<>]*))$")
# In an unquoted name these separate addresses or groups; '@' makes it look like an address.
_NOT_IN_NAME = set('@<>,;:"\\')


def parse_mailbox(value: str, what: str = "the address") -> tuple[str, str]:
    """``(display name, address)`` of ``"Giulia Rossi <giulia@acme.example>"`` or of a bare
    address (name ""). The address itself is not judged here (the contract's ``Email`` does,
    with the platform's sentence); only that the text is one mailbox and shows what it is."""
    check_single_line(value, what)
    found = _MAILBOX.match(value.strip())
    if found is None:
        raise BadMailbox(f"{what} '{value}' is not one address (Name <user@example.com>)")
    name = (found["name"] or "").strip()
    address = (found["angle"] if found["angle"] is not None else found["bare"] or "").strip()
    quoted = len(name) >= 2 and name[0] == name[-1] == '"'
    if quoted:
        name = name[1:-1]
    if (set(name) & _NOT_IN_NAME) - ({",", ";", ":"} if quoted else set()):
        raise BadMailbox(
            f"{what} '{value}' is not one address: its name part '{name}' holds characters of "
            'an address (@ < > , ; : ")'
        )
    if " " in address or "," in address:
        raise BadMailbox(f"{what} '{value}' is not one address (Name <user@example.com>)")
    _shows_what_it_is(value, name, address, what)
    return name, address


def _shows_what_it_is(value: str, name: str, address: str, what: str) -> None:
    """The stdlib's strict reading of the header we would write gives back the same mailbox."""
    if "@" not in address:
        return  # not an address at all: the contract says so with the platform's sentence
    try:
        rendered = str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError, errors.HeaderParseError):
        return  # an address the stdlib cannot even hold: the contract refuses it
    header = policy.strict.header_factory("To", rendered)
    read = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
    if header.defects or read != [(name, address)]:
        raise BadMailbox(f"{what} '{value}' does not read back as the address it shows")


def check_address(value: str, what: str = "email address") -> str:
    """An address fit for an envelope and a header: one line, valid, no display name. Returns
    it normalised (the domain as Unicode; ``ascii_address`` gives its IDNA form)."""
    check_single_line(value, what)
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise BadMailbox(f"{what} '{value}' is not an email address ({err})") from None


def ascii_address(address: str) -> str | None:
    """The address with its domain in IDNA (``user@xn--bcher-kva.example``), for a server
    without SMTPUTF8; None when the local part itself is not ASCII (only SMTPUTF8 carries it)."""
    try:
        found = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.ascii_email


__all__ = [
    "BadMailbox",
    "EmailMessage",
    "EmailSent",
    "UnsafeText",
    "ascii_address",
    "check_address",
    "parse_mailbox",
]
