"""ServiceDeletion on the time-skipping test server: codes, attempts, expiry, deadlines, tickets.

The code activities are the real ones (pure crypto); the fake mailbox opens the sealed code the
way an Admin reads their email, so the tests confirm with exactly what the Admin received.
"""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from pbxops.cli.deletion import confirmation
from pbxops.contracts.deletion import (
    ERASE_STEPS,
    PURGE_STEPS,
    ConfirmCode,
    DeletionInput,
    DeletionStatus,
    Phase,
    WithdrawRequest,
)
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.workflows.service_deletion import ServiceDeletion
from tests.conftest import time_skipping_server
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving

ROME = ZoneInfo("Europe/Rome")


@pytest_asyncio.fixture
async def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


@pytest_asyncio.fixture
async def platform(env: WorkflowEnvironment) -> AsyncIterator[FakePlatform]:
    async with serving(env, FakePlatform()) as fake:
        yield fake


async def start(env: WorkflowEnvironment, platform: FakePlatform, **overrides) -> WorkflowHandle:
    inp = DeletionInput(
        tenant_id=overrides.pop("tenant_id", "acme"), requested_by="ops@provider.example"
    )
    handle = await env.client.start_workflow(
        ServiceDeletion.run,
        inp.model_copy(update=overrides),
        id=f"pbx-deletion/{uuid.uuid4()}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )
    return handle


async def status(handle: WorkflowHandle) -> DeletionStatus:
    return await handle.query("status", result_type=DeletionStatus)


async def reach(env: WorkflowEnvironment, handle: WorkflowHandle, step: str) -> None:
    """Let (skipped) time pass until the workflow is at ``step``."""
    for _ in range(100):
        if (await status(handle)).step == step:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"the workflow never reached {step}: {await status(handle)}")


async def code_emailed(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    await reach(env, handle, "awaiting-confirmation")


async def confirm(handle: WorkflowHandle, code: str):
    # Sealed to the worker's key, as `pbxops delete confirm` sends it.
    return await handle.execute_update(
        ServiceDeletion.confirm, await confirmation(handle, code, by="ops@provider.example")
    )


async def platform_deletes(
    env: WorkflowEnvironment, handle: WorkflowHandle, platform: FakePlatform
) -> None:
    """Once the purge is done and the workflow waits, the platform's erasure job ends."""
    await reach(env, handle, "waiting-for-delivery")
    platform.finish(ServiceState.DELETED)
    event = PlatformEvent(job_id="job-1", kind="deletion", tenant_id="acme", state="deleted")
    await handle.signal(PLATFORM_EVENT_SIGNAL, event)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**8:08d}"


async def test_happy_path_deletes_everything_and_the_code_never_reaches_history(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    code = platform.code_for("anna@acme.example")
    assert platform.codes_sent == {"anna@acme.example": [code], "marco@acme.example": [code]}
    assert len(code) == 8 and code.isdigit()

    answer = await confirm(handle, code)
    assert answer.phase == Phase.CONFIRMED
    await platform_deletes(env, handle, platform)
    result = await handle.result()

    assert platform.purged == [*PURGE_STEPS, *ERASE_STEPS]
    assert result.phase == Phase.CONFIRMED and result.state == ServiceState.DELETED
    assert not result.escalated and platform.tickets == []
    # The Admins read the Italian tenant's language; the operator who asked, English.
    [admins, operator] = platform.mails
    assert admins.to == ["anna@acme.example", "marco@acme.example"]
    assert admins.subject.startswith("Servizio Cloud PBX eliminato:")
    assert "la fatturazione interrotta" in admins.text
    assert operator.to == ["ops@provider.example"]
    assert "billing has stopped" in operator.text
    # The code appears nowhere: not in the Update (sealed), activity results or state.
    history = json.loads((await handle.fetch_history()).to_json())
    assert code not in json.dumps(history["events"])
    assert code not in (await status(handle)).model_dump_json()


async def test_a_confirmation_without_an_identity_is_refused_and_who_confirmed_is_recorded(
    env, platform
):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    code = platform.code_for()

    with pytest.raises(WorkflowUpdateFailedError) as anonymous:
        await handle.execute_update(
            ServiceDeletion.confirm, await confirmation(handle, code, by="")
        )
    assert "needs the identity of who confirms" in anonymous.value.cause.message
    assert (await status(handle)).phase == Phase.AWAITING_CODE  # nothing changed

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            ServiceDeletion.confirm,
            await confirmation(handle, wrong(code), by="eve@provider.example"),
        )
    await handle.execute_update(
        ServiceDeletion.confirm, await confirmation(handle, code, by="lea@provider.example")
    )
    current = await status(handle)
    assert current.started_by == "ops@provider.example"
    assert current.confirmed_by == "lea@provider.example"
    assert [(e.by, e.action) for e in current.audit] == [
        ("eve@provider.example", "entered a wrong code"),
        ("lea@provider.example", "confirmed the deletion"),
    ]
    await platform_deletes(env, handle, platform)
    result = await handle.result()
    assert (result.requested_by, result.confirmed_by) == (
        "ops@provider.example",
        "lea@provider.example",
    )


