"""A callback never decides an outcome on its own (issue 16.2), on the time-skipping server.

The receiver already refuses callbacks without the job's credential (test_callbacks.py); these
tests send the Signal directly, as a callback with a leaked credential (or a platform bug) would,
and check that the procedure confirms with the platform before it acts, that an impossible phone
event is ignored, and that a flood of callbacks costs a bounded number of platform reads.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from pbxops.cli.deletion import confirmation
from pbxops.contracts.deletion import DeletionInput, DeletionStatus
from pbxops.contracts.mobile import (
    DEVICE_EVENT_SIGNAL,
    CodeState,
    DeviceEvent,
    DeviceStatus,
    MobileLineInput,
    MobileLineStatus,
    PhoneEventKind,
)
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.contracts.procedures import ProcedureStatus
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.workflows.mobile_line import MobileLine
from pbxops.workflows.service_deletion import ServiceDeletion
from pbxops.workflows.service_transition import ServiceDeactivation
from tests.workflows.fake_mobile import FakeMobilePlatform, days
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving

# workflows.platform_job.MAX_CALLBACK_WAKES: the callbacks the platform may contradict per job.
MAX_CALLBACK_WAKES = 3
DONE = PlatformEvent(job_id="job-1", kind="deactivation", tenant_id="acme", state="deactivated")


@pytest_asyncio.fixture
async def platform(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakePlatform]:
    async with serving(time_skipping_env, FakePlatform()) as fake:
        yield fake


@pytest_asyncio.fixture
async def mobile(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakeMobilePlatform]:
    fake = FakeMobilePlatform()
    fake.started = []  # type: ignore[attr-defined]
    async with serving(time_skipping_env, fake):
        yield fake
        for handle in fake.started:  # type: ignore[attr-defined]
            with contextlib.suppress(RPCError):
                await handle.terminate("test over")


async def deactivation(env: WorkflowEnvironment, platform: FakePlatform) -> WorkflowHandle:
    return await env.client.start_workflow(
        ServiceDeactivation.run,
        ServiceTransitionInput(tenant_id="acme"),
        id=f"pbx-deactivation/{uuid.uuid4()}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )


async def settle(check: Callable[[], bool]) -> None:
    """Let the workflow handle what it was sent (real time; the clock is not skipped)."""
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the workflow never got there")


async def test_a_callback_the_platform_contradicts_is_ignored_and_the_sla_still_applies(
    time_skipping_env, platform
):
    """The issue's finding: this ended as VerificationFailed, with no ticket."""
    handle = await deactivation(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=1))
    assert platform.state == ServiceState.DEACTIVATING

    await handle.signal(PLATFORM_EVENT_SIGNAL, DONE)  # forged: the job is still running
    await settle(lambda: platform.polls == 1)
    shown = await handle.query("status", result_type=ProcedureStatus)
    assert shown.outcome == "running" and shown.step == "waiting-for-platform"

    await time_skipping_env.sleep(timedelta(minutes=20))
    assert len(platform.tickets) == 1  # the 15-minute SLA, as without the forged callback
    platform.finish(ServiceState.DEACTIVATED)
    await handle.signal(PLATFORM_EVENT_SIGNAL, DONE)  # the real one: the same body
    result = await handle.result()
    assert result.state == ServiceState.DEACTIVATED and result.escalated
    assert platform.tickets[0].status == "resolved"


async def test_a_flood_of_callbacks_costs_a_bounded_number_of_reads(time_skipping_env, platform):
    handle = await deactivation(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=1))

    for _ in range(40):
        await handle.signal(PLATFORM_EVENT_SIGNAL, DONE)
        await asyncio.sleep(0.01)
    await time_skipping_env.sleep(timedelta(minutes=2))  # still within the SLA
    # Each read that contradicted a callback let at most one more through, and only so often.
    assert 1 <= platform.polls <= MAX_CALLBACK_WAKES
    assert (await handle.query("status", result_type=ProcedureStatus)).outcome == "running"

    # Callbacks no longer wake it; the safety poll at the SLA deadline finds the real end.
    platform.finish(ServiceState.DEACTIVATED)
    await handle.signal(PLATFORM_EVENT_SIGNAL, DONE)
    result = await handle.result()
    assert result.state == ServiceState.DEACTIVATED and not result.escalated
    assert platform.tickets == []


