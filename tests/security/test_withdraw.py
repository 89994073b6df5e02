"""Withdraw means stopped (issue 16.4): a withdrawn deletion request ends its workflow at once,
even while the code email is failing and being retried, and no code goes out afterwards; the CLI
says "withdrawn" only when the procedure has ended so.

Once, a tenant name with CR/LF from the platform made `mail.send_deletion_code` fail on every
attempt; `pbxops delete cancel` printed "withdrawn: nothing was deleted" while the workflow kept
running at finding-admins (blocking the tenant) and would still have sent the code had the email
ever gone out. Here the email fails the way any broken step does: on the time-skipping server a
fake email step that always raises; end to end, the simulator's SMTP server taken down.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.deletion import (
    CodeEmail,
    DeletionActivities,
    DeletionInput,
    Phase,
    WithdrawRequest,
)
from pbxops.contracts.mail import EmailSent
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect
from pbxops.workflows.service_deletion import ServiceDeletion
from tests.processes import wait_until
from tests.stack import Stack
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving


@dataclass
class BrokenMail(FakePlatform):
    """The platform of FakePlatform; the code email fails on every attempt, retryable."""

    email_attempts: int = 0

    def activities(self) -> list:
        def name(fn: object) -> str:
            return activity._Definition.must_from_callable(fn).name  # type: ignore[arg-type]

        kept = [fn for fn in super().activities() if name(fn) != DeletionActivities.SEND_CODE]

        @activity.defn(name=DeletionActivities.SEND_CODE)
        async def send_code(email: CodeEmail) -> EmailSent:
            self.email_attempts += 1
            raise ApplicationError("cannot build the message: header value has a line break")

        return [*kept, send_code]


@pytest_asyncio.fixture
async def broken(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[BrokenMail]:
    async with serving(time_skipping_env, BrokenMail()) as fake:
        yield fake


async def start(env: WorkflowEnvironment, fake: BrokenMail) -> WorkflowHandle:
    return await env.client.start_workflow(
        ServiceDeletion.run,
        DeletionInput(tenant_id="acme", requested_by="ops@provider.example"),
        id=f"pbx-deletion/{uuid.uuid4()}",
        task_queue=fake.task_queue,  # type: ignore[attr-defined]
    )


async def test_withdraw_ends_the_workflow_while_the_code_email_keeps_failing(
    time_skipping_env, broken
):
    env = time_skipping_env
    handle = await start(env, broken)
    while broken.email_attempts < 3:  # failing and retried
        await env.sleep(timedelta(seconds=5))

    answer = await handle.execute_update(
        ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
    )
    assert answer.phase == Phase.WITHDRAWN
    # Ends now, by itself: before, it went on retrying the email for ever.
    result = await asyncio.wait_for(handle.result(), 30)

    assert result.phase == Phase.WITHDRAWN and result.state is None
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert description.raw_description.pending_activities == []
    attempts = broken.email_attempts
    await env.sleep(timedelta(hours=2))  # no retry comes after the end
    assert broken.email_attempts == attempts
    assert broken.codes_sent == {} and broken.purged == []
    assert (await handle.query(ServiceDeletion.status)).step == "ended"


async def test_a_cancelled_request_ends_too_while_the_code_email_keeps_failing(
    time_skipping_env, broken
):
    """Cancelling the workflow (the UI's or `temporal workflow cancel`) stops it the same way."""
    env = time_skipping_env
    handle = await start(env, broken)
    while broken.email_attempts < 2:
        await env.sleep(timedelta(seconds=5))

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await asyncio.wait_for(handle.result(), 30)

    assert isinstance(ended.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    attempts = broken.email_attempts
    await env.sleep(timedelta(hours=2))
    assert broken.email_attempts == attempts and broken.codes_sent == {}


# --- end to end: the CLI says "withdrawn" only when it is true ------------------------------------


@pytest.mark.e2e
def test_delete_cancel_says_withdrawn_only_once_the_procedure_has_ended(stack: Stack):
    tenant = "sec-withdraw"
    stack.put_tenant(tenant)
    workflow_id = f"pbx-deletion/{tenant}"

    async def request() -> None:
        client = await connect(Settings(_env_file=None, temporal_address=stack.temporal_address))
        await client.start_workflow(
            ServiceDeletion.run,
            DeletionInput(tenant_id=tenant, requested_by="ops@provider.example"),
            id=workflow_id,
            task_queue=stack.task_queue,
        )

    async def status_of() -> tuple[WorkflowExecutionStatus | None, list]:
        client = await connect(Settings(_env_file=None, temporal_address=stack.temporal_address))
        described = await client.get_workflow_handle(workflow_id).describe()
        return described.status, list(described.raw_description.pending_activities)

    with stack.api() as api:
        api.post("/admin/smtp/stop").raise_for_status()
        try:
            asyncio.run(request())

            def email_failing() -> bool:
                _, pending = asyncio.run(status_of())
                return any(
                    p.activity_type.name == DeletionActivities.SEND_CODE and p.attempt >= 2
                    for p in pending
                )

            wait_until(email_failing, 60, "the code email to fail and be retried")
            withdrawn = stack.cli("delete", "cancel", "--tenant", tenant)
            status, pending = asyncio.run(status_of())
        finally:
            api.post("/admin/smtp/start").raise_for_status()

    assert withdrawn.code == 0, withdrawn.stderr
    assert withdrawn.stdout.startswith("withdrawn: nothing was deleted")
    # ... and it is true: the procedure has ended, nothing is left to retry the email.
    assert status == WorkflowExecutionStatus.COMPLETED
    assert pending == []
    # The mail server is back: no code goes out after the withdrawal.
    with stack.api() as mailbox:
        found = mailbox.get("/api/v1/search", params={"query": f"to:anna@{tenant}.example"})
    assert found.json()["messages"] == []
