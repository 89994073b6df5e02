"""Issue 16.4: a tenant name with CR/LF from the platform ends the deletion at once, with the
reason, instead of ``mail.send_deletion_code`` failing with ValueError on every attempt forever.

The real stack: the simulator plays a platform whose tenant record holds a header injection, the
worker runs the real deletion workflow, the operator uses the real CLI.
"""

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from pbxops.contracts.procedures import Procedure
from tests.stack import Stack, tenant_body

pytestmark = pytest.mark.e2e

HOSTILE_NAME = "Acme\r\nBcc: evil@attacker.example"


def _put(stack: Stack, tenant: str, **fields: object) -> None:
    with stack.api() as api:
        body = {**tenant_body(tenant), **fields}
        api.put(f"/admin/tenants/{tenant}", json=body).raise_for_status()


def test_a_header_unsafe_tenant_name_ends_the_deletion_with_its_reason(stack: Stack):
    tenant = f"crlf-{uuid.uuid4().hex[:6]}"
    _put(stack, tenant, name=HOSTILE_NAME)

    result = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")

    assert result.code == 1, result
    [line] = result.stderr.splitlines()
    assert line.startswith("error: deletion refused: the platform's name of tenant"), line
    assert "cannot be used in an email" in line and "control characters (U+000D" in line
    assert "evil@attacker.example" not in line

    async def outcome() -> tuple[WorkflowExecutionStatus | None, str]:
        client = await Client.connect(stack.temporal_address)
        handle = client.get_workflow_handle(Procedure.DELETION.workflow_id(tenant))
        try:
            await handle.result()
        except WorkflowFailureError as err:
            return (await handle.describe()).status, str(err.cause)
        return (await handle.describe()).status, ""

    status, cause = asyncio.run(outcome())
    assert status == WorkflowExecutionStatus.FAILED  # ended, not retrying for ever
    assert "cannot be used in an email" in cause


def test_a_header_unsafe_admin_address_ends_the_deletion(stack: Stack):
    tenant = f"crlf-{uuid.uuid4().hex[:6]}"
    body = tenant_body(tenant)
    for user in body["users"]:
        if "Admin" in user.get("roles", []):
            user["email"] = f"admin@{tenant}.example\r\nBcc: evil@attacker.example"
    _put(stack, tenant, users=body["users"])

    result = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")

    assert result.code == 1, result
    [line] = result.stderr.splitlines()
    assert "the platform's email address of Admin" in line, line
    assert "evil@attacker.example" not in line
