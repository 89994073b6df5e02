"""The bad-input catalogue: every way an operator can get a command wrong, across every command.

Two tables, one test run per row, against the session stack (dev server, simulator, worker):
``CATALOGUE`` (wrong input) through the real ``pbxops`` executable, and ``HOSTILE`` (an
attacker's input: header injection, hostile files and values, bad output paths; issue 16) mostly
in-process through typer's ``CliRunner`` (the same ``_main``, ~100x faster), some rows through
the executable too. For every row:

- the exit code is not 0;
- stderr is exactly one line, ``error: <one human sentence>``, naming the bad value; no traceback;
- nothing changed: the simulator's view of every tenant, number, device, customer account and
  ticket the catalogue uses is read before and after (``snapshot``), and so are the number of
  messages to the catalogue's addresses in the mailbox, the number of workflow executions and
  the pending deletion's status (its wrong-code count); no file appears in the output
  directory; the error repeats nothing a row says it must not (``absent``).

The world the rows act on is made once (``world``): tenants in each service state, a deactivation
already running, deletion requests awaiting confirmation / expired / locked, mobile lines online
and with an expired code, phone numbers, a reseller with accounts. Every id starts with ``bad``.
"""

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from typer.testing import CliRunner

from pbxops.cli import app as cli
from pbxops.contracts import search_attributes as sa
from pbxops.contracts.deletion import DeletionInput, DeletionResult, Phase
from pbxops.contracts.procedures import Procedure
from pbxops.runtime.settings import Settings, get_settings
from pbxops.runtime.temporal import connect
from tests.processes import wait_until
from tests.stack import ADMIN_HEADERS, TOKEN, Stack, tenant_body

pytestmark = pytest.mark.e2e

ACTIVE, OFF, BUSY = "bad-active", "bad-off", "bad-busy"
AWAITING, EXPIRED, LOCKED = "bad-await", "bad-expired", "bad-locked"
MOBILE, NUMBERS = "bad-mobile", "bad-num"
TENANTS = (ACTIVE, OFF, BUSY, AWAITING, EXPIRED, LOCKED, MOBILE, NUMBERS)
RESELLER, PARTNER, ACCOUNT, DIRECT = "bad-reseller", "p-bad", "bad-acct", "bad-direct"
NUMBER, NUMBER_UNKNOWN = "+390699100001", "+390699100099"
DEAD_PORT = "http://127.0.0.1:1"
LONG = "x" * 5000
INJECTION = "x' OR TenantId != '"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    expect: str  # a fragment of the error line, naming the bad value
    env: dict[str, str] = field(default_factory=dict)
    via: str = "exe"  # "exe": the real executable; "in-process": CliRunner around `_main`
    absent: tuple[str, ...] = ()  # what the output must not repeat (file content, secrets)


def case(id: str, *args: str, expect: str, **env: str) -> Any:
    return pytest.param(Case(id, args, expect, env), id=id)


CREATE = (
    "customer", "create", "--reseller", RESELLER, "--product-type", "essentials",
    "--pbx-host", "pbx.bad.example",
)  # fmt: skip


def create(name: str = "Bad New", *extra: str, admin: str = "Ada <ada@bad-new.example>",
           country: str = "IT", contact: str | None = PARTNER) -> tuple[str, ...]:  # fmt: skip
    args = (*CREATE, "--name", name, "--country", country, "--admin", admin, *extra)
    return (*args, "--contact", contact) if contact else args


