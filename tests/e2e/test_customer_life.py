"""One customer's whole life on one tenant, through `pbxops` (issue 15).

Create a customer from YAML, give two users eSIM lines and activate one, remove one number,
deactivate (the lines keep running, no new line), reactivate, delete with the emailed code; then
the tenant is deleted, nothing of it runs on Temporal, its licences are back in the reseller's
pool, every email went out once and no ticket was opened. Real dev server, simulator, worker.
"""

import asyncio
import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client, WorkflowExecutionStatus

from tests.e2e.test_mobile_cli import qr_from_inbox_page
from tests.processes import wait_until
from tests.stack import ADMIN_HEADERS, Stack

pytestmark = pytest.mark.e2e

UID = uuid.uuid4().hex[:6]
RESELLER = f"e2e-life-rs-{UID}"
PARTNER = f"p-life-{UID}"
HOST = f"pbx.life-{UID}.example"
ACCOUNT = f"life-{UID}"
POOL = 10
LEA = f"lea@life-{UID}.example"  # the primary Admin, also a user of the customer's PBX
MAX = f"max@life-{UID}.example"
_DIGITS = f"{int(UID, 16) % 10000:04d}"
LEA_PHONE, MAX_PHONE = f"02 4815 {_DIGITS}", f"02 4816 {_DIGITS}"
MAX_E164 = f"+39024816{_DIGITS}"
LEA_E164 = f"+39024815{_DIGITS}"


def ok(result) -> str:
    assert result.code == 0, result.stderr + result.stdout
    return result.stdout


