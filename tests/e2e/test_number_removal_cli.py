"""Number package removal end to end: `pbxops number remove` against the dev server, simulator
and worker, logging in to CSU, the device portal and 2Checkout with the simulator vault's accounts.
"""

import asyncio
import json
import random

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.processes import wait_until
from tests.stack import ADMIN_HEADERS, Stack

pytestmark = pytest.mark.e2e


def new_number() -> str:
    return "+39068" + "".join(random.choice("0123456789") for _ in range(7))


def setup_numbers(stack: Stack, tenant_id: str, devices: list[dict], account: str | None = None):
    stack.put_tenant(tenant_id)
    body = {
        "ecommerce_account": {"account_number": account, "licences": 5} if account else None,
        "devices": devices,
    }
    with stack.api() as api:
        api.put(f"/admin/numbers/tenants/{tenant_id}", json=body).raise_for_status()


def numbers_of(stack: Stack, tenant_id: str) -> dict[str, dict]:
    with stack.api() as api:
        devices = api.get(f"/admin/numbers/tenants/{tenant_id}").json()["devices"]
    return {d["number"]: d for d in devices}


def tickets(stack: Stack, tenant_id: str) -> list[dict]:
    with stack.api() as api:
        return api.get("/helpdesk/tickets", params={"tenant_id": tenant_id}).json()


