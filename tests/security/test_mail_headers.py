"""Mail headers and addresses: what the operator, a file or the platform gives is checked where it
enters, international addresses are delivered, and a permanent refusal fails fast.

Issue 16 items 3 and 4 (recipient hijack; a tenant name with CR/LF retried forever) and issue 19
item 2 (``user@bücher.example``: SMTP 500 for 15 minutes). Real activities, the real simulator
(HTTP + its aiosmtpd SMTP), and for the servers the simulator is not (no SMTPUTF8, a 5xx or 4xx
answer) a real aiosmtpd server of the test's own.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.exceptions import ApplicationError

from pbxops.activities.mail import MailActivities, SmtpSender
from pbxops.activities.pbx import PbxActivities
from pbxops.activities.provisioning import account_snapshot
from pbxops.cli.customer import parse_admin
from pbxops.cli.errors import OperatorError
from pbxops.contracts.mail import EmailMessage
from pbxops.contracts.pbx import TenantRef
from tests.activities.test_activities import SIGNER, VAULT, activity_env
from tests.processes import free_port, wait_until
from tests.stack import Stack, tenant_body

# activities.platform_text.UNSAFE_PLATFORM_DATA, spelled out so this module also imports (and
# its tests fail, rather than error) on the code before the change.
UNSAFE_PLATFORM_DATA = "UnsafePlatformData"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("mail-simulator"))
    try:
        stack.start_simulator()
        yield stack
    finally:
        stack.stop()


def _delivered(stack: Stack, query: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        found = api.get("/api/v1/search", params={"query": query}).json()["messages"]
        return [api.get(f"/api/v1/message/{m['ID']}").json() for m in found]


def _mail(stack: Stack) -> MailActivities:
    return MailActivities(SmtpSender("127.0.0.1", stack.smtp_port), "pbxops <noreply@x.it>", VAULT)


# --- the recipient hijack (issue 16.3) --------------------------------------------------------


HIJACKS = [
    "Eve\r\nBcc: evil@attacker.example <eve@flag.example>",
    "Eve\nBcc: evil@attacker.example <eve@flag.example>",
    "eve@flag.example <evil@attacker.example>",
    '"eve@flag.example" <evil@attacker.example>',
    "Eve <eve@flag.example>, evil@attacker.example",
    "Eve <eve@flag.example> <evil@attacker.example>",
    "alice@flag.example)<evil@attacker.example>",
    "Eve <eve@flag.example>\x00evil@attacker.example",
    "Eve\u202e <eve@flag.example>",
]


@pytest.mark.parametrize("value", HIJACKS)
def test_an_admin_flag_is_one_mailbox_or_refused(value: str):
    """Before: ``parseaddr`` read the first one as ``evil@attacker.example``."""
    with pytest.raises(OperatorError) as err:
        parse_admin(value)
    assert "--admin" in str(err.value)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Giulia Rossi <giulia@acme.example>", ("Giulia Rossi", "giulia@acme.example")),
        ('"Rossi, Giulia" <giulia@acme.example>', ("Rossi, Giulia", "giulia@acme.example")),
        ("giulia@acme.example", ("", "giulia@acme.example")),
        ("Тест Админ <admin@bücher.example>", ("Тест Админ", "admin@bücher.example")),
    ],
)
def test_an_honest_mailbox_reads_as_it_shows(value: str, expected: tuple[str, str]):
    from pbxops.contracts.mail import parse_mailbox

    assert parse_mailbox(value) == expected


# --- platform data bound for a header (issue 16.4) --------------------------------------------


async def test_a_tenant_name_with_a_line_break_is_refused_non_retryable(simulator: Stack):
    """Before: the name went into the code email's Subject, which raised ValueError on every
    attempt, retried without end. Now the read refuses it once, naming the field."""
    tenant = f"crlf-{uuid.uuid4().hex[:6]}"
    simulator.put_tenant(tenant)
    _rename(simulator, tenant, "Acme\r\nBcc: evil@attacker.example")
    async with httpx.AsyncClient(
        base_url=simulator.platform_url, headers=simulator.api().headers
    ) as client:
        pbx = PbxActivities(client, "http://127.0.0.1:1", SIGNER)
        with pytest.raises(ApplicationError) as err:
            await activity_env("admins").run(pbx.get_admins, TenantRef(tenant_id=tenant))
    assert err.value.non_retryable and err.value.type == UNSAFE_PLATFORM_DATA
    assert f"name of tenant '{tenant}'" in err.value.message
    assert "evil@attacker.example" not in err.value.message  # refused, never echoed


def _rename(stack: Stack, tenant: str, name: str) -> None:
    with stack.api() as api:
        body = {**tenant_body(tenant), "name": name}
        api.put(f"/admin/tenants/{tenant}", json=body).raise_for_status()


def test_a_customer_name_with_a_line_break_from_the_platform_is_refused():
    body = {
        "id": "x", "reseller": "r", "name": "X\nBcc: evil@attacker.example",
        "product_type": "essentials", "reference": "", "country": "IT", "locale": "it-IT",
        "state": "active", "created_by": "partner", "trial": False, "trial_days": 30,
        "trial_ends_at": None, "trial_expired": False, "internal_demo": False, "users": 0,
        "admins": 0, "connection": None, "support_contacts": [], "roles_pending": [],
    }  # fmt: skip
    with pytest.raises(ApplicationError) as err:
        account_snapshot(body)
    assert err.value.non_retryable and err.value.type == UNSAFE_PLATFORM_DATA


async def test_a_subject_with_a_line_break_fails_fast_not_forever(simulator: Stack):
    """The mail activity's own guard: a header the stdlib refuses is non-retryable."""
    email = EmailMessage(to=["a@acme.example"], subject="Hi\r\nBcc: evil@x.example", text="t")
    with pytest.raises(ApplicationError) as err:
        await activity_env("notify").run(_mail(simulator).send, email)
    assert err.value.non_retryable and err.value.type == "MailHeaderUnsafe"


