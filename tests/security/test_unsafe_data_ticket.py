"""Hostile platform data ends a procedure with ONE support ticket, so a person learns of it.

A tenant name or an Admin's address with "\\r\\nBcc: …" is refused non-retryable where it enters
(test_unsafe_platform_data.py); here the procedure also opens exactly one ticket in the helpdesk:
a sentence saying which procedure of which tenant stopped and why, never the hostile value, and
the link to the run in the Temporal UI. The real stack: simulator, worker, CLI.
"""

import asyncio
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter

from pbxops.contracts.deletion import DeletionStatus
from pbxops.contracts.procedures import Procedure
from tests.stack import Stack, tenant_body

pytestmark = pytest.mark.e2e

INJECTION = "\r\nBcc: evil@attacker.example"


def _hostile_tenant(stack: Stack, where: str) -> tuple[str, str]:
    """A tenant whose name or Admin address carries the injection; (tenant id, Admin address)."""
    tenant = f"crlf-{uuid.uuid4().hex[:6]}"
    body = tenant_body(tenant)
    admin = f"anna@{tenant}.example"
    if where == "tenant name":
        body["name"] = f"Acme{INJECTION}"
    else:
        for user in body["users"]:
            if "Admin" in user["roles"]:
                user["email"] = f"{admin}{INJECTION}"
    with stack.api() as api:
        api.put(f"/admin/tenants/{tenant}", json=body).raise_for_status()
    return tenant, admin


def _tickets(stack: Stack, tenant: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        return api.get("/helpdesk/tickets", params={"tenant_id": tenant}).json()


async def _ended(stack: Stack, workflow_id: str) -> tuple[WorkflowExecutionStatus, str, Any]:
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    handle = client.get_workflow_handle(workflow_id)
    cause = ""
    try:
        await handle.result()
    except WorkflowFailureError as err:
        cause = str(err.cause)
    described = await handle.describe()
    status = await handle.query("status", result_type=DeletionStatus)
    return described.status, cause, (described.run_id, status)


@pytest.mark.parametrize("where", ["tenant name", "Admin address"])
def test_a_header_unsafe_platform_value_ends_the_deletion_with_one_ticket(stack: Stack, where):
    tenant, admin = _hostile_tenant(stack, where)
    workflow_id = Procedure.DELETION.workflow_id(tenant)

    result = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")

    assert result.code == 1, result
    ended, cause, (run_id, status) = asyncio.run(_ended(stack, workflow_id))
    assert ended == WorkflowExecutionStatus.FAILED  # ended, not retrying for ever
    [ticket] = _tickets(stack, tenant)  # exactly one
    # The ticket says which procedure of which tenant stopped, and why (the activity's sentence).
    assert f"deletion of tenant '{tenant}'" in ticket["body"]
    assert "cannot be used in an email" in ticket["body"]
    assert "correct the record on the platform" in ticket["body"]
    # Never the hostile value: no line break from it, no injected header, no forged recipient.
    for text in (ticket["subject"], ticket["body"]):
        assert "\r" not in text and "Bcc:" not in text and "evil@attacker.example" not in text
    # The link to this run in the Temporal UI, in the body and as the ticket's own link.
    assert ticket["workflow_id"] == workflow_id
    assert ticket["workflow_url"].endswith(
        f"/workflows/{quote(workflow_id, safe='')}/{run_id}/history"
    )
    assert ticket["workflow_url"] in ticket["body"]
    # The failure and the status say which ticket; no email went out.
    assert f"support ticket {ticket['id']}" in cause
    assert f"support ticket {ticket['id']}" in result.stderr
    assert status.ticket_id == ticket["id"] and status.escalated
    assert stack.mails_to(admin) == []
    assert stack.mails_to("evil@attacker.example") == []


def test_a_header_unsafe_tenant_name_ends_the_number_removal_with_one_ticket(stack: Stack):
    tenant = f"crlf-num-{uuid.uuid4().hex[:6]}"
    number = "+39068" + str(uuid.uuid4().int)[:7]
    stack.put_tenant(tenant, name=f"Acme{INJECTION}")
    with stack.api() as api:
        body = {"ecommerce_account": None, "devices": [{"number": number}]}
        api.put(f"/admin/numbers/tenants/{tenant}", json=body).raise_for_status()
    admin = f"anna@{tenant}.example"

    result = stack.cli("number", "remove", "-n", number, "--requested-by", admin, "-w")

    assert result.code == 1, result
    [ticket] = _tickets(stack, tenant)  # exactly one
    assert f"removal of numbers of tenant '{tenant}'" in ticket["body"]
    assert "cannot be used in an email" in ticket["body"]
    for text in (ticket["subject"], ticket["body"]):
        assert "\r" not in text and "Bcc:" not in text and "evil@attacker.example" not in text
    assert ticket["workflow_id"] == f"number-removal/{number}"
    assert ticket["workflow_url"] and ticket["workflow_url"] in ticket["body"]
    assert f"support ticket {ticket['id']}" in result.stderr
    with stack.api() as api:
        [device] = api.get(f"/admin/numbers/tenants/{tenant}").json()["devices"]
    assert not device["deleted_at"]  # nothing was removed
    assert stack.mails_to(admin) == []
    assert stack.mails_to("evil@attacker.example") == []


def test_a_header_unsafe_tenant_name_ends_the_deactivation_before_any_change_with_one_ticket(
    stack: Stack,
):
    tenant, _admin = _hostile_tenant(stack, "tenant name")
    operator = f"ops-{tenant}@provider.example"

    result = stack.cli("deactivate", "--tenant", tenant, "--notify", operator, "--wait")

    assert result.code == 1, result
    [ticket] = _tickets(stack, tenant)  # exactly one
    assert f"deactivation of tenant '{tenant}' before any change" in ticket["body"]
    assert "cannot be used in an email" in ticket["body"]
    for text in (ticket["subject"], ticket["body"]):
        assert "\r" not in text and "Bcc:" not in text and "evil@attacker.example" not in text
    assert ticket["workflow_id"] == Procedure.DEACTIVATION.workflow_id(tenant)
    assert ticket["workflow_url"] and ticket["workflow_url"] in ticket["body"]
    assert f"support ticket {ticket['id']}" in result.stderr
    with stack.api() as api:
        service = api.get(f"/pbx/tenants/{tenant}").json()["service"]
    assert service["state"] == "active"  # no job was started: nothing changed
    assert stack.mails_to(operator) == []  # no result email with the hostile name
    assert stack.mails_to("evil@attacker.example") == []
