"""Free text in contracts (contracts/text.py): control characters are refused, naming the field.

The validator itself, then every free-text field of the contracts an operator (or an Update)
fills in, then the one line the CLI makes of it.
"""

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pbxops.cli.validation import validation_errors
from pbxops.contracts.deletion import WithdrawRequest
from pbxops.contracts.mobile import CodeRequest, DeleteRequest
from pbxops.contracts.provisioning import (
    AccountChanges,
    AdminUser,
    CustomerDetails,
    CustomerProvisioningInput,
    PbxConnectionSpec,
    RoleAssignment,
    RoleSetup,
)
from pbxops.contracts.support import (
    ActingAs,
    ContactAction,
    ProblemReportInput,
    SupportContactsChangeInput,
)
from pbxops.contracts.text import MultiLine, SingleLine


class Form(BaseModel):
    title: SingleLine = ""
    body: MultiLine = ""


CONTROLS = [
    ("\x1b[31m", "U+001B"),  # ANSI colour
    ("\x1b]0;pwned\x07", "U+001B"),  # terminal title
    ("\n", "U+000A"),
    ("\r", "U+000D"),
    ("\t", "U+0009"),
    ("\x00", "U+0000"),
    ("\x07", "U+0007"),
    ("\x7f", "U+007F"),
    ("\x85", "U+0085"),  # C1 next line
    ("\x9b", "U+009B"),  # C1 CSI
]


@pytest.mark.parametrize("control, code", CONTROLS)
def test_single_line_text_refuses_every_control_character(control, code):
    with pytest.raises(ValidationError) as refused:
        Form(title=f"Bad{control}x")

    [error] = refused.value.errors()
    assert error["loc"] == ("title",) and error["type"] == "control_characters"
    assert error["msg"] == f"title must not contain control characters ({code} at character 4)"


@pytest.mark.parametrize("control, code", [c for c in CONTROLS if c[0] not in ("\n", "\t")])
def test_multi_line_text_refuses_controls_other_than_line_breaks_and_tabs(control, code):
    with pytest.raises(ValidationError) as refused:
        Form(body=f"line one\nBad{control}x")

    assert refused.value.errors()[0]["msg"] == (
        "body must not contain control characters other than line breaks and tabs "
        f"({code} at character 13)"
    )


def test_multi_line_text_keeps_line_breaks_and_tabs():
    assert Form(body="first\r\nsecond\n\tindented").body == "first\nsecond\n\tindented"


BIDI = [
    ("\u202e", "U+202E"),  # right-to-left override: "Trojan Source"
    ("\u202a", "U+202A"),  # left-to-right embedding
    ("\u2066", "U+2066"),  # left-to-right isolate
    ("\u2069", "U+2069"),  # pop directional isolate
]


@pytest.mark.parametrize("bidi, code", BIDI)
def test_bidirectional_overrides_are_refused_in_both_kinds(bidi, code):
    with pytest.raises(ValidationError) as single:
        Form(title=f"inv{bidi}fdp.exe")
    with pytest.raises(ValidationError) as multi:
        Form(body=f"inv{bidi}fdp.exe")

    expected = f"must not contain bidirectional override characters ({code} at character 4)"
    assert single.value.errors()[0]["msg"] == f"title {expected}"
    assert multi.value.errors()[0]["msg"] == f"body {expected}"


@pytest.mark.parametrize(
    "text",
    [
        "ACME S.r.l.",
        "Müller & Söhne GmbH — Zürich",
        "日本の会社 😀",
        "شركة الاتصالات المحدودة",  # right-to-left text needs no override to display
        'חברה בע"מ \u200f(ACME)',  # a right-to-left mark is a mark, not an override
        "O'Brien <b>bold</b> {{7*7}} $(id) Robert'); DROP TABLE customers;--",
        "",
    ],
)
def test_everything_else_is_text(text):
    assert Form(title=text, body=text) == Form(title=text, body=text)
    assert Form(title=text).title == text


# --- every free-text field of the contracts ------------------------------------------------------

ESC = "Bad\x1b[2Jx"
CUSTOMER = {"name": "ACME", "product_type": "essentials", "country": "IT"}
CONTACTS = {"account_id": "acme", "action": ContactAction.ADD, "contact": "p-anna"}
REPORT = {"account_id": "acme", "report_id": "PR-1", "application": "App", "description": "d"}


def _field(model: Callable[..., Any], base: dict[str, Any], name: str, listed: bool = False) -> Any:
    """One field: the model's other fields valid, this one with an escape sequence in it."""
    bad, good = ([ESC], ["Bad[2Jx"]) if listed else (ESC, "Bad[2Jx")
    return pytest.param(model, base, name, bad, good, id=f"{model.__name__}.{name}")


FREE_TEXT_FIELDS = [
    _field(CustomerDetails, CUSTOMER, "name"),
    _field(CustomerDetails, CUSTOMER, "product_type"),
    _field(CustomerDetails, CUSTOMER, "reference"),
    _field(CustomerDetails, CUSTOMER, "notes"),
    _field(AdminUser, {"email": "ada@acme.example"}, "name"),
    _field(PbxConnectionSpec, {"host": "pbx.acme.example"}, "template"),
    _field(RoleAssignment, {"user": "ada@acme.example"}, "roles", listed=True),
    _field(RoleSetup, {}, "default_roles", listed=True),
    _field(AccountChanges, {}, "name"),
    _field(AccountChanges, {}, "product_type"),
    _field(AccountChanges, {}, "reference"),
    _field(AccountChanges, {}, "notes"),
    _field(SupportContactsChangeInput, {**CONTACTS, "acting_as": ActingAs.ADMIN}, "acting_user"),
    _field(ProblemReportInput, REPORT, "application"),
    _field(ProblemReportInput, REPORT, "description"),
    _field(CodeRequest, {}, "requested_by"),
    _field(DeleteRequest, {}, "requested_by"),
    _field(WithdrawRequest, {}, "reason"),
]


@pytest.mark.parametrize("model, base, field, bad, good", FREE_TEXT_FIELDS)
def test_every_free_text_field_refuses_control_characters(model, base, field, bad, good):
    with pytest.raises(ValidationError) as refused:
        model(**{**base, field: bad})

    [error] = refused.value.errors()
    assert error["type"] == "control_characters" and error["loc"][0] == field
    assert error["msg"].startswith(f"{field.replace('_', ' ')} must not contain control")
    assert "(U+001B at character 4)" in error["msg"]
    assert getattr(model(**{**base, field: good}), field) == good  # the rest of it is fine


def test_the_cli_line_names_the_field_once_with_its_path():
    data = {
        "reseller": "northwind",
        "customer": {**CUSTOMER, "name": "Bad\x1b[31mRed", "notes": "ok\nfine\x00"},
        "admins": [{"name": "Ada\x9bL", "email": "ada@acme.example"}],
        "pbx": {"host": "pbx.acme.example"},
        "support_contacts": ["p-anna"],
    }
    with pytest.raises(ValidationError) as refused:
        CustomerProvisioningInput.model_validate(data)

    assert validation_errors(refused.value) == (
        "3 problems: customer.name must not contain control characters (U+001B at character 4); "
        "customer.notes must not contain control characters other than line breaks and tabs "
        "(U+0000 at character 8); "
        "admins[0].name must not contain control characters (U+009B at character 4)"
    )