# --- international addresses (issue 19.2) -----------------------------------------------------


@pytest.mark.parametrize(
    "address", ["user@bücher.example", "δοκιμή@παράδειγμα.example", "тест@пример.example"]
)
async def test_an_international_address_is_delivered_as_written(simulator: Stack, address: str):
    """Before: SMTP 500 (UnicodeEncodeError), retried for 15 minutes. Now SMTPUTF8, which the
    simulator offers as a real server does; the mailbox shows the address as written."""
    local, domain = address.split("@")
    to = f"{local}{uuid.uuid4().hex[:4]}@{domain}"
    email = EmailMessage(to=[to], subject="Willkommen", text="Hallo")
    await activity_env("notify").run(_mail(simulator).send, email)
    wait_until(lambda: _delivered(simulator, f"to:{to}"), 10, "the message")
    [message] = _delivered(simulator, f"to:{to}")
    assert [a["Address"] for a in message["To"]] == [to]


@dataclass
class Server:
    """A real SMTP server of the test's own: records envelopes, answers DATA as told."""

    answer: str = "250 OK"
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return self.answer


@pytest.fixture
def server() -> Iterator[tuple[Server, int]]:
    handler, port = Server(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _mail_to(port: int) -> MailActivities:
    return MailActivities(SmtpSender("127.0.0.1", port, timeout=5), "pbxops <noreply@x.it>", VAULT)


async def test_without_smtputf8_the_domain_goes_in_idna(server: tuple[Server, int]):
    handler, port = server
    email = EmailMessage(to=["user@bücher.example"], subject="Grüße", text="t", html="<b>h</b>")
    await activity_env("notify").run(_mail_to(port).send, email)
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["user@xn--bcher-kva.example"]
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["To"] == "user@xn--bcher-kva.example" and parsed["Subject"] == "Grüße"
    assert parsed.get_body(("html",)).get_content().strip() == "<b>h</b>"


async def test_a_non_ascii_local_part_without_smtputf8_fails_fast(server: tuple[Server, int]):
    handler, port = server
    email = EmailMessage(to=["δοκιμή@example.com"], subject="s", text="t")
    with pytest.raises(ApplicationError) as err:
        await activity_env("notify").run(_mail_to(port).send, email)
    assert err.value.non_retryable and err.value.type == "MailRejected"
    assert "SMTPUTF8" in err.value.message
    assert handler.envelopes == []


async def test_a_permanent_5xx_fails_fast_with_the_servers_reason(server: tuple[Server, int]):
    """Before: "mail server unavailable", retried for 15 minutes."""
    handler, port = server
    handler.answer = "554 5.7.1 message refused by policy"
    email = EmailMessage(to=["a@acme.example"], subject="s", text="t")
    with pytest.raises(ApplicationError) as err:
        await activity_env("notify").run(_mail_to(port).send, email)
    assert err.value.non_retryable and err.value.type == "MailRejected"
    assert "554" in err.value.message and "message refused by policy" in err.value.message


async def test_a_transient_4xx_is_retried(server: tuple[Server, int]):
    handler, port = server
    handler.answer = "451 4.3.0 try again later"
    email = EmailMessage(to=["a@acme.example"], subject="s", text="t")
    with pytest.raises(ApplicationError) as err:
        await activity_env("notify").run(_mail_to(port).send, email)
    assert not err.value.non_retryable and err.value.type == "MailUnavailable"


@pytest.mark.parametrize(
    "address", ["anna@acme.example\r\nBcc: evil@attacker.example", "Eve <anna@acme.example>"]
)
async def test_a_mobile_users_unsafe_address_goes_to_the_operator_not_to_smtp(
    server: tuple[Server, int], address: str
):
    """The activation data is not lost: the operator gets it, with the reason; nothing is sent."""
    from pbxops.activities.mobile import MobileActivities
    from pbxops.contracts.emails import EmailTemplate

    handler, port = server
    async with httpx.AsyncClient() as http:
        mobile = MobileActivities(
            http,
            SmtpSender("127.0.0.1", port, timeout=5),
            "pbxops <noreply@x.it>",
            VAULT,
            "x",
            SIGNER,
        )
        sent, note = await mobile._send(
            "key-1",
            address,
            EmailTemplate.ESIM_LINE_DELETED,
            {"greeting_name": "Anna", "number": "+393331234567"},
            tenant_id="acme",
        )
    assert (sent, handler.envelopes) == (False, [])
    assert note.startswith("not emailed: the user's email address")
