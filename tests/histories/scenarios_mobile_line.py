"""Histories of MobileLine worth guarding: activation, expiry, lost/stolen, continue-as-new.

Every scenario ends with the device deleted (a line otherwise lives forever).
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.deletion import SERVICE_DELETED_SIGNAL, ServiceDeleted
from pbxops.contracts.mobile import (
    DEVICE_EVENT_SIGNAL,
    CodeOutcome,
    CodeRequest,
    DeleteRequest,
    MobileLineInput,
    MobileLineResult,
    MobileLineStatus,
)
from pbxops.workflows.mobile_line import MobileLine
from tests.histories.record import Scenario
from tests.workflows.fake_mobile import FakeMobilePlatform

DEVICE = "md-history"

Drive = Callable[[WorkflowEnvironment, WorkflowHandle, FakeMobilePlatform], Awaitable[None]]


async def _until(handle: WorkflowHandle, check: Callable[[MobileLineStatus], bool]) -> None:
    for _ in range(500):
        try:
            current = await handle.query(
                "status", result_type=MobileLineStatus, rpc_timeout=timedelta(seconds=5)
            )
        except RPCError:  # the test server can lose a query sent just as the run continues
            continue
        if check(current):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the scenario's workflow never reached the expected state")


async def _provisioned(handle: WorkflowHandle) -> None:
    await _until(handle, lambda s: s.code is not None)


async def _activate(handle: WorkflowHandle, platform: FakeMobilePlatform) -> None:
    code = platform.current_code(DEVICE)
    assert code is not None
    await handle.signal(DEVICE_EVENT_SIGNAL, platform.activate(platform.lpa(code)))
    await _until(handle, lambda s: s.device_status == "online")


async def _delete(handle: WorkflowHandle) -> None:
    await handle.execute_update(
        "delete", DeleteRequest(requested_by="ops@provider.example"), result_type=MobileLineResult
    )


def _scenario(
    name: str,
    drive: Drive,
    *,
    first_run: bool = False,
    memo: dict[str, str] | None = None,
    **overrides,
) -> Scenario:
    """``first_run``: record the first run (it ends by continuing as new), not the last one.
    ``memo``: what ``pbxops mobile provision`` sets (who started the line)."""
    platform = FakeMobilePlatform(licences_total=overrides.pop("licences_total", 2))

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = MobileLineInput(device_id=DEVICE, tenant_id="acme", user_id="u1", **overrides)
        handle = await client.start_workflow(
            MobileLine.run, inp, id=workflow_id, task_queue=task_queue, memo=memo
        )
        if first_run:
            return client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        return handle

    async def run(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        # Signals and updates go to whichever run is current.
        await drive(env, env.client.get_workflow_handle(handle.id), platform)

    return Scenario(name, platform.activities, start, run)


async def activated(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    await _provisioned(handle)
    await env.sleep(timedelta(days=10))
    await _activate(handle, p)
    await handle.signal(DEVICE_EVENT_SIGNAL, p.deactivate(DEVICE))
    await handle.signal(DEVICE_EVENT_SIGNAL, p.reactivate(DEVICE))
    await handle.signal(DEVICE_EVENT_SIGNAL, p.remove(DEVICE))
    await _until(handle, lambda s: s.step == "needs-new-code")
    await _delete(handle)


async def expired(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    await _provisioned(handle)
    await env.sleep(timedelta(days=90, hours=1))
    await _until(handle, lambda s: s.step == "code-expired")
    await handle.execute_update(
        "new_code", CodeRequest(requested_by="ops@provider.example"), result_type=CodeOutcome
    )
    await handle.execute_update(
        "new_code", CodeRequest(requested_by="ops@provider.example"), result_type=CodeOutcome
    )
    await _activate(handle, p)
    await _delete(handle)


async def lost_stolen(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    await _provisioned(handle)
    await _activate(handle, p)
    await handle.execute_update(
        "lost_stolen", CodeRequest(requested_by="ops@provider.example"), result_type=CodeOutcome
    )
    await env.sleep(timedelta(days=2))
    await _activate(handle, p)
    await _delete(handle)


async def long_life(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    await _provisioned(handle)
    await _activate(handle, p)
    for _ in range(30):
        await env.sleep(timedelta(days=7))
        event = p.deactivate(DEVICE) if p.devices[DEVICE].status == "online" else None
        await handle.signal(DEVICE_EVENT_SIGNAL, event or p.reactivate(DEVICE))
    await _until(handle, lambda s: s.runs > 1)
    await _delete(handle)


async def ended_with_the_service(env, handle: WorkflowHandle, p: FakeMobilePlatform):
    """Issue 15: the tenant's deletion tells the line to end; it deletes its device and ends."""
    await _provisioned(handle)
    await _activate(handle, p)
    notice = ServiceDeleted(tenant_id="acme", by="ops@provider.example")
    await handle.signal(SERVICE_DELETED_SIGNAL, notice)


async def events_confirmed(
    env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform
) -> None:
    """Phone events confirmed with the platform (issue 16): a forged one with an impossible
    sequence number is ignored, the genuine ones after it are adopted."""
    await _provisioned(handle)
    forged = p.forged_event(DEVICE, seq=999_999_999)
    await handle.signal(DEVICE_EVENT_SIGNAL, forged)
    await env.sleep(timedelta(days=1))
    await _activate(handle, p)
    await handle.signal(DEVICE_EVENT_SIGNAL, p.deactivate(DEVICE))
    await _until(handle, lambda s: s.device_status == "offline")
    await _delete(handle)


async def audited(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    """Who provisioned, reported the phone lost and deleted the line: in the UI details, the code
    outcome and the result (workflow patch audit-in-results)."""
    await _provisioned(handle)
    await _activate(handle, p)
    lost = CodeRequest(requested_by="lost@provider.example")
    await handle.execute_update("lost_stolen", lost, result_type=CodeOutcome)
    await handle.execute_update(
        "delete", DeleteRequest(requested_by="gone@provider.example"), result_type=MobileLineResult
    )


async def nothing(env: WorkflowEnvironment, handle: WorkflowHandle, p: FakeMobilePlatform):
    return None


SCENARIOS = [
    _scenario("mobile_line_activated", activated),
    _scenario("mobile_line_expired_new_code", expired),
    _scenario("mobile_line_lost_stolen", lost_stolen),
    _scenario("mobile_line_continue_as_new", long_life, first_run=True, max_history_events=100),
    _scenario("mobile_line_pool_exhausted", nothing, licences_total=0),
    _scenario("mobile_line_ended_by_service_deletion", ended_with_the_service),
    _scenario("mobile_line_events_confirmed", events_confirmed),
    _scenario("mobile_line_audited", audited, memo={"started_by": "starter@provider.example"}),
]