async def test_four_wrong_codes_then_the_right_one(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    code = platform.code_for()

    for left in ("4 attempts", "3 attempts", "2 attempts", "1 attempt"):
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await confirm(handle, wrong(code))
        assert failure.value.cause.message == f"wrong code; {left} left"

    assert (await confirm(handle, code)).phase == Phase.CONFIRMED
    assert (await status(handle)).wrong_codes == 4
    await platform_deletes(env, handle, platform)
    assert (await handle.result()).state == ServiceState.DELETED


async def test_five_wrong_codes_lock_the_request_and_nothing_is_deleted(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    code = platform.code_for()
    for _ in range(4):
        with pytest.raises(WorkflowUpdateFailedError):
            await confirm(handle, wrong(code))

    with pytest.raises(WorkflowUpdateFailedError) as locked:
        await confirm(handle, wrong(code))

    assert "locked after 5 wrong codes — start the deletion again" in locked.value.cause.message
    result = await handle.result()
    assert result.phase == Phase.LOCKED and result.state is None
    assert platform.purged == [] and platform.state == ServiceState.ACTIVE


async def test_code_used_after_one_hour_is_expired(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    code = platform.code_for()

    await env.sleep(timedelta(minutes=61))

    result = await handle.result()
    assert result.phase == Phase.EXPIRED
    assert platform.purged == [] and platform.state == ServiceState.ACTIVE
    with pytest.raises(Exception, match=r"completed|closed|not found"):
        await confirm(handle, code)  # the server refuses: the request is over


async def test_code_is_still_valid_at_59_minutes(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    await env.sleep(timedelta(minutes=59))

    assert (await confirm(handle, platform.code_for())).phase == Phase.CONFIRMED
    await platform_deletes(env, handle, platform)
    await handle.result()


async def test_a_plain_code_is_rejected_before_history(env, platform):
    """The CLI seals the code (and refuses a malformed one itself, tests/e2e); a plain code, right,
    wrong or malformed, is refused by the validator, so it never reaches history."""
    handle = await start(env, platform)
    await code_emailed(env, handle)

    for bad in ("1234", "abcdefgh", "123456789", " 1234567", platform.code_for()):
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(ServiceDeletion.confirm, ConfirmCode(code=bad))
        assert "takes the code only sealed" in failure.value.cause.message
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(ServiceDeletion.confirm, ConfirmCode(sealed="x" * 500))
    assert failure.value.cause.message.startswith("malformed confirmation")

    history = json.loads((await handle.fetch_history()).to_json())
    assert not [e for e in history["events"] if "Update" in e["eventType"]]
    assert (await status(handle)).wrong_codes == 0
    await handle.execute_update(
        ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
    )


async def test_a_withdrawal_without_an_identity_is_refused_before_history(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ServiceDeletion.withdraw, WithdrawRequest(by="  "))

    assert refused.value.cause.message == (
        "a withdrawal needs the identity of who withdraws (--by or PBXOPS_OPERATOR)"
    )
    history = json.loads((await handle.fetch_history()).to_json())
    assert not [e for e in history["events"] if "Update" in e["eventType"]]
    assert (await status(handle)).phase == Phase.AWAITING_CODE
    answer = await handle.execute_update(
        ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
    )
    assert answer.phase == Phase.WITHDRAWN
    assert (await handle.result()).withdrawn_by == "ops@provider.example"


async def test_withdraw_before_confirmation_and_refused_after(env, platform):
    first = await start(env, platform)
    await code_emailed(env, first)
    answer = await first.execute_update(
        ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
    )
    assert answer.phase == Phase.WITHDRAWN
    assert (await first.result()).phase == Phase.WITHDRAWN
    assert platform.purged == []

    second = await start(env, platform)
    await code_emailed(env, second)
    await confirm(second, platform.code_for())
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await second.execute_update(
            ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
        )
    assert refused.value.cause.message == (
        "the deletion was confirmed and cannot be undone (irreversible)"
    )
    await platform_deletes(env, second, platform)
    await second.result()


async def test_no_admin_fails_with_a_clear_reason(env, platform):
    platform.admins = []
    handle = await start(env, platform)

    with pytest.raises(Exception) as failure:
        await handle.result()

    assert failure.value.cause.message == (
        "tenant 'acme' has no user with the Admin role, so nobody can receive the "
        "confirmation code; give a user the Admin role and start again"
    )
    assert platform.codes_sent == {}


async def test_a_service_still_provisioning_cannot_be_deleted_and_no_code_goes_out(env, platform):
    platform.state = ServiceState.PROVISIONING  # the lifecycle table allows no deletion yet

    handle = await start(env, platform)
    with pytest.raises(Exception) as failure:
        await handle.result()

    assert failure.value.cause.message == (
        "the service of tenant 'acme' is provisioning; a deletion needs it active or deactivated"
    )
    assert platform.codes_sent == {}


async def test_the_eSIM_lines_end_before_the_purge_and_everything_is_checked(env, platform):
    platform.mobile_lines = ["md-1"]  # a line whose workflow is gone: the signal fails
    handle = await start(env, platform)
    await code_emailed(env, handle)
    await confirm(handle, platform.code_for())
    await reach(env, handle, "purging")
    assert platform.purged == []  # waiting for the line to end first
    platform.mobile_lines.clear()
    await platform_deletes(env, handle, platform)
    await handle.result()

    assert platform.purged[-3:] == ["mobile-lines", "contacts", "problem-reports"]


async def test_a_support_contact_left_after_the_deletion_fails_the_verification(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    await confirm(handle, platform.code_for())
    platform.support_contacts = 1  # the platform reports done but kept a contact
    await platform_deletes(env, handle, platform)

    with pytest.raises(Exception) as failure:
        await handle.result()
    assert "these remain: support contacts" in failure.value.cause.message


async def test_stuck_purge_opens_one_ticket_at_the_deadline_then_resolves_it(env, platform):
    handle = await start(env, platform)
    await code_emailed(env, handle)
    await confirm(handle, platform.code_for())
    deadline = (await status(handle)).sla_deadline
    assert deadline is not None

    await env.sleep(deadline - await env.get_current_time() - timedelta(minutes=5))
    assert platform.tickets == []
    await env.sleep(timedelta(minutes=10))
    assert len(platform.tickets) == 1
    assert "not finished after 2 business days" in platform.tickets[0].subject
    await env.sleep(timedelta(days=2))
    assert len(platform.tickets) == 1

    await platform_deletes(env, handle, platform)
    result = await handle.result()
    assert result.escalated and platform.tickets[0].status == "resolved"


async def confirmed_at_local(when: datetime) -> DeletionStatus:
    """Run a deletion confirmed at ``when`` (local time) on a fresh clock; return its status."""
    async with time_skipping_server() as env, serving(env, FakePlatform()) as fake:
        # Request 30 minutes before, so the code is still valid at the confirmation.
        await env.sleep(when - timedelta(minutes=30) - await env.get_current_time())
        handle = await start(env, fake)
        await code_emailed(env, handle)
        await env.sleep(when - await env.get_current_time())
        await confirm(handle, fake.code_for())
        current = await status(handle)
        await platform_deletes(env, handle, fake)
        await handle.result()
        return current


def _minute(value: datetime) -> datetime:
    return value.astimezone(ROME).replace(second=0, microsecond=0)


async def test_deadline_skips_christmas_and_a_sunday():
    current = await confirmed_at_local(datetime(2026, 12, 24, 10, 0, tzinfo=ROME))

    assert _minute(current.confirmed_at) == datetime(2026, 12, 24, 10, 0, tzinfo=ROME)
    assert _minute(current.sla_deadline) == datetime(2026, 12, 29, 10, 0, tzinfo=ROME)
    assert current.sla_deadline - current.confirmed_at == timedelta(days=5)


async def test_deadline_skips_easter_monday():
    # 2026's Easter (Fri 3 Apr → Wed 8 Apr) is in this machine's past, so the workflow-level
    # check uses 2027's (Easter Monday 29 Mar); tests/workflows/test_business_days.py checks
    # the 2026 dates on the same function.
    current = await confirmed_at_local(datetime(2027, 3, 26, 15, 0, tzinfo=ROME))

    assert _minute(current.sla_deadline) == datetime(2027, 3, 31, 15, 0, tzinfo=ROME)