def mails_to(stack: Stack, address: str) -> list[dict]:
    found = httpx.get(
        f"{stack.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    ).json()["messages"]
    return [
        httpx.get(f"{stack.platform_url}/api/v1/message/{m['ID']}", headers=ADMIN_HEADERS).json()
        for m in found
    ]


def history_json(stack: Stack, workflow_id: str) -> str:
    async def fetch() -> str:
        client = await Client.connect(
            stack.temporal_address, data_converter=pydantic_data_converter
        )
        return (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()

    return asyncio.run(fetch())


def one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def test_ecommerce_numbers_are_removed_and_the_customer_gets_the_link(stack: Stack):
    n1, n2 = sorted([new_number(), new_number()])
    setup_numbers(
        stack,
        "e2e-num-ecom",
        [
            {"number": n1, "label": "Reception", "soc_code": "Ecom2Checkout1515"},
            {"number": n2, "label": "Sales", "soc_code": "Ecom2Checkout1515"},
        ],
        account="2CO-E2E-1",
    )
    requester = "anna@e2e-num-ecom.example"

    result = stack.cli("number", "remove", "-n", n2, "-n", n1, "--requested-by", requester, "-w")

    assert result.code == 0, result.stderr
    assert f"number-removal/{n1}" in result.stdout
    assert f"/workflows/number-removal%2F{n1.replace('+', '%2B')}" in result.stdout
    assert "2 of 2 numbers removed" in result.stdout
    devices = numbers_of(stack, "e2e-num-ecom")
    assert all(devices[n]["deleted_at"] for n in (n1, n2))
    [mail] = mails_to(stack, requester)
    # The customer's Admin reads the Italian tenant's language.
    assert mail["Subject"] == "Rimozione dei numeri di telefono completata: E2e-num-ecom S.r.l."
    assert "Riduci di 2 il numero di licenze" in mail["Text"]
    assert "https://secure.2checkout.example/subscriptions/2CO-E2E-1/update" in mail["Text"]
    assert tickets(stack, "e2e-num-ecom") == []
    # The operator accounts were used but never reached the workflow's history.
    history = history_json(stack, f"number-removal/{n1}")
    assert "numbers.delete_device" in history
    for secret in (stack.workdir / "secrets").glob("*_password"):
        assert secret.read_text() not in history


def test_three_direct_numbers_from_a_file_with_one_refused(stack: Stack, tmp_path):
    n1, n2, n3 = new_number(), new_number(), new_number()
    setup_numbers(
        stack,
        "e2e-num-direct",
        [
            {"number": n1, "soc_code": "CKSWDirectAdv1515"},
            {"number": n2, "soc_code": "CKSWDirectAdv1515"},
            {"number": n3, "soc_code": "CKSWDirectAdv1515", "locked_reason": "porting"},
        ],
    )
    numbers_file = tmp_path / "numbers.txt"
    # National format and comments are fine: parsed as Italian numbers (--region IT).
    national = "0" + n2[4:]
    numbers_file.write_text(f"# customer ticket 4711\n{n1}\n{national}  # meeting room\n{n3}\n")

    result = stack.cli(
        "number", "remove", "-f", str(numbers_file), "--requested-by",
        "anna@e2e-num-direct.example", "--wait", "--json",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    out = json.loads(result.stdout)
    outcomes = {s["number"]: s["outcome"] for s in out["result"]["numbers"]}
    assert outcomes == {n1: "removed", n2: "removed", n3: "not-removed"}
    assert out["result"]["licences_to_decrease"] == 0
    assert numbers_of(stack, "e2e-num-direct")[n3]["deleted_at"] is None
    shown = json.loads(stack.cli("number", "status", out["workflow_id"], "--json").stdout)
    [refused] = [s for s in shown["status"]["numbers"] if s["number"] == n3]
    assert refused["detail"].endswith("cannot be deleted: porting")
    [mail] = mails_to(stack, "anna@e2e-num-direct.example")
    assert mail["Subject"].startswith("Rimozione dei numeri di telefono completata in parte")
    assert "Non rimossi:" in mail["Text"] and "fatturati direttamente" in mail["Text"]


def test_unknown_soc_code_opens_a_ticket_and_removes_nothing(stack: Stack):
    number = new_number()
    setup_numbers(stack, "e2e-num-soc", [{"number": number, "soc_code": "LegacyBundle0909"}])

    result = stack.cli(
        "number", "remove", "-n", number, "--requested-by", "anna@e2e-num-soc.example", "-w"
    )

    one_line_error(result, "nothing was removed")
    assert "unknown SOC code 'LegacyBundle0909'" in result.stderr
    [ticket] = tickets(stack, "e2e-num-soc")
    assert ticket["status"] == "open" and "manual handling" in ticket["subject"]
    assert ticket["workflow_id"] == f"number-removal/{number}"
    assert numbers_of(stack, "e2e-num-soc")[number]["deleted_at"] is None


def test_unverified_removal_gets_a_ticket_then_resolves_when_csu_catches_up(stack: Stack):
    number = new_number()
    setup_numbers(
        stack,
        "e2e-num-lag",
        [{"number": number, "soc_code": "CKSWDirectAdv1515", "csu_sync_seconds": None}],
    )
    requester = "anna@e2e-num-lag.example"
    # A 2-second verification deadline so the ticket comes within the test (default 15 minutes).
    started = stack.cli(
        "number", "remove", "-n", number, "--requested-by", requester, "--json",
        PBXOPS_NUMBER_REMOVAL_VERIFY_DEADLINE="PT2S",
    )  # fmt: skip
    assert started.code == 0, started.stderr
    workflow_id = json.loads(started.stdout)["workflow_id"]

    wait_until(lambda: len(tickets(stack, "e2e-num-lag")) == 1, 30, "the verification ticket")
    [ticket] = tickets(stack, "e2e-num-lag")
    assert "not verified after" in ticket["subject"] and ticket["workflow_id"] == workflow_id
    # While it runs, the same number cannot be asked for again.
    one_line_error(
        stack.cli("number", "remove", "-n", number, "--requested-by", requester),
        "already in a running removal",
    )

    with stack.api() as api:
        api.patch(f"/admin/numbers/{number}", json={"csu_sync_seconds": 0}).raise_for_status()
    wait_until(
        lambda: tickets(stack, "e2e-num-lag")[0]["status"] == "resolved", 60, "the resolution"
    )
    status = json.loads(stack.cli("status", workflow_id, "--json").stdout)
    wait_until(
        lambda: (
            json.loads(stack.cli("status", workflow_id, "--json").stdout)["execution"]
            == "completed"
        ),
        30,
        "the removal to complete",
    )
    assert status["status"]["escalated"] is True
    [mail] = mails_to(stack, requester)
    assert "completata" in mail["Subject"]


def test_bad_requests_are_one_line_and_change_nothing(stack: Stack):
    mine, theirs = new_number(), new_number()
    setup_numbers(stack, "e2e-num-bad", [{"number": mine}])
    setup_numbers(stack, "e2e-num-other", [{"number": theirs}])
    admin = "anna@e2e-num-bad.example"

    one_line_error(
        stack.cli("number", "remove", "-n", "+39 12", "--requested-by", admin),
        "'+39 12' is not a valid phone number",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", "call me", "--requested-by", admin),
        "'call me' is not a phone number",
    )
    unknown = new_number()
    one_line_error(
        stack.cli("number", "remove", "-n", unknown, "--requested-by", admin),
        f"number {unknown} is not known to CSU",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", mine, "--requested-by", "ugo@e2e-num-bad.example"),
        "ugo@e2e-num-bad.example is not an Admin or Super User of tenant 'e2e-num-bad' (User)",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", mine, "-n", theirs, "--requested-by", admin),
        "the numbers belong to different customers",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", mine, "--requested-by", "not-an-email"),
        "--requested-by 'not-an-email' is not an email address",
    )
    one_line_error(
        stack.cli("number", "remove", "-f", "/nonexistent/numbers.txt", "--requested-by", admin),
        "cannot read --numbers-file '/nonexistent/numbers.txt'",
    )
    one_line_error(
        stack.cli("number", "remove", "-n", mine, "--requested-by", admin, PBXOPS_SECRETS_DIR="/x"),
        "no operator account for the support view (CSU)",
    )
    plan = stack.cli("number", "remove", "-n", mine, "--requested-by", admin, "--dry-run")
    assert plan.code == 0 and "dry run: nothing was started" in plan.stdout
    assert numbers_of(stack, "e2e-num-bad")[mine]["deleted_at"] is None
    listed = json.loads(stack.cli("list", "--all", "--json", "--tenant", "e2e-num-bad").stdout)
    assert listed == []
