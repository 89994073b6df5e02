"""MobileLine on the time-skipping test server: 90 days and a 2-year life pass in moments.

The platform is an in-memory fake that keeps the real rules (one live code, used once, ...);
phone events are sent as the Signal the worker's callback receiver sends.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.mobile import (
    DEVICE_EVENT_SIGNAL,
    CodeOutcome,
    CodeRequest,
    CodeState,
    DeleteRequest,
    Delivery,
    DeviceEvent,
    DeviceStatus,
    MobileLineInput,
    MobileLineResult,
    MobileLineStatus,
)
from pbxops.workflows.mobile_line import MobileLine
from tests.workflows.fake_mobile import FakeMobilePlatform, Refused, days
from tests.workflows.harness import serving

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def platform(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakeMobilePlatform]:
    fake = FakeMobilePlatform()
    fake.started = []  # type: ignore[attr-defined]
    async with serving(time_skipping_env, fake):
        yield fake
        # Lines live forever; leave no timer behind for the shared server to wait on.
        for handle in fake.started:  # type: ignore[attr-defined]
            with contextlib.suppress(RPCError):
                await handle.terminate("test over")


async def start(
    env: WorkflowEnvironment, platform: FakeMobilePlatform, **overrides
) -> WorkflowHandle:
    device_id = f"md-{uuid.uuid4().hex[:10]}"
    handle = await env.client.start_workflow(
        MobileLine.run,
        MobileLineInput(device_id=device_id, tenant_id="acme", user_id="u1", **overrides),
        id=f"mobile-line/{device_id}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )
    handle.device_id = device_id  # type: ignore[attr-defined]
    platform.started.append(handle)  # type: ignore[attr-defined]
    return handle


async def status(handle: WorkflowHandle) -> MobileLineStatus:
    return await handle.query(
        "status", result_type=MobileLineStatus, rpc_timeout=timedelta(seconds=5)
    )


async def until(
    handle: WorkflowHandle, check: Callable[[MobileLineStatus], bool], what: str
) -> MobileLineStatus:
    """Wait (real time, no skipping) for the workflow to reach a state."""
    current = None
    for _ in range(300):
        try:
            current = await status(handle)
        except RPCError:
            # The test server can lose a query sent just as the run continues as new.
            await asyncio.sleep(0.05)
            continue
        if check(current):
            return current
        await asyncio.sleep(0.02)
    last = f"{current.step}, {current.device_status}" if current else "no answer"
    raise AssertionError(f"never reached: {what} (last: {last})")


async def provisioned(handle: WorkflowHandle) -> MobileLineStatus:
    return await until(handle, lambda s: s.code is not None, "the first code")


async def phone(handle: WorkflowHandle, event: DeviceEvent) -> None:
    await handle.signal(DEVICE_EVENT_SIGNAL, event)


def code_of(platform: FakeMobilePlatform, handle: WorkflowHandle):
    code = platform.current_code(handle.device_id)  # type: ignore[attr-defined]
    assert code is not None
    return code


async def new_code(handle: WorkflowHandle) -> CodeOutcome:
    return await handle.execute_update(
        "new_code", CodeRequest(requested_by="ops"), result_type=CodeOutcome
    )


async def history_json(handle: WorkflowHandle, run_id: str | None = None) -> str:
    history = await handle._client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
    return json.dumps(history.to_json_dict())


async def test_activated_within_90_days_goes_online_and_the_code_is_used_up(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform)
    first = await provisioned(handle)
    assert first.device_status == DeviceStatus.PENDING_ACTIVATION and first.colour == "grey"
    assert first.step == "pending-activation" and first.code.delivery == Delivery.EMAIL
    [mail] = platform.mails
    assert mail.to == "anna@acme.example"
    code = code_of(platform, handle)
    assert platform.lpa(code) in mail.text

    await time_skipping_env.sleep(days(30))
    await phone(handle, platform.activate(platform.lpa(code)))

    online = await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "online")
    assert online.colour == "green" and online.step == "online"
    assert online.code.state == CodeState.USED
    assert online.last_event.kind == "activated"
    with pytest.raises(Refused, match="used"):
        platform.activate(platform.lpa(code))
    # Used codes do not expire: the timer was cancelled, the platform is never asked.
    await time_skipping_env.sleep(days(100))
    assert platform.expire_calls == 0
    assert (await status(handle)).device_status == DeviceStatus.ONLINE
    # The code itself never reached history (only its id and HMAC did).
    assert code.matching_id not in await history_json(handle)


async def test_unused_code_expires_at_exactly_90_days(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    first = await provisioned(handle)
    assert first.code.expires_at - first.code.issued_at == timedelta(days=90)

    await time_skipping_env.sleep(days(90) - timedelta(seconds=30))
    before = await status(handle)
    assert before.code.state == CodeState.CURRENT and platform.expire_calls == 0

    await time_skipping_env.sleep(timedelta(seconds=60))
    expired = await until(handle, lambda s: s.step == "code-expired", "code expired")
    assert expired.code.state == CodeState.EXPIRED
    assert expired.device_status == DeviceStatus.PENDING_ACTIVATION
    assert "Code expired" in expired.step_detail
    assert platform.codes[0].state == CodeState.EXPIRED and platform.expire_calls == 1
    with pytest.raises(Refused, match="expired"):
        platform.activate(platform.lpa(platform.codes[0]))

    # The operator issues a new one, which works.
    outcome = await new_code(handle)
    assert outcome.delivery == Delivery.EMAIL and len(platform.mails) == 2
    await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
    await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "online")


async def test_a_configured_validity_is_honoured(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform, code_validity=timedelta(days=7))
    await provisioned(handle)
    await time_skipping_env.sleep(days(7) + timedelta(minutes=1))
    await until(handle, lambda s: s.step == "code-expired", "code expired after 7 days")


async def test_new_code_while_pending_invalidates_the_old_one(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    old = code_of(platform, handle)

    outcome = await new_code(handle)

    new = code_of(platform, handle)
    assert outcome.code_id == new.code_id != old.code_id
    with pytest.raises(Refused, match="superseded"):
        platform.activate(platform.lpa(old))
    current = await status(handle)
    assert current.code.code_id == new.code_id and current.codes_issued == 2
    # Exactly one timer per live code: the old one was cancelled, only the new one fires.
    await time_skipping_env.sleep(days(91))
    await until(handle, lambda s: s.step == "code-expired", "the new code expired")
    assert platform.expire_calls == 1


async def test_new_code_while_online_is_refused_naming_the_status(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
    await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "online")

    with pytest.raises(WorkflowUpdateFailedError) as err:
        await new_code(handle)

    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == (
        f"mobile device '{handle.device_id}' is online; a new activation code can be "  # type: ignore[attr-defined]
        "generated only while it is pending activation"
    )
    assert len(platform.codes) == 1
    # Rejected by the validator: the refused request left no trace in history.
    assert "new_code" not in await history_json(handle)


@pytest.mark.parametrize("update", ["new_code", "lost_stolen", "delete"])
async def test_control_characters_in_an_update_are_refused_before_history(
    time_skipping_env, platform, update
):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)

    with pytest.raises(WorkflowUpdateFailedError) as err:
        # A raw argument, as any client could send it (this one's models refuse it first).
        await handle.execute_update(update, {"requested_by": "ops\x1b[2J"})

    # The SDK refuses an argument its type does not accept, with pydantic's reason as the cause.
    decoding = err.value.cause
    assert isinstance(decoding, ApplicationError) and isinstance(decoding.cause, ApplicationError)
    assert "requested by must not contain control characters (U+001B at character 4)" in (
        decoding.cause.message
    )
    assert "UPDATE_ACCEPTED" not in await history_json(handle)
    current = await status(handle)
    assert current.device_status == DeviceStatus.PENDING_ACTIVATION and current.codes_issued == 1
    assert len(platform.codes) == 1


async def test_lost_stolen_from_online_deactivates_the_old_phone_and_issues_a_new_code(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
    await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "online")

    outcome = await handle.execute_update(
        "lost_stolen", CodeRequest(requested_by="ops"), result_type=CodeOutcome
    )

    assert outcome.status == DeviceStatus.PENDING_ACTIVATION
    with pytest.raises(Refused, match="no phone holds the line"):
        platform.deactivate(handle.device_id)  # type: ignore[attr-defined]
    assert len(platform.mails) == 2
    current = await status(handle)
    assert current.step == "pending-activation" and current.code.reason == "lost-stolen"
    await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
    await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "the new phone online")


async def test_delete_returns_the_licence_and_ends_the_workflow(time_skipping_env, platform):
    platform.licences_total = 1
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    assert platform.available() == 0

    result = await handle.execute_update(
        "delete", DeleteRequest(requested_by="ops"), result_type=MobileLineResult
    )

    assert result.status == DeviceStatus.DELETED and result.licences_available == 1
    assert result.user_notified
    assert "remove the deactivated line" in platform.mails[-1].text
    assert await handle.result() == result
    final = await status(handle)
    assert final.step == "deleted" and final.outcome == "completed"
    assert final.code.state == CodeState.REVOKED


@pytest.mark.parametrize("update", ["new_code", "lost_stolen", "delete"])
@pytest.mark.parametrize("by", [None, "  "])
async def test_a_change_without_an_identity_is_refused_before_history(
    time_skipping_env, platform, update, by
):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)

    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(update, {"requested_by": by})

    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == (
        "a change to a mobile line needs the identity of who makes it (--by or PBXOPS_OPERATOR)"
    )
    assert "UPDATE_ACCEPTED" not in await history_json(handle)
    current = await status(handle)
    assert current.device_status == DeviceStatus.PENDING_ACTIVATION and current.codes_issued == 1


async def test_who_provisioned_and_changed_the_line_is_in_its_status_ui_and_result(
    time_skipping_env, platform
):
    device_id = f"md-{uuid.uuid4().hex[:10]}"
    handle = await time_skipping_env.client.start_workflow(
        MobileLine.run,
        MobileLineInput(device_id=device_id, tenant_id="acme", user_id="u1"),
        id=f"mobile-line/{device_id}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
        memo={"started_by": "starter@provider.example"},  # as every pbxops start sets it
    )
    handle.device_id = device_id  # type: ignore[attr-defined]
    platform.started.append(handle)  # type: ignore[attr-defined]
    await provisioned(handle)

    reissued = await handle.execute_update(
        "lost_stolen", CodeRequest(requested_by="lost@provider.example"), result_type=CodeOutcome
    )
    assert reissued.issued_by == "lost@provider.example"
    current = await status(handle)
    assert current.started_by == "starter@provider.example"
    assert [(e.by, e.action) for e in current.audit] == [
        ("lost@provider.example", "reported the phone lost or stolen")
    ]
    # The UI's current details, as the Temporal UI reads them.
    metadata = await handle.query("__temporal_workflow_metadata")
    assert "Provisioned by **starter@provider.example**" in metadata.current_details
    assert "**lost@provider.example** reported the phone lost or stolen" in (
        metadata.current_details
    )

    result = await handle.execute_update(
        "delete", DeleteRequest(requested_by="gone@provider.example"), result_type=MobileLineResult
    )

    assert (result.provisioned_by, result.deleted_by) == (
        "starter@provider.example",
        "gone@provider.example",
    )
    assert [(e.by, e.action) for e in result.audit] == [
        ("lost@provider.example", "reported the phone lost or stolen"),
        ("gone@provider.example", "deleted the line"),
    ]
    assert await handle.result() == result


async def test_suppressed_emails_send_nothing_and_leave_the_code_to_the_operator(
    time_skipping_env, platform
):
    platform.suppress_emails = True
    handle = await start(time_skipping_env, platform)
    first = await provisioned(handle)

    assert platform.mails == []
    assert first.code.delivery == Delivery.OPERATOR
    assert "suppresses emails" in first.code.delivery_note
    # The code is at the platform, for the operator's CLI to read with the operator's credentials.
    assert platform.current_code(handle.device_id).code_id == first.code.code_id  # type: ignore[attr-defined]
    outcome = await new_code(handle)
    assert outcome.delivery == Delivery.OPERATOR and platform.mails == []


async def test_exhausted_pool_is_a_clear_failure(time_skipping_env, platform):
    platform.licences_total = 0
    handle = await start(time_skipping_env, platform)

    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()

    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == (
        "no mobile-line licence left in the pool of tenant 'acme' (0 of 0 in use)"
    )
    assert platform.devices == {}


async def test_a_lost_activation_callback_is_caught_when_the_timer_fires(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    platform.activate(platform.lpa(code_of(platform, handle)))  # its callback never arrives

    await time_skipping_env.sleep(days(91))

    current = await until(handle, lambda s: s.device_status == DeviceStatus.ONLINE, "online")
    assert current.code.state == CodeState.USED


async def test_duplicate_and_late_events_are_ignored(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    await provisioned(handle)
    activated = platform.activate(platform.lpa(code_of(platform, handle)))
    deactivated = platform.deactivate(handle.device_id)  # type: ignore[attr-defined]

    await phone(handle, deactivated)
    await phone(handle, activated)  # late
    await phone(handle, deactivated)  # again

    current = await until(handle, lambda s: s.device_status == DeviceStatus.OFFLINE, "offline")
    assert current.colour == "red" and len(current.recent_events) == 1


async def test_two_years_of_events_keep_each_run_small(time_skipping_env, platform):
    """Weekly phone events and a code cycle every few months, for 2 years (104 weeks)."""
    limit = 150
    handle = await start(time_skipping_env, platform, max_history_events=limit)
    first_run = (await handle.describe()).run_id
    await provisioned(handle)
    device_id = handle.device_id  # type: ignore[attr-defined]
    await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
    events = 1
    for week in range(1, 105):
        await time_skipping_env.sleep(days(7))
        device = platform.devices[device_id]
        if week % 26 == 0:
            # The user changes phone: removes the line, gets a new code, lets it expire once,
            # then activates the next one.
            if device.status == DeviceStatus.OFFLINE:
                await phone(handle, platform.reactivate(device_id))
                events += 1
            await phone(handle, platform.remove(device_id))
            await until(handle, lambda s: s.step == "needs-new-code", "needs a new code")
            await new_code(handle)
            await time_skipping_env.sleep(days(90) + timedelta(hours=1))
            await until(handle, lambda s: s.step == "code-expired", "code expired")
            await new_code(handle)
            await phone(handle, platform.activate(platform.lpa(code_of(platform, handle))))
            events += 2
        elif device.status == DeviceStatus.ONLINE:
            await phone(handle, platform.deactivate(device_id))
            events += 1
        else:
            await phone(handle, platform.reactivate(device_id))
            events += 1

    final = await until(
        handle,
        lambda s: s.recent_events and s.device_status == platform.devices[device_id].status,
        "the last event",
    )
    assert final.runs > 3
    assert final.codes_issued == 1 + 2 * 4
    # Walk the chain of runs: each stayed near the limit (the hand-over waits for its timer,
    # which here fires with the next simulated week).
    run_id: str | None = first_run
    runs = 0
    secrets = platform.secrets_issued()
    while run_id:
        history = await time_skipping_env.client.get_workflow_handle(
            handle.id, run_id=run_id
        ).fetch_history()
        runs += 1
        assert len(history.events) <= limit + 50, (runs, len(history.events))
        text = json.dumps(history.to_json_dict())
        assert not any(secret in text for secret in secrets)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    assert runs == final.runs
    # Still alive and correct after all that: delete it.
    result = await handle.execute_update(
        "delete", DeleteRequest(requested_by="ops"), result_type=MobileLineResult
    )
    assert result.licences_available == platform.licences_total
