"""Customer provisioning, support contacts and problem reports end to end, through `pbxops`.

The CLI runs as an operator runs it; the worker talks HTTP to the simulated reseller portal and
customer PBX, and SMTP to its mailbox. Names carry a per-run suffix so the session stack can be
shared with other suites.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.stack import ADMIN_HEADERS, Stack

pytestmark = pytest.mark.e2e

UID = uuid.uuid4().hex[:6]
RESELLER = f"e2e-rs-{UID}"
PARTNER = f"p-e2e-{UID}"


def one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def mails_to(stack: Stack, address: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{stack.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    ).json()
    return found["messages"]


def account(stack: Stack, account_id: str) -> httpx.Response:
    with stack.api() as api:
        return api.get(f"/pbx/customers/{account_id}")


@pytest.fixture(scope="module")
def portal(stack: Stack) -> Stack:
    with stack.api() as api:
        api.put(
            f"/admin/resellers/{RESELLER}",
            json={
                "name": "E2E Partners",
                "notification_email": f"ops@{RESELLER}.example",
                "partners": [{"id": PARTNER, "name": "Pia", "email": f"pia@{RESELLER}.example"}],
            },
        ).raise_for_status()
        api.put(
            f"/admin/customer-pbxs/pbx.big-{UID}.example",
            json={
                "users": 2000,
                "sub_accounts": [{"id": "north", "name": "North", "users": 5}],
                "people": [
                    {
                        "id": "00000-a",
                        "name": "Marta",
                        "email": f"marta@big-{UID}.example",
                        "extension": "200",
                    }
                ],
            },
        ).raise_for_status()
        api.put(f"/admin/customer-pbxs/pbx.small-{UID}.example", json={"users": 12})
        api.put(
            f"/admin/customer-pbxs/pbx.broken-{UID}.example",
            json={"users": 3, "connect_error": "authentication failed"},
        ).raise_for_status()
        # Slow each import page down a little so --wait has progress to show.
        api.put(
            "/admin/faults",
            json={"route_prefix": f"/pbx/customers/big-{UID}/users/import", "latency_ms": 150},
        ).raise_for_status()
    return stack


def test_create_from_a_file_syncs_2000_users_with_progress(portal: Stack, tmp_path: Path):
    spec = {
        "reseller": RESELLER,
        "customer": {
            "name": f"Big {UID}",
            "product_type": "contact-centre",
            "reference": "PO-1",
            "country": "IT",
            "trial": True,
        },
        "admins": [{"name": "Marta", "email": f"marta@big-{UID}.example"}],
        "pbx": {"host": f"pbx.big-{UID}.example", "auto_provision_sub_accounts": True},
        "roles": {"default_roles": ["Agent"]},
        "support_contacts": [PARTNER, "help@e2e.example"],
    }
    file = tmp_path / "customer.yaml"
    file.write_text(yaml.safe_dump(spec))

    result = portal.cli("customer", "create", "--file", str(file), "--wait")

    assert result.code == 0, result.stderr
    workflow_id = f"customer-provisioning/{RESELLER}/big-{UID}"
    assert workflow_id in result.stdout
    assert "/workflows/customer-provisioning%2F" in result.stdout
    assert "synchronising users:" in result.stdout and "of 2,006 users" in result.stdout
    assert f"is account big-{UID}" in result.stdout
    found = account(portal, f"big-{UID}").json()
    assert found["state"] == "active" and found["users"] == 2006 and found["admins"] == 1
    assert found["connection"]["state"] == "monitoring"
    assert found["connection"]["sub_accounts_monitored"] == 1
    [invitation] = mails_to(portal, f"marta@big-{UID}.example")
    assert invitation["Subject"] == f"Invito ad amministrare Big {UID}"  # an Italian customer
    # The trial's timer runs on after provisioning, waiting for day 30.
    trial = json.loads(portal.cli("status", f"customer-trial/big-{UID}", "--json").stdout)
    assert trial["execution"] == "running" and trial["status"]["step"] == "waiting-for-trial-end"

    one_line_error(
        portal.cli("customer", "update", f"big-{UID}", "--product-type", "essentials"),
        f"product type 'contact-centre' of account 'big-{UID}' cannot be changed once assigned",
    )


def test_every_validation_rule_is_one_line_and_starts_nothing(portal: Stack, tmp_path: Path):
    base = [
        "customer",
        "create",
        "--reseller",
        RESELLER,
        "--product-type",
        "essentials",
        "--admin",
        "Ann <ann@x.example>",
        "--pbx-host",
        f"pbx.small-{UID}.example",
    ]
    demo = portal.cli(*base, "--name", f"Demo {UID}", "--country", "IT", "--internal-demo",
                      "--contact", "a@x.example", "--pbx-disabled", "--wait")  # fmt: skip
    assert demo.code == 0, demo.stderr
    before = portal.cli("customer", "list", "--reseller", RESELLER, "--json").stdout

    cases = {
        "duplicate name": (
            ["--name", f"demo {UID}", "--country", "IT", "--contact", "a@x.example"],
            f"customer.name: a customer named 'Demo {UID}' already exists for reseller",
        ),
        "bad country": (
            ["--name", f"C1 {UID}", "--country", "XX", "--contact", "a@x.example"],
            "customer.country: 'XX' is not an ISO 3166-1 alpha-2 country code",
        ),
        "invalid email": (
            ["--name", f"C2 {UID}", "--country", "IT", "--contact", "bob@@example.com"],
            "support_contacts[0].email: Contains an invalid email: 'bob@@example.com'",
        ),
        "no contact": (
            ["--name", f"C3 {UID}", "--country", "IT"],
            "support_contacts: at least one support contact",
        ),
        "second demo": (
            [
                "--name",
                f"C4 {UID}",
                "--country",
                "IT",
                "--contact",
                "a@x.example",
                "--internal-demo",
            ],
            f"customer.internal_demo: reseller '{RESELLER}' already has an internal demo system",
        ),
    }
    for name, (args, expected) in cases.items():
        result = portal.cli(*base, *args)
        assert result.stdout == "", name
        one_line_error(result, expected)
    assert portal.cli("customer", "list", "--reseller", RESELLER, "--json").stdout == before
    # Only the demo's Admin was ever invited: the refused inputs sent nothing.
    assert [m["Subject"] for m in mails_to(portal, "ann@x.example")] == [
        f"Invito ad amministrare Demo {UID}"
    ]


def test_failure_at_step_3_undoes_steps_1_and_2(portal: Stack):
    result = portal.cli(
        "customer", "create", "--reseller", RESELLER, "--name", f"Broken {UID}",
        "--product-type", "essentials", "--country", "IT", "--admin", f"eve@broken-{UID}.example",
        "--pbx-host", f"pbx.broken-{UID}.example", "--contact", PARTNER, "--wait",
    )  # fmt: skip

    one_line_error(
        result,
        "step 3 (PBX connection) failed: could not connect to the PBX at "
        f"'pbx.broken-{UID}.example': authentication failed. Undone: PBX connection and "
        f"synchronised users removed; invitation of Admin user 1 withdrawn; account "
        f"'broken-{UID}' deleted",
    )
    assert account(portal, f"broken-{UID}").status_code == 404
    subjects = sorted(m["Subject"] for m in mails_to(portal, f"eve@broken-{UID}.example"))
    assert subjects == [
        f"Invito ad amministrare Broken {UID}",
        f"Invito ritirato: Broken {UID}",
    ]


def test_disabled_connection_then_enable_pbx(portal: Stack):
    created = portal.cli(
        "customer", "create", "--reseller", RESELLER, "--name", f"Later {UID}",
        "--product-type", "essentials", "--country", "FR", "--admin", "Jo <jo@later.example>",
        "--pbx-host", f"pbx.small-{UID}.example", "--pbx-disabled", "--contact", PARTNER,
        "--role", f"user00003@small-{UID}.example=Supervisor", "--wait",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    assert f"enable it with `pbxops customer enable-pbx later-{UID}`" in created.stdout
    before = account(portal, f"later-{UID}").json()
    assert before["users"] == 1 and before["connection"]["state"] == "disabled"
    assert before["roles_pending"] == [f"user00003@small-{UID}.example"]

    enabled = portal.cli("customer", "enable-pbx", f"later-{UID}", "--wait")

    assert enabled.code == 0, enabled.stderr
    assert "12 users synchronised" in enabled.stdout
    after = account(portal, f"later-{UID}").json()
    assert after["connection"]["state"] == "monitoring" and after["roles_pending"] == []
    one_line_error(portal.cli("customer", "enable-pbx", f"later-{UID}"), "is already enabled")


def test_contacts_by_role_and_a_problem_report(portal: Stack):
    with portal.api() as api:
        api.put(
            f"/admin/customers/direct-{UID}",
            json={
                "reseller": RESELLER,
                "name": f"Direct {UID}",
                "product_type": "essentials",
                "country": "IT",
                "created_by": "provider",
                "support_contacts": [{"email": "d@x.example"}],
            },
        ).raise_for_status()
        api.put(
            f"/admin/customers/contacts-{UID}",
            json={
                "reseller": RESELLER,
                "name": f"Contacts {UID}",
                "product_type": "essentials",
                "country": "IT",
                "support_contacts": [{"partner": PARTNER}],
            },
        ).raise_for_status()
    acc = f"contacts-{UID}"

    added = portal.cli("contacts", "add", "help@e2e.example", "--account", acc, "--as", "admin")
    assert added.code == 0, added.stderr
    one_line_error(
        portal.cli("contacts", "add", "x@@x", "--account", acc, "--as", "partner"),
        "Contains an invalid email: 'x@@x'",
    )
    one_line_error(
        portal.cli("contacts", "add", "n@x.example", "--account", f"direct-{UID}", "--as", "admin"),
        "an administrative user may change support contacts only on accounts created by a partner",
    )
    one_line_error(
        portal.cli("contacts", "add", PARTNER, "--account", acc, "--as", "admin"),
        "an administrative user adds support contacts by email address",
    )
    one_line_error(
        portal.cli(
            "contacts", "remove", "d@x.example", "--account", f"direct-{UID}", "--as", "partner"
        ),
        "not by a partner",
    )
    listed = json.loads(portal.cli("contacts", "list", "--account", acc, "--json").stdout)
    assert [c["email"] for c in listed] == [f"pia@{RESELLER}.example", "help@e2e.example"]

    report = portal.cli(
        "report-problem", "--account", acc, "--application", "Mitel One",
        "--description", "No audio on outbound calls", "--wait", "--json",
    )  # fmt: skip

    assert report.code == 0, report.stderr
    out = json.loads(report.stdout)
    assert out["workflow_id"].startswith(f"problem-report/{acc}/PR-")
    assert out["result"]["emailed"] == [f"pia@{RESELLER}.example", "help@e2e.example"]
    for address in out["result"]["emailed"]:
        [mail] = [m for m in mails_to(portal, address) if "Mitel One" in m["Subject"]]
        assert out["result"]["report_id"] in mail["Subject"]

    portal.cli("contacts", "remove", "help@e2e.example", "--account", acc, "--as", "partner")
    one_line_error(
        portal.cli("contacts", "remove", PARTNER, "--account", acc, "--as", "partner"),
        "must keep at least one support contact",
    )


def test_billing_export_csv(portal: Stack, tmp_path: Path):
    reseller = f"bill-{UID}"
    with portal.api() as api:
        api.put(f"/admin/resellers/{reseller}", json={}).raise_for_status()
        for suffix, extra in (
            ("ref", {"reference": "PO-77"}),
            ("noref", {}),
            ("lab", {"internal_demo": True}),
        ):
            api.put(
                f"/admin/customers/bill-{suffix}-{UID}",
                json={
                    "reseller": reseller,
                    "name": f"Bill {suffix} {UID}",
                    "product_type": "professional",
                    "country": "IT",
                    "support_contacts": [{"email": "b@x.example"}],
                    "admins": [{"name": "A", "email": "a@x.example"}],
                    **extra,
                },
            ).raise_for_status()
    out = tmp_path / "billing.csv"

    result = portal.cli("billing", "export", "--month", "2099-12", "--reseller", reseller,
                        "--csv", str(out))  # fmt: skip

    assert result.code == 0, result.stderr
    rows = {r.split(",")[2]: r.split(",") for r in out.read_text().splitlines()[1:]}
    assert rows[f"bill-ref-{UID}"][4] == "PO-77" and rows[f"bill-ref-{UID}"][8] == "7.5"
    assert rows[f"bill-noref-{UID}"][4] == f"bill-noref-{UID}"
    assert rows[f"bill-lab-{UID}"][8] == "0.0" and "internal demo" in rows[f"bill-lab-{UID}"][10]
    assert "wrote 3 rows for 2099-12" in result.stdout and "(total 15.00 EUR)" in result.stdout
    one_line_error(
        portal.cli("billing", "export", "--month", "2026-13", "--csv", str(out)),
        "--month '2026-13' is not a month",
    )
