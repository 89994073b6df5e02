"""Service deactivation end to end: the `pbxops` CLI against the dev server, simulator and worker.

Nothing is faked: the CLI is run as an operator would run it, the worker talks HTTP to the
simulator, the simulator calls the worker's callback receiver, mail goes over SMTP.
"""

import json
import time

import httpx
import pytest

from tests.processes import wait_until
from tests.stack import ADMIN_HEADERS, Stack

pytestmark = pytest.mark.e2e


def service(stack: Stack, tenant_id: str) -> dict:
    with stack.api() as api:
        return api.get(f"/pbx/tenants/{tenant_id}").json()["service"]


def extensions(stack: Stack, tenant_id: str) -> list[dict]:
    with stack.api() as api:
        return api.get(f"/pbx/tenants/{tenant_id}/extensions").json()


def tickets(stack: Stack, tenant_id: str) -> list[dict]:
    with stack.api() as api:
        return api.get("/helpdesk/tickets", params={"tenant_id": tenant_id}).json()


def assert_one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def test_deactivate_wait_ends_deactivated_with_extensions_kept_and_billing_on(stack: Stack):
    stack.put_tenant("e2e-fast", deactivation_seconds=1)

    result = stack.cli(
        "deactivate", "--tenant", "e2e-fast", "--wait", "--notify", "ops@provider.example"
    )

    assert result.code == 0, result.stderr
    assert "pbx-deactivation/e2e-fast" in result.stdout
    assert "/namespaces/default/workflows/pbx-deactivation%2Fe2e-fast" in result.stdout
    assert "is deactivated" in result.stdout
    now = service(stack, "e2e-fast")
    assert now["state"] == "deactivated"
    assert now["access"] is None
    assert now["billing_active"] is True
    kept = extensions(stack, "e2e-fast")
    assert len(kept) == 4 and not any(ext["registered"] for ext in kept)
    assert tickets(stack, "e2e-fast") == []
    mails = httpx.get(
        f"{stack.platform_url}/api/v1/search",
        params={"query": "to:ops@provider.example"},
        headers=ADMIN_HEADERS,
    ).json()["messages"]
    # The stack (and this mailbox) is shared with the other e2e modules: only this tenant's mail.
    subjects = [m["Subject"] for m in mails if "E2e-fast" in m["Subject"]]
    assert subjects == ["Cloud PBX service deactivated: E2e-fast S.r.l."]  # staff: English


def test_stuck_platform_gets_one_ticket_then_it_is_resolved(stack: Stack):
    stack.put_tenant("e2e-stuck", deactivation_seconds=None)
    # A 2-second SLA so the escalation happens within the test; the default is 15 minutes.
    started = stack.cli(
        "deactivate", "--tenant", "e2e-stuck", "--json", PBXOPS_DEACTIVATION_SLA="PT2S"
    )
    assert started.code == 0, started.stderr
    workflow_id, run_id = (json.loads(started.stdout)[key] for key in ("workflow_id", "run_id"))
    # The CLI's link and the ticket's are pinned to this run (issue 19.7).
    pinned = f"/workflows/pbx-deactivation%2Fe2e-stuck/{run_id}/history"
    assert json.loads(started.stdout)["url"].endswith(pinned)

    wait_until(lambda: len(tickets(stack, "e2e-stuck")) == 1, 30, "the SLA ticket")
    [ticket] = tickets(stack, "e2e-stuck")
    assert ticket["status"] == "open"
    assert ticket["workflow_id"] == workflow_id
    assert ticket["workflow_url"].endswith(pinned)
    listed = json.loads(stack.cli("list", "--json").stdout)
    [row] = [row for row in listed if row["workflow_id"] == workflow_id]
    assert row["escalated"] is True and row["ticket_id"] == ticket["id"]

    with stack.api() as api:
        api.post("/admin/tenants/e2e-stuck/complete-jobs").raise_for_status()

    wait_until(
        lambda: tickets(stack, "e2e-stuck")[0]["status"] == "resolved",
        30,
        "the ticket's resolution",
    )
    assert len(tickets(stack, "e2e-stuck")) == 1
    assert service(stack, "e2e-stuck")["state"] == "deactivated"
    status = json.loads(stack.cli("status", workflow_id, "--json").stdout)
    assert status["execution"] == "completed"
    assert status["status"]["escalated"] is True


def test_reactivate_after_deactivate(stack: Stack):
    stack.put_tenant("e2e-back", state="deactivated")

    result = stack.cli("reactivate", "--tenant", "e2e-back", "--wait")

    assert result.code == 0, result.stderr
    assert service(stack, "e2e-back")["state"] == "active"
    assert all(ext["registered"] for ext in extensions(stack, "e2e-back"))


def test_bad_input_is_one_line_and_changes_nothing(stack: Stack):
    stack.put_tenant("e2e-off", state="deactivated")
    stack.put_tenant("e2e-slow", deactivation_seconds=None)
    assert stack.cli("deactivate", "--tenant", "e2e-slow").code == 0

    assert_one_line_error(
        stack.cli("deactivate", "--tenant", "nobody"), "tenant 'nobody' not found"
    )
    assert_one_line_error(
        stack.cli("deactivate", "--tenant", "e2e-off"),
        "is deactivated; a deactivation needs it active",
    )
    assert_one_line_error(
        stack.cli("deactivate", "--tenant", "e2e-slow"), "already has a running ServiceDeactivation"
    )
    assert_one_line_error(
        stack.cli("deactivate", "--tenant", "x' OR TenantId != '"), "is not a tenant id"
    )
    assert_one_line_error(
        stack.cli(
            "deactivate",
            "--tenant",
            "e2e-off",
            PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1",
            PBXOPS_PLATFORM_URL="http://127.0.0.1:1",
        ),
        "cannot reach the PBX platform",
    )
    assert_one_line_error(
        stack.cli("list", PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"),
        "cannot reach the Temporal server at 127.0.0.1:1",
    )
    assert service(stack, "e2e-off")["state"] == "deactivated"
    listed = json.loads(stack.cli("list", "--all", "--json", "--tenant", "e2e-off").stdout)
    assert listed == []


def test_status_by_tenant_and_tickets_command(stack: Stack):
    stack.put_tenant("e2e-status", deactivation_seconds=0.2)
    assert stack.cli("deactivate", "--tenant", "e2e-status", "--wait").code == 0

    shown = stack.cli("status", "--tenant", "e2e-status")
    assert shown.code == 0, shown.stderr
    assert "completed" in shown.stdout and "pbx-deactivation%2Fe2e-status" in shown.stdout
    assert stack.cli("tickets", "--status", "all").code == 0
    assert_one_line_error(stack.cli("tickets", "--status", "maybe"), "--status must be")
    assert_one_line_error(stack.cli("status"), "give either a WORKFLOW_ID or --tenant")


def test_the_worker_exposes_prometheus_metrics(stack: Stack):
    deadline = time.monotonic() + 10
    body = ""
    while time.monotonic() < deadline and "temporal_" not in body:
        body = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics").text
    assert "temporal_" in body
