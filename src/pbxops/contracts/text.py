"""Free text an operator types (names, notes, descriptions): no control characters.

A control character (C0 ``U+0000``-``U+001F``, ``DEL``, C1 ``U+0080``-``U+009F``) in a name or a
note is never meant: an ANSI escape sequence repaints the terminal of whoever lists customers, a
newline forges a line in a log, a NUL truncates a C string. Every free-text field of a contract is
one of the two types below, so each is refused at the contract, wherever the model is validated
(the CLI, a workflow's input, an Update's argument), with a sentence naming the field:
``customer.name: name must not contain control characters (U+001B at character 4)``.

- ``SingleLine``: names, references, ids typed by hand: no control character at all.
- ``MultiLine``: notes and descriptions: line breaks and tabs are text there (``\\r\\n`` is kept as
  ``\\n``); every other control character is refused.

The bidirectional embedding, override and isolate characters (``U+202A``-``U+202E``,
``U+2066``-``U+2069``) are refused the same way in both: invisible, they make a ticket, an email or
a terminal show text in an order other than the one stored ("Trojan Source", CVE-2021-42574), and
no name or note needs them (right-to-left text displays correctly without them).

Leading and trailing white space is the model's business (``str_strip_whitespace``).
"""

import re
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

# Unicode category Cc, exactly: C0, DEL and C1; then the bidirectional overrides.
_BIDI = "\u202a-\u202e\u2066-\u2069"
# SingleLine also refuses U+2028/U+2029: str.splitlines() (and so the email package) breaks
# a header there.
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029{_BIDI}]")
_CONTROL_BUT_LINES = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")


def _refuse(value: str, pattern: re.Pattern[str], info: ValidationInfo, allowed: str) -> str:
    found = pattern.search(value)
    if found is None:
        return value
    char = ord(found.group())
    if char in (0x2028, 0x2029):
        kind = "line separators"
    elif char > 0x9F:
        kind, allowed = "bidirectional override characters", ""
    else:
        kind = "control characters"
    raise PydanticCustomError(
        "control_characters",
        "{field} must not contain {kind}{allowed} ({char} at character {at})",
        {
            "field": (info.field_name or "text").replace("_", " "),
            "kind": kind,
            "allowed": allowed,
            "char": f"U+{char:04X}",
            "at": found.start() + 1,
        },
    )


def single_line(value: str, info: ValidationInfo) -> str:
    """No control character at all, line breaks and tabs included."""
    return _refuse(value, _CONTROL, info, "")


def multi_line(value: str, info: ValidationInfo) -> str:
    """Line breaks and tabs are text; any other control character is refused."""
    return _refuse(
        value.replace("\r\n", "\n"), _CONTROL_BUT_LINES, info, " other than line breaks and tabs"
    )


SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]


class UnsafeText(ValueError):
    """A value outside a pydantic model (a flag parsed by hand, data read from the platform)
    with a character :data:`SingleLine` refuses; the message is one sentence naming ``what``."""


def check_single_line(value: str, what: str) -> str:
    """:data:`SingleLine`'s rule for code that holds a plain string: a name or an address bound
    for an email header (where a line break starts a new header: ``Bcc: someone@else``), a
    terminal or a log. Same characters, same sentence as the model's."""
    found = _CONTROL.search(value)
    if found is None:
        return value
    char = ord(found.group())
    kind = "control characters"
    if char in (0x2028, 0x2029):
        kind = "line separators"
    elif char > 0x9F:
        kind = "bidirectional override characters"
    raise UnsafeText(
        f"{what} must not contain {kind} (U+{char:04X} at character {found.start() + 1})"
    )


# The type of the non-retryable failure of an activity that refused a name or an address read
# from the platform (activities/platform_text.py); workflows recognise it by this type.
UNSAFE_PLATFORM_DATA = "UnsafePlatformData"


def defused(value: str) -> str:
    """``value`` with every character :data:`SingleLine` refuses shown as ``?``: a sentence that
    may quote a platform value (an id) goes into a ticket or a log as one line of plain text."""
    return _CONTROL.sub("?", value)