async def test_a_deletion_is_not_verified_on_a_callback_alone(time_skipping_env, platform):
    """The same hole in the deletion: `deleted` while the platform is still `deleting`."""
    env = time_skipping_env
    handle = await env.client.start_workflow(
        ServiceDeletion.run,
        DeletionInput(tenant_id="acme", requested_by="ops@provider.example"),
        id=f"pbx-deletion/{uuid.uuid4()}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )
    await deletion_at(env, handle, "awaiting-confirmation")
    await handle.execute_update(
        ServiceDeletion.confirm,
        await confirmation(handle, platform.code_for(), by="ops@provider.example"),
    )
    await deletion_at(env, handle, "waiting-for-delivery")
    deleted = PlatformEvent(job_id="job-1", kind="deletion", tenant_id="acme", state="deleted")
    reads = platform.polls

    await handle.signal(PLATFORM_EVENT_SIGNAL, deleted)  # the platform still shows `deleting`
    await settle(lambda: platform.polls == reads + 1)
    shown = await handle.query("status", result_type=DeletionStatus)
    assert shown.outcome == "running" and shown.step == "waiting-for-delivery"

    platform.finish(ServiceState.DELETED)
    await handle.signal(PLATFORM_EVENT_SIGNAL, deleted)
    result = await handle.result()
    assert result.state == ServiceState.DELETED and platform.tickets == []


async def deletion_at(env: WorkflowEnvironment, handle: WorkflowHandle, step: str) -> None:
    for _ in range(100):
        if (await handle.query("status", result_type=DeletionStatus)).step == step:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"the deletion never reached {step}")


async def line(env: WorkflowEnvironment, mobile: FakeMobilePlatform) -> WorkflowHandle:
    device_id = f"md-{uuid.uuid4().hex[:10]}"
    handle = await env.client.start_workflow(
        MobileLine.run,
        MobileLineInput(device_id=device_id, tenant_id="acme", user_id="u1"),
        id=f"mobile-line/{device_id}",
        task_queue=mobile.task_queue,  # type: ignore[attr-defined]
    )
    handle.device_id = device_id  # type: ignore[attr-defined]
    mobile.started.append(handle)  # type: ignore[attr-defined]
    return handle


async def line_status(handle: WorkflowHandle) -> MobileLineStatus:
    return await handle.query("status", result_type=MobileLineStatus)


async def until_line(handle: WorkflowHandle, check: Callable[[MobileLineStatus], bool]):
    for _ in range(300):
        with contextlib.suppress(RPCError):
            current = await line_status(handle)
            if check(current):
                return current
        await asyncio.sleep(0.02)
    raise AssertionError("the line never got there")


async def test_a_phone_event_with_an_impossible_sequence_number_is_ignored(
    time_skipping_env, mobile
):
    """seq 999999999 marked the line online, cancelled its expiry and made it ignore every
    genuine event after it."""
    handle = await line(time_skipping_env, mobile)
    device_id = handle.device_id  # type: ignore[attr-defined]
    await until_line(handle, lambda s: s.code is not None)

    await handle.signal(DEVICE_EVENT_SIGNAL, mobile.forged_event(device_id, seq=999_999_999))
    forged = await until_line(
        handle, lambda s: mobile.device_reads == 1 or s.device_status != "pending_activation"
    )
    assert forged.device_status == DeviceStatus.PENDING_ACTIVATION
    assert forged.code.state == CodeState.CURRENT and forged.recent_events == []

    # The genuine events that follow are adopted.
    code = mobile.current_code(device_id)
    await handle.signal(DEVICE_EVENT_SIGNAL, mobile.activate(mobile.lpa(code)))
    online = await until_line(handle, lambda s: s.device_status == DeviceStatus.ONLINE)
    assert online.code.state == CodeState.USED
    await handle.signal(DEVICE_EVENT_SIGNAL, mobile.deactivate(device_id))
    await until_line(handle, lambda s: s.device_status == DeviceStatus.OFFLINE)


async def test_a_forged_activation_does_not_cancel_the_90_day_expiry(time_skipping_env, mobile):
    handle = await line(time_skipping_env, mobile)
    device_id = handle.device_id  # type: ignore[attr-defined]
    await until_line(handle, lambda s: s.code is not None)
    seq = mobile.devices[device_id].event_seq + 1  # the next number: plausible, yet unknown

    await handle.signal(DEVICE_EVENT_SIGNAL, mobile.forged_event(device_id, seq=seq))
    await time_skipping_env.sleep(days(91))

    expired = await until_line(handle, lambda s: s.step == "code-expired")
    assert expired.code.state == CodeState.EXPIRED and mobile.expire_calls == 1


async def test_the_platform_s_status_wins_over_the_event_s(time_skipping_env, mobile):
    handle = await line(time_skipping_env, mobile)
    device_id = handle.device_id  # type: ignore[attr-defined]
    await until_line(handle, lambda s: s.code is not None)
    mobile.activate(mobile.lpa(mobile.current_code(device_id)))
    device = mobile.devices[device_id]
    # An event the platform did record (its seq), claiming a status it does not show.
    lying = DeviceEvent(
        device_id=device_id,
        seq=device.event_seq,
        kind=PhoneEventKind.DEACTIVATED,
        status=DeviceStatus.OFFLINE,
        at=datetime.now(UTC),
    )

    await handle.signal(DEVICE_EVENT_SIGNAL, lying)

    shown = await until_line(handle, lambda s: s.recent_events != [])
    assert shown.device_status == DeviceStatus.ONLINE  # what the platform shows
    assert shown.code.state == CodeState.USED