CATALOGUE = [
    # --- unknown things -------------------------------------------------------------------------
    case("unknown-tenant-deactivate", "deactivate", "--tenant", "bad-nobody",
         expect="tenant 'bad-nobody' not found"),
    case("unknown-tenant-mobile-list", "mobile", "list", "--tenant", "bad-nobody",
         expect="tenant 'bad-nobody' not found"),
    case("unknown-user-mobile-provision", "mobile", "provision", "--tenant", MOBILE, "--user",
         "bad-u9", expect=f"user 'bad-u9' not found in tenant '{MOBILE}'"),
    case("unknown-device-new-code", "mobile", "new-code", "--device", "md-bad0000000",
         expect="no mobile line with device id 'md-bad0000000'"),
    case("unknown-number", "number", "remove", "--number", NUMBER_UNKNOWN, "--requested-by",
         f"anna@{NUMBERS}.example", expect=f"number {NUMBER_UNKNOWN} is not known to CSU"),
    case("unknown-number-status", "number", "status", NUMBER_UNKNOWN,
         expect=f"no removal with workflow id 'number-removal/{NUMBER_UNKNOWN}'"),
    case("unknown-account-show", "customer", "show", "bad-nobody",
         expect="customer account 'bad-nobody' not found"),
    case("unknown-reseller", *create(), "--reseller", "bad-nobody",
         expect="reseller 'bad-nobody' not found"),
    case("unknown-workflow-status", "status", "pbx-deletion/bad-nobody",
         expect="no procedure with workflow id 'pbx-deletion/bad-nobody'"),
    # --- wrong state ----------------------------------------------------------------------------
    case("wrong-state-deactivate", "deactivate", "--tenant", OFF,
         expect=f"the service of tenant '{OFF}' is deactivated; a deactivation needs it active"),
    case("wrong-state-reactivate", "reactivate", "--tenant", ACTIVE,
         expect=f"the service of tenant '{ACTIVE}' is active; a reactivation needs it deactivated"),
    case("wrong-state-new-code-online", "mobile", "new-code", "--device", "{online_device}",
         expect="is online; a new activation code can be generated only while it is pending"),
    case("wrong-state-withdraw-expired", "delete", "cancel", "--tenant", EXPIRED,
         expect="expired — start the deletion again"),
    case("wrong-state-enable-pbx-no-connection", "customer", "enable-pbx", ACCOUNT,
         expect=f"account '{ACCOUNT}' has no PBX connection"),
    case("wrong-requester-role", "number", "remove", "--number", NUMBER, "--requested-by",
         f"ugo@{NUMBERS}.example", expect=f"ugo@{NUMBERS}.example is not an Admin or Super User"),
    case("wrong-actor-admin-on-provider-account", "contacts", "add", "help@bad.example",
         "--account", DIRECT, "--as", "admin", "--by", "ops@bad.example",
         expect=f"only on accounts created by a partner; account '{DIRECT}'"),
    # --- duplicate start ------------------------------------------------------------------------
    case("duplicate-deactivation", "deactivate", "--tenant", BUSY,
         expect=f"tenant '{BUSY}' already has a running ServiceDeactivation"),
    case("duplicate-procedure-on-busy-tenant", "delete", "--tenant", BUSY, "--requested-by",
         "ops@bad.example", expect=f"tenant '{BUSY}' already has a running ServiceDeactivation"),
    case("duplicate-deletion-request", "delete", "--tenant", AWAITING, "--requested-by",
         "ops@bad.example", expect=f"tenant '{AWAITING}' already has a running ServiceDeletion"),
    case("duplicate-mobile-line", "mobile", "provision", "--tenant", MOBILE, "--user",
         f"{MOBILE}-u1", expect=f"user '{MOBILE}-u1' of tenant '{MOBILE}' already has mobile line"),
    case("duplicate-customer-name", *create("Bad Acct"),
         expect=f"a customer named 'Bad Acct' already exists for reseller '{RESELLER}'"),
    # --- codes: malformed, expired, locked, used ------------------------------------------------
    # (A malformed, expired or used activation code is the phone's, so the simulator's CLI:
    # sim/tests/test_simulator_phone_cli.py.)
    case("malformed-code-letters", "delete", "confirm", "--tenant", AWAITING, "--code", "12ab",
         expect="the code is 8 digits"),
    case("expired-deletion-code", "delete", "confirm", "--tenant", EXPIRED, "--code", "12345678",
         expect="expired — start the deletion again"),
    case("expired-code-to-print", "mobile", "code", "--device", "{expired_device}",
         expect="has no usable activation code"),
    case("locked-deletion-request", "delete", "confirm", "--tenant", LOCKED, "--code",
         "12345678", expect="locked after too many wrong codes — start the deletion again"),
    case("no-deletion-request", "delete", "confirm", "--tenant", ACTIVE, "--code", "12345678",
         expect=f"there is no deletion request for tenant '{ACTIVE}'"),
    # --- invalid email / country / phone number -------------------------------------------------
    case("invalid-email-requested-by", "delete", "--tenant", ACTIVE, "--requested-by",
         "not-an-email", expect="requested-by: value is not a valid email address"),
    case("invalid-email-number-requester", "number", "remove", "--number", NUMBER,
         "--requested-by", "anna@@bad", expect="--requested-by 'anna@@bad' is not an email"),
    case("invalid-email-admin", *create(admin="Ada <ada@@bad>"),
         expect="Contains an invalid email"),
    case("invalid-email-contact", "contacts", "add", "help@@bad", "--account", ACCOUNT, "--as",
         "partner", "--by", PARTNER, expect="Contains an invalid email: 'help@@bad'"),
    case("invalid-country-create", *create(country="XX"),
         expect="'XX' is not an ISO 3166-1 alpha-2 country code"),
    case("invalid-country-update", "customer", "update", ACCOUNT, "--country", "Italia",
         expect="'Italia' is not an ISO 3166-1 alpha-2 country code"),
    case("invalid-phone-number", "number", "remove", "--number", "12ab", "--requested-by",
         f"anna@{NUMBERS}.example", expect="'12ab' is not a phone number"),
    case("missing-numbers-file", "number", "remove", "--numbers-file", "/nonexistent/bad.txt",
         "--requested-by", f"anna@{NUMBERS}.example", expect="/nonexistent/bad.txt"),
    case("invalid-month", "billing", "export", "--month", "2026-13", "--json",
         expect="--month '2026-13' is not a month"),
    case("invalid-since", "cdr", "--since", "yesterday", expect="--since 'yesterday'"),
    # --- support contacts -----------------------------------------------------------------------
    case("missing-support-contact", *create(contact=None),
         expect="at least one support contact (a partner user or an email address) is required"),
    case("removing-the-last-contact", "contacts", "remove", PARTNER, "--account", ACCOUNT,
         "--as", "partner", "--by", PARTNER,
         expect=f"account '{ACCOUNT}' must keep at least one support contact"),
    # --- oversized fields -----------------------------------------------------------------------
    case("oversized-customer-name", *create(LONG),
         expect="customer.name: String should have at most 100 characters"),
    case("oversized-notes", *create(), "--notes", LONG,
         expect="customer.notes: String should have at most 2000 characters"),
    case("oversized-problem-description", "report-problem", "--account", ACCOUNT,
         "--application", "Softphone", "--description", "y" * 6000,
         expect="description: String should have at most 5000 characters"),
    case("oversized-tenant-id", "deactivate", "--tenant", "t" * 65,
         expect="is not a tenant id (letters, digits, '.', '_', '-'; at most 64)"),
    # --- control characters: refused in free text, escaped where a bad value is echoed ----------
    case("control-chars-customer-name", *create("Bad\x1b[31mRed"),
         expect="customer.name must not contain control characters (U+001B at character 4)"),
    case("control-chars-notes", *create(), "--notes", "fine\n\x1b]0;pwned\x07",
         expect="customer.notes must not contain control characters other than line breaks and "
                "tabs (U+001B at character 6)"),
    case("newline-in-reference", *create(), "--reference", "PO\n42",
         expect="customer.reference must not contain control characters (U+000A at character 3)"),
    case("nul-in-customer-file", "customer", "create", "--file", "{json_nul}",
         expect="customer.name must not contain control characters (U+0000 at character 4)"),
    case("control-chars-admin-name", *create(admin="Ada\x9bLovelace <ada@bad-new.example>"),
         expect="--admin must not contain control characters (U+009B at character 4)"),
    case("control-chars-update-name", "customer", "update", ACCOUNT, "--name", "Bad\x1b[2J",
         expect="name must not contain control characters (U+001B at character 4)"),
    case("control-chars-problem-application", "report-problem", "--account", ACCOUNT,
         "--application", "Soft\x1b[5mphone", "--description", "it rings",
         expect="application must not contain control characters (U+001B at character 5)"),
    case("control-chars-contact-by", "contacts", "add", "help@bad.example", "--account", ACCOUNT,
         "--as", "partner", "--by", "p-bad\x1b[8m",
         expect="--by must not contain control characters (U+001B at character 6)"),
    case("control-chars-echoed-escaped", "deactivate", "--tenant", "bad\x1b[31m\nnobody",
         expect="'bad\\x1b[31m\\nnobody' is not a tenant id"),
    # --- command lines that do not parse: one line too, exit code 2 -----------------------------
    case("unknown-option", "deactivate", "--bogus",
         expect="No such option: --bogus (see 'pbxops deactivate --help')"),
    case("worker-unexpected-argument", "worker", "now",
         expect="Got unexpected extra argument(s) (now) (see 'pbxops worker --help')"),
    case("missing-option-value", "mobile", "status", "--device",
         expect="Option '--device' requires an argument (see 'pbxops mobile status --help')"),
    # --- injection-looking strings --------------------------------------------------------------
    case("injection-tenant-list", "list", "--tenant", INJECTION,
         expect=f"'{INJECTION}' is not a tenant id"),
    case("injection-tenant-ui-views", "ui-views", "--tenant", INJECTION,
         expect=f"'{INJECTION}' is not a tenant id"),
    case("injection-tenant-delete", "delete", "--tenant", "bad'; DROP TABLE tenants; --",
         "--requested-by", "ops@bad.example",
         expect="'bad'; DROP TABLE tenants; --' is not a tenant id"),
    case("injection-tenant-tickets", "tickets", "--tenant", "../admin/reset",
         expect="'../admin/reset' is not a tenant id"),
    case("injection-device-id", "mobile", "status", "--device", "md-x' OR '1'='1",
         expect="'md-x' OR '1'='1' is not a device id"),
    case("injection-account-id", "customer", "show", "../../admin/reset",
         expect="'../../admin/reset' is not a tenant id"),
    case("injection-code", "delete", "confirm", "--tenant", AWAITING, "--code",
         "1 OR 1=1", expect="the code is 8 digits"),
    # --- files that are not a customer ----------------------------------------------------------
    case("yaml-list", "customer", "create", "--file", "{yaml_list}",
         expect="must hold a mapping (reseller:, customer:, admins:, ...)"),
    case("yaml-scalar", "customer", "create", "--file", "{yaml_scalar}",
         expect="must hold a mapping (reseller:, customer:, admins:, ...)"),
    case("yaml-broken", "customer", "create", "--file", "{yaml_broken}",
         expect="is not valid YAML (line"),
    # --- unreachable Temporal server / simulator ------------------------------------------------
    case("temporal-down-deactivate", "deactivate", "--tenant", ACTIVE,
         expect="cannot reach the Temporal server at 127.0.0.1:1",
         PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"),
    case("temporal-down-confirm", "delete", "confirm", "--tenant", AWAITING, "--code",
         "12345678", expect="cannot reach the Temporal server at 127.0.0.1:1",
         PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"),
    case("simulator-down-mobile-list", "mobile", "list", "--tenant", MOBILE,
         expect=f"cannot reach the PBX platform at {DEAD_PORT}", PBXOPS_PLATFORM_URL=DEAD_PORT),
    case("simulator-down-customer-show", "customer", "show", ACCOUNT,
         expect=f"cannot reach the PBX platform at {DEAD_PORT}", PBXOPS_PLATFORM_URL=DEAD_PORT),
    case("simulator-down-number-remove", "number", "remove", "--number", NUMBER,
         "--requested-by", f"anna@{NUMBERS}.example", PBXOPS_PLATFORM_URL=DEAD_PORT,
         expect=f"cannot reach the support view (CSU) at {DEAD_PORT}"),
    case("temporal-down-setup", "setup", expect="cannot reach the Temporal server at 127.0.0.1:1",
         PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"),
    case("temporal-down-deliveries", "deliveries",
         expect="cannot reach the Temporal server at 127.0.0.1:1",
         PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"),
    case("wrong-platform-token", "deactivate", "--tenant", ACTIVE,
         expect="the PBX platform refused our token", PBXOPS_PLATFORM_TOKEN="not-the-token"),
]  # fmt: skip


# --- hostile input (issue 16 items 3-5, issue 19): run in-process, a few through the executable --
# Most of these are refused before anything is contacted, so they run in-process (typer's
# CliRunner isolation around the same ``_main`` the executable runs: ~10 ms instead of ~1 s a
# row); those marked ``EXE`` go through the real ``pbxops`` executable too. ``absent``: what the
# error must not repeat (a file's content, a credential).

EXE = "exe"
SHADOW_SECRET = "$6$pbxopsSalt$Zm9yZ2VkLWhhc2gtb2Ytcm9vdHMtcGFzc3dvcmQ"
HIJACK = "Eve\r\nBcc: evil@attacker.example <eve@flag.example>"


def hostile(id: str, *args: str, expect: str, via: str = "in-process",
            absent: tuple[str, ...] = (), **env: str) -> Any:  # fmt: skip
    return pytest.param(Case(id, args, expect, env, via, absent), id=id)


def confirm(code: str) -> tuple[str, ...]:
    return ("delete", "confirm", "--tenant", AWAITING, "--code", code)


NOT_ONE = "is not one address"
CONTROL = "must not contain control characters"

HOSTILE = [
    # --- recipient hijack: an --admin flag is one mailbox, read strictly (16.3) -----------------
    hostile("hijack-admin-crlf-bcc", *create(admin=HIJACK), via=EXE,
            expect="--admin must not contain control characters (U+000D at character 4)"),
    hostile("hijack-admin-lf-bcc", *create(admin="Eve\nBcc: evil@attacker.example <e@bad.example>"),
            expect="--admin must not contain control characters (U+000A at character 4)"),
    hostile("hijack-admin-cr-only", *create(admin="Eve\rCc: evil@attacker.example <e@bad.example>"),
            expect="--admin must not contain control characters (U+000D at character 4)"),
    hostile("hijack-admin-address-as-name",
            *create(admin="eve@flag.example <evil@attacker.example>"),
            expect="its name part 'eve@flag.example' holds characters of an address"),
    hostile("hijack-admin-quoted-address-as-name",
            *create(admin='"eve@flag.example" <evil@attacker.example>'),
            expect="its name part 'eve@flag.example' holds characters of an address"),
    hostile("hijack-admin-two-addresses",
            *create(admin="Eve <eve@flag.example>, evil@attacker.example"), expect=NOT_ONE),
    hostile("hijack-admin-two-angles",
            *create(admin="Eve <eve@flag.example> <evil@attacker.example>"), expect=NOT_ONE),
    hostile("hijack-admin-paren-trick", *create(admin="alice@flag.example)<evil@attacker.example>"),
            expect="holds characters of an address"),
    hostile("hijack-admin-group-syntax",
            *create(admin="Friends: evil@attacker.example;"), expect=NOT_ONE),
    hostile("hijack-admin-semicolon-list",
            *create(admin="Eve <eve@flag.example>; evil@attacker.example"), expect=NOT_ONE),
    hostile("hijack-admin-tab", *create(admin="Eve\t<eve@bad.example>"),
            expect="--admin must not contain control characters (U+0009 at character 4)"),
    hostile("hijack-admin-line-separator", *create(admin="Eve\u2028Bcc <eve@bad.example>"),
            expect="--admin must not contain line separators (U+2028 at character 4)"),
    hostile("hijack-admin-bidi", *create(admin="Eve\u202e <eve@bad.example>"),
            expect="--admin must not contain bidirectional override characters (U+202E"),
    hostile("hijack-admin-nel", *create(admin="Eve\x85Bcc: x <eve@bad.example>"),
            expect="--admin must not contain control characters (U+0085 at character 4)"),
    hostile("hijack-admin-crlf-in-address",
            *create(admin="Eve <eve@bad.example\r\nBcc: x@y.example>"),
            expect="--admin must not contain control characters (U+000D at character 21)"),
    hostile("hijack-admin-backslash-name", *create(admin="Eve\\ <eve@bad.example>"),
            expect="holds characters of an address"),
    hostile("hijack-admin-unclosed-angle", *create(admin="Eve <eve@bad.example"),
            expect=NOT_ONE),
    hostile("hijack-admin-space-in-address", *create(admin="eve@bad.example evil@attacker.example"),
            expect=NOT_ONE),
    # --- line breaks in every other name or address a header could carry ------------------------
    hostile("crlf-customer-name", *create("Bad\r\nBcc: evil@attacker.example"),
            expect="customer.name must not contain control characters (U+000D at character 4)"),
    hostile("line-separator-customer-name", *create("Bad\u2028Bcc evil"),
            expect="customer.name must not contain line separators (U+2028 at character 4)"),
    hostile("paragraph-separator-customer-name", *create("Bad\u2029Name"),
            expect="customer.name must not contain line separators (U+2029 at character 4)"),
    hostile("bidi-customer-name", *create("Bad\u202eeman"),
            expect="customer.name must not contain bidirectional override characters"),
    hostile("isolate-customer-name", *create("Bad\u2066Name"),
            expect="customer.name must not contain bidirectional override characters"),
    hostile("crlf-contact-email", *create(contact="help@bad.example\r\nBcc: evil@attacker.example"),
            expect="Contains an invalid email"),
    hostile("crlf-default-role", *create(), "--default-role", "User\r\nAdmin",
            expect="roles.default_roles[0] must not contain control characters (U+000D at "
                   "character 5)"),
    hostile("crlf-pbx-template", *create(), "--pbx-template", "default\r\nX",
            expect="pbx.template must not contain control characters (U+000D at character 8)"),
    hostile("homoglyph-pbx-host", *create(), "--pbx-host", "pbx.b\u0430d.example",
            expect="is not a host name"),
    hostile("crlf-update-reference", "customer", "update", ACCOUNT, "--reference", "PO\r\nBcc: x",
            expect="reference must not contain control characters (U+000D at character 3)"),
    hostile("bell-update-notes", "customer", "update", ACCOUNT, "--notes", "ring\x07",
            expect="notes must not contain control characters other than line breaks and tabs"),
    hostile("crlf-contacts-add-email", "contacts", "add",
            "help@bad.example\r\nBcc: evil@attacker.example", "--account", ACCOUNT, "--as",
            "partner", "--by", PARTNER, expect="Contains an invalid email", via=EXE),
    hostile("crlf-contacts-by", "contacts", "add", "help@bad.example", "--account", ACCOUNT,
            "--as", "admin", "--by", "ops@bad.example\r\nBcc: x",
            expect="--by must not contain control characters (U+000D at character 16)"),
    hostile("crlf-problem-application", "report-problem", "--account", ACCOUNT, "--application",
            "Softphone\r\nBcc: evil@attacker.example", "--description", "it rings",
            expect="application must not contain control characters (U+000D at character 10)"),
    hostile("crlf-problem-reporter", "report-problem", "--account", ACCOUNT, "--application",
            "Softphone", "--description", "it rings", "--reporter",
            "ada@bad.example\r\nBcc: evil@attacker.example", expect="Contains an invalid email"),
    hostile("escape-problem-description", "report-problem", "--account", ACCOUNT,
            "--application", "Softphone", "--description", "it \x1b[2Jrings",
            expect="description must not contain control characters other than line breaks"),
    hostile("crlf-delete-requested-by", "delete", "--tenant", ACTIVE, "--requested-by",
            "ops@bad.example\r\nBcc: evil@attacker.example",
            expect="requested-by: value is not a valid email address"),
    hostile("crlf-deactivate-notify", "deactivate", "--tenant", ACTIVE, "--notify",
            "ops@bad.example\r\nBcc: evil@attacker.example",
            expect="requested-by: value is not a valid email address"),
    hostile("crlf-reactivate-notify", "reactivate", "--tenant", OFF, "--notify",
            "ops@bad.example\nBcc: evil@attacker.example",
            expect="requested-by: value is not a valid email address"),
    hostile("crlf-number-requested-by", "number", "remove", "--number", NUMBER, "--requested-by",
            f"anna@{NUMBERS}.example\r\nBcc: evil@attacker.example", expect="is not an email"),
    hostile("address-with-display-name-number-requester", "number", "remove", "--number", NUMBER,
            "--requested-by", f"evil@attacker.example <anna@{NUMBERS}.example>",
            expect="is not an email"),
    # --- ids: exactly the platform's syntax, nothing after it -----------------------------------
    hostile("trailing-newline-tenant", "deactivate", "--tenant", f"{ACTIVE}\n",
            expect=f"'{ACTIVE}\\n' is not a tenant id"),
    hostile("trailing-newline-tenant-delete", "delete", "--tenant", f"{ACTIVE}\n",
            "--requested-by", "ops@bad.example", expect=f"'{ACTIVE}\\n' is not a tenant id"),
    hostile("trailing-newline-device", "mobile", "status", "--device", "md-bad0000000\n",
            expect="'md-bad0000000\\n' is not a device id"),
    hostile("trailing-newline-account", "customer", "show", f"{ACCOUNT}\n",
            expect=f"'{ACCOUNT}\\n' is not a tenant id"),
    hostile("trailing-newline-mobile-user", "mobile", "provision", "--tenant", MOBILE, "--user",
            f"{MOBILE}-u3\n", expect=f"'{MOBILE}-u3\\n' is not a user id"),
    hostile("homoglyph-tenant", "deactivate", "--tenant", "b\u0430d-active",
            expect="'b\u0430d-active' is not a tenant id"),
    hostile("bidi-tenant", "reactivate", "--tenant", "bad-off\u202e",
            expect="is not a tenant id"),
    hostile("empty-tenant", "deactivate", "--tenant", "", expect="'' is not a tenant id"),
    hostile("space-tenant", "deactivate", "--tenant", " ", expect="' ' is not a tenant id"),
    hostile("url-encoded-traversal-tenant", "tickets", "--tenant", "%2e%2e%2fadmin",
            expect="'%2e%2e%2fadmin' is not a tenant id"),
    hostile("query-in-tenant", "mobile", "list", "--tenant", "bad-mobile?role=Admin",
            expect="'bad-mobile?role=Admin' is not a tenant id"),
    hostile("fragment-in-account", "contacts", "list", "--account", "bad-acct#x",
            expect="'bad-acct#x' is not a tenant id"),
    hostile("oversized-device-id", "mobile", "delete", "--device", "md-" + "a" * 80, "--yes",
            expect="is not a device id"),
    hostile("dash-leading-tenant", "status", "--tenant", "-acme",
            expect="'-acme' is not a tenant id"),
    hostile("crlf-subclient-type", "cdr", "--subclient-type", "Mobile_Network\n",
            expect="is not a sub-client type"),
    hostile("long-subclient-type", "cdr", "--subclient-type", "M" * 100,
            expect="is not a sub-client type"),
    # --- confirmation codes: eight ASCII digits, nothing else -----------------------------------
    hostile("code-arabic-indic-digits", *confirm("١٢٣٤٥٦٧٨"), expect="the code is 8 digits",
            via=EXE),
    hostile("code-fullwidth-digits", *confirm("".join(map(chr, range(0xFF11, 0xFF19)))),
            expect="the code is 8 digits"),
    hostile("code-devanagari-digits", *confirm("१२३४५६७८"), expect="the code is 8 digits"),
    hostile("code-trailing-newline", *confirm("12345678\n"), expect="the code is 8 digits"),
    hostile("code-leading-space", *confirm(" 12345678"), expect="the code is 8 digits"),
    hostile("code-nine-digits", *confirm("123456789"), expect="the code is 8 digits"),
    hostile("code-seven-digits", *confirm("1234567"), expect="the code is 8 digits"),
    hostile("code-signed", *confirm("+1234567"), expect="the code is 8 digits"),
    hostile("code-empty", *confirm(""), expect="the code is 8 digits"),
    # --- hostile values ---------------------------------------------------------------------------
    hostile("since-overflow-days", "cdr", "--since", "99999999999d",
            expect="--since '99999999999d' reaches back before the year 1", via=EXE),
    hostile("since-overflow-weeks", "cdr", "--since", "99999999999w",
            expect="--since '99999999999w' reaches back before the year 1"),
    hostile("since-overflow-minutes", "cdr", "--since", "9" * 30 + "m",
            expect="reaches back before the year 1"),
    hostile("since-overflow-hours", "cdr", "--since", "999999999999h",
            expect="reaches back before the year 1"),
    hostile("since-year-10000", "cdr", "--since", "10000-01-01", expect="--since '10000-01-01'"),
    hostile("since-control-chars", "cdr", "--since", "7d\x1b[2J", expect="--since '7d\\x1b[2J'"),
    hostile("limit-zero", "cdr", "--limit", "0", expect="Invalid value for '--limit'"),
    hostile("limit-huge", "cdr", "--limit", "9" * 40, expect="Invalid value for '--limit'"),
    hostile("trial-days-huge", *create(), "--trial", "--trial-days", "9" * 30,
            expect="customer.trial_days: Input should be less than or equal to 365"),
    hostile("trial-days-negative", *create(), "--trial", "--trial-days", "-5",
            expect="customer.trial_days: Input should be greater than or equal to 1"),
    hostile("month-control-chars", "billing", "export", "--month", "2026-11\n", "--json",
            expect="--month '2026-11\\n' is not a month"),
    hostile("month-year-zero", "billing", "export", "--month", "0000-01", "--json",
            expect="--month '0000-01' is not a month"),
    hostile("oversized-admin-name", *create(admin=f"{'A' * 300} <ada@bad-new.example>"),
            expect="admins[0].name: String should have at most 200 characters"),
    # --- output paths: checked before anything starts; a failed write is one line ----------------
    hostile("csv-missing-directory-cdr", "cdr", "--csv", "{out}/missing/calls.csv",
            expect="cannot write --csv '{out}/missing/calls.csv': the directory", via=EXE),
    hostile("csv-is-directory-cdr", "cdr", "--csv", "{out}", expect="is a directory"),
    hostile("csv-dev-full-cdr", "cdr", "--csv", "/dev/full",
            expect="cannot write --csv '/dev/full': No space left on device"),
    hostile("csv-missing-directory-billing", "billing", "export", "--month", "2026-11", "--csv",
            "{out}/missing/b.csv", expect="the directory '{out}/missing' does not exist"),
    hostile("csv-is-directory-billing", "billing", "export", "--month", "2026-11", "--csv",
            "{out}", expect="is a directory"),
    hostile("csv-dev-full-billing", "billing", "export", "--month", "2026-11", "--csv",
            "/dev/full", expect="cannot write --csv '/dev/full': No space left on device"),
    hostile("png-missing-directory-provision", "mobile", "provision", "--tenant", MOBILE,
            "--user", f"{MOBILE}-u3", "--png", "/nonexistent-dir/x.png", via=EXE,
            expect="cannot write --png '/nonexistent-dir/x.png': the directory"),
    hostile("png-is-directory-provision", "mobile", "provision", "--tenant", MOBILE, "--user",
            f"{MOBILE}-u3", "--png", "{out}", expect="is a directory"),
    hostile("png-stdout-provision", "mobile", "provision", "--tenant", MOBILE, "--user",
            f"{MOBILE}-u3", "--png", "-", expect="--png needs a file name"),
    hostile("png-missing-directory-new-code", "mobile", "new-code", "--device",
            "{expired_device}", "--png", "{out}/missing/x.png", expect="the directory"),
    hostile("png-missing-directory-lost-stolen", "mobile", "lost-stolen", "--device",
            "{online_device}", "--png", "{out}/missing/x.png", expect="the directory"),
    hostile("png-is-directory-code", "mobile", "code", "--device", "{expired_device}", "--png",
            "{out}", expect="is a directory"),
    # --- hostile customer files ------------------------------------------------------------------
    hostile("yaml-alias-bomb", "customer", "create", "--file", "{yaml_bomb}", via=EXE,
            expect="is not valid YAML here (line 1): anchors (&name) are not allowed"),
    hostile("yaml-merge-key-alias", "customer", "create", "--file", "{yaml_merge}",
            expect="anchors (&name) are not allowed"),
    hostile("yaml-alias-only", "customer", "create", "--file", "{yaml_alias}",
            expect="aliases (*name) are not allowed"),
    hostile("yaml-deep-flow", "customer", "create", "--file", "{yaml_deep}",
            expect="nested more than 32 levels deep"),
    hostile("yaml-very-deep", "customer", "create", "--file", "{yaml_very_deep}",
            expect="nested more than 32 levels deep"),
    hostile("yaml-deep-block", "customer", "create", "--file", "{yaml_deep_block}",
            expect="nested more than 32 levels deep"),
    hostile("json-very-deep", "customer", "create", "--file", "{json_very_deep}",
            expect="nested more than 32 levels deep"),
    hostile("json-deep-objects", "customer", "create", "--file", "{json_deep_objects}",
            expect="nested more than 32 levels deep"),
    hostile("yaml-python-tag", "customer", "create", "--file", "{yaml_python}",
            expect="is not valid YAML (line 1)"),
    hostile("file-dev-zero", "customer", "create", "--file", "/dev/zero",
            expect="--file '/dev/zero' is larger than 1 MiB", via=EXE),
    hostile("file-dev-urandom", "customer", "create", "--file", "/dev/urandom",
            expect="--file '/dev/urandom' is larger than 1 MiB"),
    hostile("file-too-large", "customer", "create", "--file", "{yaml_large}",
            expect="is larger than 1 MiB"),
    hostile("file-binary", "customer", "create", "--file", "{yaml_binary}",
            expect="is not a text file (it holds binary data)"),
    hostile("file-latin1", "customer", "create", "--file", "{yaml_latin1}",
            expect="is not UTF-8 text (byte 22 cannot be read); save it as UTF-8"),
    hostile("file-utf16", "customer", "create", "--file", "{yaml_utf16}",
            expect="is not a text file (it holds binary data)"),
    hostile("file-is-directory", "customer", "create", "--file", "{out}",
            expect="cannot read --file '{out}': Is a directory"),
    hostile("file-missing", "customer", "create", "--file", "{out}/missing.yaml",
            expect="cannot read --file '{out}/missing.yaml': No such file or directory"),
    hostile("file-shadow-line", "customer", "create", "--file", "{shadow}",
            expect="(a key that is not a field name): unknown field",
            absent=(SHADOW_SECRET, "root:")),
    hostile("file-proc-environ", "customer", "create", "--file", "/proc/self/environ",
            expect="is not a text file (it holds binary data)", absent=(TOKEN,)),
    hostile("yaml-crlf-admin-name", "customer", "create", "--file", "{yaml_crlf_admin}",
            expect="admins[0].name must not contain control characters (U+000D at character 4)"),
    hostile("yaml-crlf-admin-email", "customer", "create", "--file", "{yaml_crlf_email}",
            expect="admins[0].email: Contains an invalid email"),
    hostile("yaml-crlf-customer-name", "customer", "create", "--file", "{yaml_crlf_name}",
            expect="customer.name must not contain control characters (U+000D at character 4)"),
    hostile("yaml-crlf-contact", "customer", "create", "--file", "{yaml_crlf_contact}",
            expect="Contains an invalid email"),
    hostile("yaml-crlf-role-user", "customer", "create", "--file", "{yaml_crlf_role}",
            expect="Contains an invalid email"),
    hostile("yaml-admin-display-name-in-email", "customer", "create", "--file",
            "{yaml_display_email}", expect="admins[0].email: Contains an invalid email"),
    hostile("yaml-unknown-field", "customer", "create", "--file", "{yaml_unknown}",
            expect="customer.colour: unknown field (check its spelling)"),
    hostile("yaml-admins-not-a-list", "customer", "create", "--file", "{yaml_admins_scalar}",
            expect="admins: Input should be a valid list"),
    # --- hostile numbers files -------------------------------------------------------------------
    hostile("numbers-dev-zero", "number", "remove", "--numbers-file", "/dev/zero",
            "--requested-by", f"anna@{NUMBERS}.example", via=EXE,
            expect="--numbers-file '/dev/zero' is larger than 1 MiB"),
    hostile("numbers-binary", "number", "remove", "--numbers-file", "{yaml_binary}",
            "--requested-by", f"anna@{NUMBERS}.example", expect="is not a text file"),
    hostile("numbers-latin1", "number", "remove", "--numbers-file", "{numbers_latin1}",
            "--requested-by", f"anna@{NUMBERS}.example", expect="is not UTF-8 text"),
    hostile("numbers-shadow-not-echoed", "number", "remove", "--numbers-file", "{shadow}",
            "--requested-by", f"anna@{NUMBERS}.example", via=EXE,
            expect="shadow line 1: not a phone number", absent=(SHADOW_SECRET, "root")),
    hostile("numbers-proc-environ", "number", "remove", "--numbers-file", "/proc/self/environ",
            "--requested-by", f"anna@{NUMBERS}.example", expect="is not a text file",
            absent=(TOKEN,)),
    hostile("numbers-directory", "number", "remove", "--numbers-file", "{out}",
            "--requested-by", f"anna@{NUMBERS}.example", expect="Is a directory"),
    hostile("numbers-too-large", "number", "remove", "--numbers-file", "{yaml_large}",
            "--requested-by", f"anna@{NUMBERS}.example", expect="is larger than 1 MiB"),
    hostile("numbers-empty", "number", "remove", "--numbers-file", "{empty}",
            "--requested-by", f"anna@{NUMBERS}.example", expect="holds no phone number"),
    hostile("numbers-escape-sequence", "number", "remove", "--numbers-file", "{numbers_escape}",
            "--requested-by", f"anna@{NUMBERS}.example",
            expect="numbers-escape line 2: not a phone number"),
]  # fmt: skip


# --- the world the catalogue acts on ----------------------------------------------------------


@dataclass
class World:
    stack: Stack
    values: dict[str, str]
    observer: "Observer"


def _ok(result: Any) -> Any:
    assert result.code == 0, result.stderr
    return result


async def _start_deletion(stack: Stack, tenant: str, **inp: Any) -> Client:
    client = await connect(Settings(_env_file=None, temporal_address=stack.temporal_address))
    await client.start_workflow(
        Procedure.DELETION.value,
        DeletionInput(tenant_id=tenant, requested_by="ops@bad.example", **inp),
        id=Procedure.DELETION.workflow_id(tenant),
        task_queue=stack.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.TENANT_ID, tenant),
                SearchAttributePair(sa.PROCEDURE_NAME, Procedure.DELETION.value),
            ]
        ),
    )
    return client


async def _expired_deletion(stack: Stack) -> None:
    client = await _start_deletion(stack, EXPIRED, code_validity=timedelta(seconds=1))
    handle = client.get_workflow_handle(
        Procedure.DELETION.workflow_id(EXPIRED), result_type=DeletionResult
    )
    assert (await handle.result()).phase == Phase.EXPIRED


async def _awaiting_code(stack: Stack, tenant: str, **inp: Any) -> None:
    client = await _start_deletion(stack, tenant, **inp)
    handle = client.get_workflow_handle(Procedure.DELETION.workflow_id(tenant))
    for _ in range(120):
        status = await handle.query("status")
        if status["phase"] == Phase.AWAITING_CODE.value:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the deletion of {tenant} never awaited its code")


def _portal(stack: Stack) -> None:
    with stack.api() as api:
        api.put(
            f"/admin/resellers/{RESELLER}",
            json={
                "name": "Bad Reseller",
                "notification_email": f"prov@{RESELLER}.example",
                "partners": [
                    {"id": PARTNER, "name": "Paola Bad", "email": f"paola@{RESELLER}.example"}
                ],
            },
        ).raise_for_status()
        api.put("/admin/customer-pbxs/pbx.bad.example", json={"users": 3}).raise_for_status()
        for account, created_by in ((ACCOUNT, "partner"), (DIRECT, "provider")):
            api.put(
                f"/admin/customers/{account}",
                json={
                    "reseller": RESELLER,
                    "name": account.replace("-", " ").title(),
                    "product_type": "essentials",
                    "country": "IT",
                    "created_by": created_by,
                    "support_contacts": [{"partner": PARTNER}],
                    "admins": [{"name": "Adele", "email": f"adele@{account}.example"}],
                },
            ).raise_for_status()


def _numbers(stack: Stack) -> None:
    stack.put_tenant(NUMBERS)
    body = {"devices": [{"number": NUMBER, "label": "Reception"}], "ecommerce_account": None}
    with stack.api() as api:
        api.put(f"/admin/numbers/tenants/{NUMBERS}", json=body).raise_for_status()


def _mobile(stack: Stack, values: dict[str, str]) -> None:
    # u3 has no line yet and a licence is left for them: a bad --png must not take it.
    ivo = {"id": f"{MOBILE}-u3", "name": "Ivo", "email": f"ivo@{MOBILE}.example", "roles": ["User"]}
    stack.put_tenant(MOBILE, users=[*tenant_body(MOBILE)["users"], ivo])
    with stack.api() as api:
        api.put(
            f"/admin/tenants/{MOBILE}/mobile",
            json={"licences_total": 3, "smdp_address": "smdp.bad.example"},
        ).raise_for_status()

    def provision(user: str, address: str, **env: str) -> tuple[str, str]:
        started = _ok(stack.cli("mobile", "provision", "--tenant", MOBILE, "--user", user,
                                "--json", **env))  # fmt: skip
        wait_until(lambda: stack.mails_to(address), 20, f"{user}'s activation email")
        [mail] = stack.mails_to(address)
        code = re.search(r"LPA:1\$[^$\s]+\$(\S+)", mail["Text"]).group(1)
        return json.loads(started.stdout)["device_id"], f"LPA:1$smdp.bad.example${code}"

    values["online_device"], values["used_lpa"] = provision(
        f"{MOBILE}-u1", f"anna@{MOBILE}.example"
    )
    _ok(stack.phone("activate", "--code", values["used_lpa"]))
    values["expired_device"], _ = provision(
        f"{MOBILE}-u2", f"ugo@{MOBILE}.example", PBXOPS_MOBILE_CODE_VALIDITY="PT1S"
    )

    def device(device_id: str) -> dict:
        with stack.api() as api:
            return api.get(f"/pbx/mobile/devices/{device_id}").json()

    wait_until(lambda: device(values["online_device"])["status"] == "online", 20, "online")
    wait_until(
        lambda: device(values["expired_device"])["latest_code"]["state"] == "expired",
        20,
        "the code's expiry",
    )


def _customer_yaml(**override: str) -> str:
    """A valid customer file but for ``override`` (YAML flow values, e.g. a quoted string)."""
    fields = {
        "name": "Bad File", "admin_name": "Ada", "admin_email": "ada@bad-new.example",
        "contact": PARTNER, "role_user": "u1@bad-new.example", **override,
    }  # fmt: skip
    return (
        f"reseller: {RESELLER}\n"
        f"customer: {{name: {fields['name']}, product_type: essentials, country: IT}}\n"
        f"admins: [{{name: {fields['admin_name']}, email: {fields['admin_email']}}}]\n"
        "pbx: {host: pbx.bad.example}\n"
        f"support_contacts: [{fields['contact']}]\n"
        f"roles: {{assignments: [{{user: {fields['role_user']}, roles: [Admin]}}]}}\n"
    )


def _hostile_files(files: Path) -> dict[str, str]:
    """The hostile files of the ``HOSTILE`` rows; each name is its key in ``World.values``."""
    lols = ", ".join(['"lol"'] * 9)
    bomb = [f"a0: &a0 [{lols}]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)
    ]
    deep_block = "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + f"{'  ' * 40}v\n"
    texts: dict[str, str | bytes] = {
        "yaml_bomb.yaml": "\n".join(bomb) + f"\nreseller: {RESELLER}\n",
        "yaml_merge.yaml": "base: &base {country: IT}\ncustomer:\n  <<: *base\n  name: x\n",
        "yaml_alias.yaml": "customer: *nowhere\n",
        "yaml_deep.yaml": "customer: " + "[" * 40 + "]" * 40 + "\n",
        "yaml_very_deep.yaml": "customer: " + "[" * 20000 + "]" * 20000 + "\n",
        "yaml_deep_block.yaml": deep_block,
        "json_very_deep.json": "[" * 200000 + "]" * 200000,
        "json_deep_objects.json": '{"a": ' * 40 + "1" + "}" * 40,
        "yaml_python.yaml": '!!python/object/apply:os.system ["touch /tmp/pbxops-pwned"]\n',
        "yaml_large.yaml": "# padding\n" * 120_000,
        "yaml_binary.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "yaml_latin1.yaml": "customer:\n  name: Caf\xe9 Latin\n".encode("latin-1"),
        "yaml_utf16.yaml": _customer_yaml().encode("utf-16"),
        "shadow": f"root:{SHADOW_SECRET}:19000:0:99999:7:::\n",
        "yaml_crlf_admin.yaml": _customer_yaml(admin_name='"Eve\\r\\nBcc: evil@attacker.example"'),
        "yaml_crlf_email.yaml": _customer_yaml(
            admin_email='"ada@bad-new.example\\r\\nBcc: evil@attacker.example"'
        ),
        "yaml_crlf_name.yaml": _customer_yaml(name='"Bad\\r\\nBcc: evil@attacker.example"'),
        "yaml_crlf_contact.yaml": _customer_yaml(
            contact='"help@bad.example\\r\\nBcc: x@y.example"'
        ),
        "yaml_crlf_role.yaml": _customer_yaml(role_user='"u1@bad.example\\r\\nBcc: x@y.example"'),
        "yaml_display_email.yaml": _customer_yaml(
            admin_email='"evil@attacker.example <ada@bad-new.example>"'
        ),
        "yaml_unknown.yaml": _customer_yaml(name="Bad, colour: red"),
        "yaml_admins_scalar.yaml": f"reseller: {RESELLER}\nadmins: ada@bad-new.example\n",
        "numbers_latin1.txt": "+39 06 9910 0001 # Caf\xe9\n".encode("latin-1"),
        "numbers-escape": f"{NUMBER}\n\x1b]0;pwned\x07\n",
        "empty.txt": "",
    }
    values = {}
    for name, content in texts.items():
        path = files / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        values[name.split(".")[0].replace("-", "_")] = str(path)
    values["empty"] = values.pop("empty")
    return values


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    values: dict[str, str] = {}
    files = tmp_path_factory.mktemp("bad-files")
    values.update(_hostile_files(files))
    values["out"] = str(tmp_path_factory.mktemp("bad-out"))  # must stay empty
    for name, text in {
        "yaml_list": "- reseller: bad-reseller\n- customer: x\n",
        "yaml_scalar": "just a sentence, not a customer\n",
        "yaml_broken": "reseller: [bad-reseller\ncustomer: {name: x\n",
        "json_array": "[1, 2, 3]",
        "json_nul": json.dumps(
            {
                "reseller": RESELLER,
                "customer": {"name": "Bad\x00Nul", "product_type": "essentials", "country": "IT"},
                "admins": [{"name": "Ada", "email": "ada@bad-new.example"}],
                "pbx": {"host": "pbx.bad.example"},
                "support_contacts": [PARTNER],
            }
        ),
    }.items():
        path = files / (f"{name}.json" if name.startswith("json") else f"{name}.yaml")
        path.write_text(text)
        values[name] = str(path)

    stack.put_tenant(ACTIVE)
    stack.put_tenant(OFF, state="deactivated")
    stack.put_tenant(BUSY, deactivation_seconds=None)  # a stuck platform: it keeps running
    for tenant in (AWAITING, EXPIRED, LOCKED):
        stack.put_tenant(tenant)
    _ok(stack.cli("deactivate", "--tenant", BUSY))
    asyncio.run(_awaiting_code(stack, AWAITING))
    asyncio.run(_awaiting_code(stack, LOCKED, max_wrong_codes=1))
    locked = stack.cli("delete", "confirm", "--tenant", LOCKED, "--code", "00000000")
    assert "locked" in locked.stderr, locked.stderr
    asyncio.run(_expired_deletion(stack))
    _numbers(stack)
    _portal(stack)
    _mobile(stack, values)
    observer = Observer(stack)
    yield World(stack, values, observer)
    observer.close()


# --- what must not change ----------------------------------------------------------------------


class Observer:
    """Reads everything the catalogue must not change, quickly: one keep-alive HTTP client, the
    GETs in parallel, one Temporal client on its own event loop."""

    def __init__(self, stack: Stack) -> None:
        self._http = stack.api()
        self._mailbox = httpx.Client(base_url=stack.platform_url, headers=ADMIN_HEADERS, timeout=10)
        self._pool = ThreadPoolExecutor(8)
        self._loop = asyncio.new_event_loop()
        self._temporal = self._loop.run_until_complete(Client.connect(stack.temporal_address))
        paths = [f"/pbx/tenants/{t}{p}" for t in TENANTS for p in ("", "/users", "/extensions")]
        paths += [
            f"/pbx/tenants/{MOBILE}/mobile",
            f"/pbx/tenants/{MOBILE}/mobile/devices",
            f"/admin/numbers/tenants/{NUMBERS}",
            f"/pbx/resellers/{RESELLER}",
            f"/pbx/customers?reseller={RESELLER}",
            "/helpdesk/tickets",
            *(f"/pbx/customers/{a}{part}" for a in (ACCOUNT, DIRECT)
              for part in ("", "/support-contacts", "/users")),
        ]  # fmt: skip
        self._paths = paths

    def snapshot(self) -> dict[str, Any]:
        def get(path: str) -> Any:
            body = self._http.get(path).json()
            if path == "/helpdesk/tickets":  # only the catalogue's tenants
                return [t for t in body if (t["tenant_id"] or "").startswith("bad")]
            return body

        mailbox = self._pool.submit(
            lambda: self._mailbox.get("/api/v1/search", params={"query": "to:bad"}).json()
        )
        state: dict[str, Any] = dict(
            zip(self._paths, self._pool.map(get, self._paths), strict=True)
        )
        state["messages to the catalogue's addresses"] = mailbox.result()["messages_count"]
        count = self._loop.run_until_complete(self._temporal.count_workflows())
        state["workflow executions"] = count.count
        awaiting = self._temporal.get_workflow_handle(Procedure.DELETION.workflow_id(AWAITING))
        # Its wrong-code count: a code that only looks like 8 digits must not spend an attempt.
        state[f"deletion of {AWAITING}"] = self._loop.run_until_complete(awaiting.query("status"))
        return state

    def close(self) -> None:
        self._http.close()
        self._mailbox.close()
        self._pool.shutdown()
        self._loop.close()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_in_process(stack: Stack, args: list[str], env: dict[str, str]) -> CliResult:
    """The executable's ``_main`` in this process, inside typer's ``CliRunner`` isolation (its
    own stdout/stderr and environment); settings are read afresh for the row's environment."""
    runner = CliRunner()
    code: int = 0
    cwd = os.getcwd()
    os.chdir(stack.workdir)  # as the executable runs: no developer's .env
    try:
        with runner.isolation(env={**stack.processes["worker"].env, **stack.env(**env)}) as io:
            get_settings.cache_clear()
            try:
                cli._main(args)
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = io[0].getvalue().decode(), io[1].getvalue().decode()
    finally:
        os.chdir(cwd)
        get_settings.cache_clear()
    return CliResult(code, stdout, stderr)


def _filled(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"{{{key}}}", value)
    return text


@pytest.mark.parametrize("bad", CATALOGUE + HOSTILE)
def test_bad_input_is_one_sentence_and_changes_nothing(world: World, bad: Case):
    stack = world.stack
    args = [_filled(arg, world.values) for arg in bad.args]
    before = world.observer.snapshot()

    if bad.via == "exe":
        result: Any = stack.cli(*args, **bad.env)
    else:
        result = run_in_process(stack, args, bad.env)

    after = world.observer.snapshot()
    assert result.code != 0, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ") and lines[0].strip() != "error:", lines[0]
    assert _filled(bad.expect, world.values) in lines[0], lines[0]
    assert result.stdout == "", result.stdout
    for secret in bad.absent:
        assert secret not in result.stderr + result.stdout
    changed = {key for key in before if before[key] != after[key]}
    assert not changed, {key: (before[key], after[key]) for key in changed}
    assert os.listdir(world.values["out"]) == [], "a file was written"


def test_the_catalogue_covers_every_command():
    """At least 150 distinct hostile inputs (issue 16), a few of the new ones through the real
    executable, and every command group of ``pbxops --help`` has at least one."""
    rows = [param.values[0] for param in CATALOGUE + HOSTILE]
    assert len({row.id for row in rows}) == len(rows)
    assert len({(row.args, tuple(sorted(row.env.items()))) for row in rows}) >= 150
    assert sum(1 for param in HOSTILE if param.values[0].via == "exe") >= 5
    from pbxops.cli.app import app

    groups = {group.name for group in app.registered_groups}
    commands = {
        command.name or command.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        for command in app.registered_commands
    }
    used = {row.args[0] for row in rows}
    assert (groups | commands) - used == set()


def test_injection_looking_free_text_is_data_stored_and_mailed_verbatim(world: World):
    """Names and notes are free text: an injection-looking one is not refused but never
    interpreted (SQL, HTML, templates, shell): it arrives exactly as typed and breaks nothing."""
    stack = world.stack
    text = "Robert'); DROP TABLE customers;-- <script>alert(1)</script> {{7*7}} ${jndi:x} $(id)"
    contact = f"paola@{RESELLER}.example"
    before = len(stack.mails_to(contact))

    reported = stack.cli(
        "report-problem", "--account", ACCOUNT, "--application", "Softphone <b>",
        "--description", text, "--wait",
    )  # fmt: skip

    assert reported.code == 0, reported.stderr
    wait_until(lambda: len(stack.mails_to(contact)) == before + 1, 15, "the problem report")
    [mail] = [m for m in stack.mails_to(contact) if text in m["Text"]]
    assert "<script>" not in mail["HTML"]
    with stack.api() as api:
        accounts = api.get("/pbx/customers", params={"reseller": RESELLER}).json()
    assert {a["id"] for a in accounts} == {ACCOUNT, DIRECT}
