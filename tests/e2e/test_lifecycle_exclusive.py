"""One lifecycle procedure per service, enforced by the server; eSIM lines never block one.

Real dev server, simulator and worker; the CLI as an operator runs it, and the starter's own
client for many starts in the same instant.
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from pbxops.cli.errors import OperatorError
from pbxops.cli.procedures import Procedures, Started
from pbxops.contracts.deletion import DeletionInput
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.runtime.settings import Settings
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def test_two_lifecycle_procedures_started_at_once_one_starts_the_other_gets_the_link(
    stack: Stack,
):
    tenant = "e2e-race"
    stack.put_tenant(tenant, deactivation_seconds=None, deletion_seconds=None)  # stuck: stays busy
    commands = [
        ("deactivate", "--tenant", tenant),
        ("delete", "--tenant", tenant, "--requested-by", "ops@provider.example"),
    ]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: stack.cli(*args), commands))

    started = [r for r in results if r.code == 0]
    refused = [r for r in results if r.code != 0]
    assert len(started) == 1 and len(refused) == 1, results
    [error] = refused[0].stderr.strip().splitlines()
    assert f"tenant '{tenant}' already has a running Service" in error, error
    assert "/workflows/pbx-de" in error  # the link to the one that runs
    # The link names the procedure that won, whichever it was.
    winner = "pbx-deactivation" if "deactivation" in started[0].stdout else "pbx-deletion"
    assert f"{winner}%2F{tenant}" in error, (error, started[0].stdout)


async def _race(stack: Stack, tenant: str, starts: int) -> list[Started | OperatorError]:
    settings = Settings(
        temporal_address=stack.temporal_address,
        task_queue=stack.task_queue,
        platform_url=stack.platform_url,
    )
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    procedures = Procedures(client, settings)

    async def begin(n: int) -> Started | OperatorError:
        procedure, payload = (
            (Procedure.DEACTIVATION, ServiceTransitionInput(tenant_id=tenant))
            if n % 2
            else (
                Procedure.DELETION,
                DeletionInput(tenant_id=tenant, requested_by="ops@provider.example"),
            )
        )
        try:
            return await procedures.begin_lifecycle(
                procedure, tenant, payload, "race", "race", started_by=f"op{n}@provider.example"
            )
        except OperatorError as err:
            return err

    return list(await asyncio.gather(*(begin(n) for n in range(starts))))


def test_many_starts_in_the_same_instant_start_exactly_one(stack: Stack):
    tenant = "e2e-race-many"
    stack.put_tenant(tenant, deactivation_seconds=None)

    outcomes = asyncio.run(_race(stack, tenant, 8))

    won = [o for o in outcomes if isinstance(o, Started)]
    lost = [o for o in outcomes if isinstance(o, OperatorError)]
    assert len(won) == 1 and len(lost) == 7, outcomes
    assert all("already has a running" in str(err) for err in lost), lost
    assert all(won[0].workflow_id.replace("/", "%2F") in str(err) for err in lost), lost


def test_live_esim_lines_never_block_a_lifecycle_procedure_and_the_state_table_holds(
    stack: Stack,
):
    tenant = "e2e-lines"
    stack.put_tenant(tenant)
    with stack.api() as api:
        api.put(f"/admin/tenants/{tenant}/mobile", json={"licences_total": 2}).raise_for_status()
    line = stack.cli("mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u1", "--json")
    assert line.code == 0, line.stderr
    device = json.loads(line.stdout)["device_id"]

    # The symptom: "already has a running MobileLine". Now the line runs on and the
    # deactivation goes through.
    off = stack.cli("deactivate", "--tenant", tenant, "--wait", "--by", "lea@provider.example")
    assert off.code == 0, off.stderr
    assert "is deactivated" in off.stdout

    # Deactivated: the line keeps running, no new line and no new state change but the table's.
    assert _line_running(stack, device)
    one_line_error(
        stack.cli("mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u2"),
        f"the service of tenant '{tenant}' is deactivated; a new eSIM line needs it active",
    )
    with stack.api() as api:  # the platform itself refuses, not only the CLI
        refused = api.put(
            "/pbx/mobile/devices/md-e2e-direct",
            json={"tenant_id": tenant, "user_id": f"{tenant}-u2"},
        )
    assert refused.status_code == 409
    assert "is deactivated; a new eSIM line needs it active" in refused.json()["detail"]

    shown = stack.cli("status", f"pbx-deactivation/{tenant}")
    assert "started by" in shown.stdout and "lea@provider.example" in shown.stdout

    back = stack.cli("reactivate", "--tenant", tenant, "--wait")
    assert back.code == 0, back.stderr
    assert _line_running(stack, device)


def _line_running(stack: Stack, device: str) -> bool:
    async def describe() -> WorkflowExecutionStatus | None:
        client = await Client.connect(stack.temporal_address)
        return (await client.get_workflow_handle(f"mobile-line/{device}").describe()).status

    status = asyncio.run(describe())
    return status == WorkflowExecutionStatus.RUNNING


def test_a_confirmation_without_an_identity_is_refused_before_it_reaches_the_workflow(
    stack: Stack,
):
    tenant = "e2e-anon"
    stack.put_tenant(tenant)
    assert (
        stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example").code == 0
    )
    one_line_error(
        stack.cli(
            "delete", "confirm", "--tenant", tenant, "--code", "12345678", PBXOPS_OPERATOR=""
        ),
        "a confirmation needs your identity: give --by",
    )
    assert stack.cli("delete", "cancel", "--tenant", tenant).code == 0
