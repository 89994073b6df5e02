"""ServiceDeactivation / ServiceReactivation on the time-skipping test server.

15 minutes, hours and the 24-hour cap pass in milliseconds; the assertions are about what the
procedure did (tickets, polls, states), never about wall-clock time.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.contracts.procedures import Outcome, ProcedureStatus
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.workflows.service_transition import ServiceDeactivation, ServiceReactivation
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving


@pytest_asyncio.fixture
async def platform(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakePlatform]:
    async with serving(time_skipping_env, FakePlatform()) as fake:
        yield fake


async def start(
    env: WorkflowEnvironment, platform: FakePlatform, workflow=ServiceDeactivation, **overrides
) -> WorkflowHandle:
    return await env.client.start_workflow(
        workflow.run,
        ServiceTransitionInput(tenant_id=overrides.pop("tenant_id", "acme"), **overrides),
        id=f"pbx-test/{uuid.uuid4()}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )


async def platform_finishes(handle: WorkflowHandle, platform: FakePlatform, state: ServiceState):
    platform.finish(state)
    await handle.signal(
        PLATFORM_EVENT_SIGNAL,
        PlatformEvent(job_id="job-1", kind="deactivation", tenant_id="acme", state=state),
    )


async def status(handle: WorkflowHandle) -> ProcedureStatus:
    return await handle.query("status", result_type=ProcedureStatus)


async def test_finishes_within_sla_opens_no_ticket(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform, requested_by="ops@provider.example")
    await time_skipping_env.sleep(timedelta(minutes=10))
    await platform_finishes(handle, platform, ServiceState.DEACTIVATED)

    result = await handle.result()

    assert result.state == ServiceState.DEACTIVATED
    assert not result.escalated and result.ticket_id is None
    assert platform.tickets == []
    # The callback made polling unnecessary: the only read is the final verification.
    assert platform.polls == 1
    assert platform.extensions == 4 and platform.registered == 0 and platform.billing_active
    assert [mail.to for mail in platform.mails] == [["ops@provider.example"]]
    # The operator is the provider's staff: English, whatever the tenant's language.
    assert "Billing continues" in platform.mails[0].text


async def test_stuck_platform_opens_exactly_one_ticket_then_resolves_it(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=14))
    assert platform.tickets == []

    await time_skipping_env.sleep(timedelta(minutes=2))
    assert len(platform.tickets) == 1
    ticket = platform.tickets[0]
    assert "not finished after 15 minutes" in ticket.subject
    current = await status(handle)
    assert current.escalated and current.ticket_id == ticket.id

    # Hours more of waiting: never a second ticket, and no polling either: the deadline's
    # confirming read was the one poll; the next safety poll is a day after the deadline.
    await time_skipping_env.sleep(timedelta(hours=6))
    assert len(platform.tickets) == 1
    assert platform.polls == 1

    await platform_finishes(handle, platform, ServiceState.DEACTIVATED)
    result = await handle.result()

    assert result.escalated and result.ticket_id == ticket.id
    assert ticket.status == "resolved"
    assert "completed after" in ticket.comments[-1]


async def test_lost_callback_is_caught_by_the_safety_poll_before_any_ticket(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=3))
    platform.finish(ServiceState.DEACTIVATED)  # the job ends but its callback never arrives

    result = await handle.result()

    assert result.state == ServiceState.DEACTIVATED
    assert platform.tickets == []


async def test_callback_lost_after_the_breach_is_caught_by_the_daily_safety_poll(
    time_skipping_env, platform
):
    handle = await start(time_skipping_env, platform, hard_cap=timedelta(days=3))
    await time_skipping_env.sleep(timedelta(minutes=16))
    assert len(platform.tickets) == 1 and platform.polls == 1
    platform.finish(ServiceState.DEACTIVATED)  # the job ends but its callback never arrives

    await time_skipping_env.sleep(timedelta(hours=23))
    assert (await status(handle)).outcome == Outcome.RUNNING  # the next poll is not due yet
    result = await handle.result()

    assert result.state == ServiceState.DEACTIVATED and result.ticket_id == "T-1"
    assert platform.tickets[0].status == "resolved"
    # The deadline's read, the poll a day after the deadline that found it done, the verification.
    assert platform.polls == 3
    # Workflow time, not wall time: the poll fires at 24 h 15 min; the time-skipping server may add
    # the few hundred milliseconds the activities took on a busy machine (abs, not relative).
    expected = timedelta(hours=24, minutes=15).total_seconds()
    assert result.took_seconds == pytest.approx(expected, abs=5)


async def test_hard_cap_fails_with_a_reason_and_leaves_the_ticket_open(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform, hard_cap=timedelta(hours=24))

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == (
        "the platform did not finish the service deactivation of tenant 'acme' within 24 hours"
    )
    assert len(platform.tickets) == 1
    assert platform.tickets[0].status == "open"
    assert "Needs a person" in platform.tickets[0].comments[-1]
    # Two reads in 24 hours: at the 15-minute deadline and at the hard cap (issue 8).
    assert platform.polls == 2
    final = await status(handle)
    assert final.outcome == Outcome.FAILED and final.error == cause.message


async def test_platform_5xx_bursts_are_retried_until_it_completes(time_skipping_env, platform):
    platform.fail_requests = 3
    handle = await start(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=1))
    await platform_finishes(handle, platform, ServiceState.DEACTIVATED)

    result = await handle.result()

    assert result.state == ServiceState.DEACTIVATED
    assert platform.request_attempts == 4


async def test_unknown_tenant_fails_fast_and_changes_nothing(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform, tenant_id="nobody")

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert failure.value.cause.message == "tenant 'nobody' not found"
    assert platform.request_attempts == 1  # non-retryable: no second attempt
    assert platform.state == ServiceState.ACTIVE
    assert platform.tickets == [] and platform.mails == []


@pytest.mark.parametrize("workflow", [ServiceDeactivation, ServiceReactivation])
async def test_a_tenant_name_unsafe_in_a_header_ends_it_before_any_change_with_one_ticket(
    time_skipping_env, platform, workflow
):
    platform.tenant_name = "Acme\r\nBcc: evil@attacker.example"
    if workflow is ServiceReactivation:
        platform.state = ServiceState.DEACTIVATED
    before = platform.state
    handle = await start(time_skipping_env, platform, workflow, requested_by="ops@provider.example")

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert platform.request_attempts == 1  # non-retryable: refused once, never retried
    assert platform.state == before  # no job was started
    [ticket] = platform.tickets  # exactly one, and it says what stopped and why
    assert "before any change" in ticket.body and "cannot be used in an email" in ticket.body
    for text in (ticket.subject, ticket.body):
        assert "\r" not in text and "\n" not in ticket.subject and "evil@" not in text
    assert f"(support ticket {ticket.id})" in failure.value.cause.message
    assert (await status(handle)).ticket_id == ticket.id
    assert platform.mails == []  # no email with the hostile name


async def test_wrong_state_fails_fast(time_skipping_env, platform):
    platform.state = ServiceState.DEACTIVATED
    handle = await start(time_skipping_env, platform)

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert "is deactivated" in failure.value.cause.message
    assert platform.state == ServiceState.DEACTIVATED and platform.tickets == []


async def test_a_deleted_extension_fails_verification(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=1))
    platform.extensions = 3  # a broken platform deleting an extension while deactivating
    await platform_finishes(handle, platform, ServiceState.DEACTIVATED)

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert "extensions went from 4 to 3 (no extension may be deleted)" in (
        failure.value.cause.message
    )


async def test_reactivation_brings_the_service_back(time_skipping_env, platform):
    platform.state = ServiceState.DEACTIVATED
    platform.registered = 0
    handle = await start(time_skipping_env, platform, workflow=ServiceReactivation)
    await time_skipping_env.sleep(timedelta(minutes=2))
    await platform_finishes(handle, platform, ServiceState.ACTIVE)

    result = await handle.result()

    assert result.state == ServiceState.ACTIVE
    assert platform.registered == platform.extensions
    assert platform.tickets == []


async def test_status_query_reports_the_waiting_step_and_deadline(time_skipping_env, platform):
    handle = await start(time_skipping_env, platform)
    await time_skipping_env.sleep(timedelta(minutes=1))

    current = await status(handle)

    assert current.step == "waiting-for-platform"
    assert current.sla_deadline == current.started_at + timedelta(minutes=15)
    assert current.outcome == Outcome.RUNNING and not current.escalated
    await platform_finishes(handle, platform, ServiceState.DEACTIVATED)
    await handle.result()