def one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def mails(stack: Stack, address: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{stack.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    )
    return found.json()["messages"]


def get(stack: Stack, path: str) -> Any:
    with stack.api() as api:
        response = api.get(path)
        response.raise_for_status()
        return response.json()


def running_for_tenant(stack: Stack, tenant: str) -> list[str]:
    async def query() -> list[str]:
        client = await Client.connect(stack.temporal_address)
        found = client.list_workflows(f"TenantId = '{tenant}' AND ExecutionStatus = 'Running'")
        return [execution.id async for execution in found]

    return asyncio.run(query())


def status_of(stack: Stack, workflow_id: str) -> WorkflowExecutionStatus | None:
    async def describe() -> WorkflowExecutionStatus | None:
        client = await Client.connect(stack.temporal_address)
        return (await client.get_workflow_handle(workflow_id).describe()).status

    return asyncio.run(describe())


@pytest.fixture(scope="module")
def portal(stack: Stack) -> Stack:
    with stack.api() as api:
        api.put(
            f"/admin/resellers/{RESELLER}",
            json={
                "name": f"Life Partners {UID}",
                "notification_email": f"ops@{RESELLER}.example",
                "partners": [{"id": PARTNER, "name": "Pia", "email": f"pia@{RESELLER}.example"}],
                "esim_licences": POOL,
            },
        ).raise_for_status()
        api.put(
            f"/admin/customer-pbxs/{HOST}",
            json={
                "people": [
                    {
                        "id": "lea",
                        "name": "Lea",
                        "email": LEA,
                        "extension": "201",
                        "phone": LEA_PHONE,
                    },
                    {
                        "id": "max",
                        "name": "Max",
                        "email": MAX,
                        "extension": "202",
                        "phone": MAX_PHONE,
                    },
                ],
            },
        ).raise_for_status()
    return stack


def test_one_customer_from_creation_to_deletion(portal: Stack, tmp_path: Path):
    stack = portal
    spec = {
        "reseller": RESELLER,
        "customer": {
            "name": f"Life {UID}",
            "product_type": "essentials",
            "country": "IT",
            "esim_licences": 2,
        },
        "admins": [{"name": "Lea", "email": LEA}],
        "pbx": {"host": HOST},
        "support_contacts": [PARTNER],
    }
    file = tmp_path / "customer.yaml"
    file.write_text(yaml.safe_dump(spec))

    # --- 1. the customer is created: it is a tenant with an active Cloud PBX service -------------
    ok(stack.cli("customer", "create", "--file", str(file), "--wait"))
    tenant = get(stack, f"/pbx/tenants/{ACCOUNT}")
    assert tenant["service"]["state"] == "active" and tenant["data"]["numbers"] == 2
    users = {u["email"]: u for u in get(stack, f"/pbx/tenants/{ACCOUNT}/users")}
    assert set(users) == {LEA, MAX} and "Admin" in users[LEA]["roles"]
    assert get(stack, f"/pbx/tenants/{ACCOUNT}/mobile")["licences_total"] == 2
    assert get(stack, f"/pbx/resellers/{RESELLER}")["esim_licences_available"] == POOL - 2
    shown = ok(stack.cli("customer", "show", ACCOUNT))
    assert f"{ACCOUNT}: Cloud PBX service active, 2 eSIM licences" in shown

    # --- 2. two eSIM lines, one activated from the QR code of its email --------------------------
    devices = []
    for email in (LEA, MAX):
        line = ok(stack.cli("mobile", "provision", "--tenant", ACCOUNT, "--user",
                            users[email]["id"], "--json"))  # fmt: skip
        devices.append(json.loads(line)["device_id"])
    wait_until(lambda: len(mails(stack, MAX)) == 1, 20, "Max's activation email")
    [code_mail] = mails(stack, MAX)
    ok(stack.phone("activate", "--code", qr_from_inbox_page(stack, code_mail["ID"])))

    # --- 3. one number removed -------------------------------------------------------------------
    ok(stack.cli("number", "remove", "-n", MAX_E164, "--requested-by", LEA, "--wait"))

    # --- 4. deactivated: the lines keep running, no new line, no number removal ----------------
    ok(stack.cli("deactivate", "--tenant", ACCOUNT, "--wait", "--by", "ops@provider.example"))
    assert all(
        status_of(stack, f"mobile-line/{d}") == WorkflowExecutionStatus.RUNNING for d in devices
    )
    one_line_error(
        stack.cli("mobile", "provision", "--tenant", ACCOUNT, "--user", users[LEA]["id"]),
        f"the service of tenant '{ACCOUNT}' is deactivated; a new eSIM line needs it active",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", LEA_E164, "--requested-by", LEA),
        f"the service of tenant '{ACCOUNT}' is deactivated; a number removal needs it active",
    )

    # --- 5. reactivated --------------------------------------------------------------------------
    ok(stack.cli("reactivate", "--tenant", ACCOUNT, "--wait"))

    # A problem report is pending, a support contact on record: the deletion must close both.
    ok(stack.cli("report-problem", "--account", ACCOUNT, "--application", "softphone",
                 "--description", "no audio"))  # fmt: skip
    wait_until(
        lambda: get(stack, f"/pbx/tenants/{ACCOUNT}")["data"]["problem_reports"] == 1, 15, "report"
    )
    assert get(stack, f"/pbx/tenants/{ACCOUNT}")["data"]["support_contacts"] == 1

    # --- 6. deleted with the code emailed to the Admin -------------------------------------------
    ok(stack.cli("delete", "--tenant", ACCOUNT, "--requested-by", "ops@provider.example"))
    # An Italian customer: its Admin reads Italian ("Codice di eliminazione: 12345678").
    [code_email] = [m for m in mails(stack, LEA) if "ELIMINAZIONE" in m["Subject"]]
    text = httpx.get(
        f"{stack.platform_url}/api/v1/message/{code_email['ID']}", headers=ADMIN_HEADERS
    ).json()["Text"]
    code = re.search(r":\s+(\d{8})\s*$", text, re.MULTILINE).group(1)
    confirmed = stack.cli("delete", "confirm", "--tenant", ACCOUNT, "--code", code, "--wait",
                          "--by", "lead@provider.example", timeout=180)  # fmt: skip
    ok(confirmed)

    # --- the checks ------------------------------------------------------------------------------
    tenant = get(stack, f"/pbx/tenants/{ACCOUNT}")
    assert tenant["service"]["state"] == "deleted"
    assert tenant["service"]["billing_active"] is False
    assert set(tenant["data"].values()) == {0}, tenant["data"]
    # The pending problem report was closed by the deletion, not left open or lost.
    [report] = get(stack, f"/pbx/customers/{ACCOUNT}/problem-reports")
    assert (report["state"], report["resolution"]) == ("closed", "service deleted"), report
    # Every line's workflow ended; nothing of the tenant runs on Temporal any more.
    assert all(
        status_of(stack, f"mobile-line/{d}") == WorkflowExecutionStatus.COMPLETED for d in devices
    )
    wait_until(lambda: running_for_tenant(stack, ACCOUNT) == [], 15, "no workflow running")
    wait_until(
        lambda: status_of(stack, f"pbx-service/{ACCOUNT}") == WorkflowExecutionStatus.COMPLETED,
        15,
        "the service workflow to end",
    )
    # The licences are back in the reseller's pool.
    assert get(stack, f"/pbx/resellers/{RESELLER}")["esim_licences_available"] == POOL
    # Each user was told their line ended, and every email went out exactly once.
    for address in (LEA, MAX):
        deleted = [m for m in mails(stack, address) if "è stata eliminata" in m["Subject"]]
        assert len(deleted) == 1, mails(stack, address)
    wait_until(
        lambda: any("Servizio Cloud PBX eliminato" in m["Subject"] for m in mails(stack, LEA)),
        15,
        "done",
    )
    everything = [(address, m["Subject"]) for address in (LEA, MAX) for m in mails(stack, address)]
    assert [sent for sent, n in Counter(everything).items() if n > 1] == []
    assert len(everything) >= 7  # invitation, 2 codes, number removal, code, 2 lines, done
    # No ticket: every step finished in time.
    assert get(stack, f"/helpdesk/tickets?tenant_id={ACCOUNT}") == []
    # Who did what is on record.
    shown = ok(stack.cli("status", f"pbx-deletion/{ACCOUNT}"))
    assert "ops@provider.example" in shown and "lead@provider.example" in shown
    assert "confirmed the deletion" in shown
