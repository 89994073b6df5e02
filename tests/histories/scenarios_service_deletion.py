"""Histories of ServiceDeletion worth guarding: each way a request can end."""

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from pbxops.cli.deletion import confirmation
from pbxops.contracts.deletion import DeletionInput, WithdrawRequest
from pbxops.workflows.service_deletion import ServiceDeletion
from tests.histories.record import Scenario
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.test_service_deletion import code_emailed, platform_deletes, wrong

Drive = Callable[[WorkflowEnvironment, WorkflowHandle, FakePlatform], Awaitable[None]]


def _scenario(name: str, drive: Drive, **platform_facts) -> Scenario:
    platform = FakePlatform(**platform_facts)

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = DeletionInput(tenant_id="acme", requested_by="ops@provider.example")
        return await client.start_workflow(
            ServiceDeletion.run, inp, id=workflow_id, task_queue=task_queue
        )

    async def run(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        await code_emailed(env, handle)
        await drive(env, handle, platform)

    return Scenario(name, platform.activities, start, run)


async def _confirm(handle: WorkflowHandle, code: str) -> None:
    await handle.execute_update(
        ServiceDeletion.confirm, await confirmation(handle, code, by="ops@provider.example")
    )


async def deleted_after_two_wrong_codes(env, handle, platform) -> None:
    for _ in range(2):
        with contextlib.suppress(WorkflowUpdateFailedError):
            await _confirm(handle, wrong(platform.code_for()))
    await _confirm(handle, platform.code_for())
    await platform_deletes(env, handle, platform)


async def deleted_late_with_ticket(env, handle, platform) -> None:
    await _confirm(handle, platform.code_for())
    await env.sleep(timedelta(days=6))
    await platform_deletes(env, handle, platform)


async def deleted_with_its_esim_lines(env, handle, platform) -> None:
    """Issue 15: the line's workflow is told (here it is gone: the signal fails), the deletion
    waits for the line to end, then purges everything and checks it all."""
    await _confirm(handle, platform.code_for())
    await env.sleep(timedelta(seconds=5))
    platform.mobile_lines.clear()  # the line ended
    await platform_deletes(env, handle, platform)


async def expired(env, handle, platform) -> None:
    await env.sleep(timedelta(hours=2))


async def locked(env, handle, platform) -> None:
    for _ in range(5):
        with contextlib.suppress(WorkflowUpdateFailedError):
            await _confirm(handle, wrong(platform.code_for()))


async def withdrawn(env, handle, platform) -> None:
    await handle.execute_update(
        ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
    )


def _withdrawn_while_emailing() -> Scenario:
    """The code email fails on every attempt; the withdrawal cancels it (withdraw-cancels-steps)."""
    from tests.security.test_withdraw import BrokenMail

    broken = BrokenMail()

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = DeletionInput(tenant_id="acme", requested_by="ops@provider.example")
        return await client.start_workflow(
            ServiceDeletion.run, inp, id=workflow_id, task_queue=task_queue
        )

    async def run(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        while broken.email_attempts < 3:
            await env.sleep(timedelta(seconds=5))
        await handle.execute_update(
            ServiceDeletion.withdraw, WithdrawRequest(by="ops@provider.example")
        )

    return Scenario("deletion_withdrawn_while_emailing", broken.activities, start, run)


def _unsafe_tenant_name() -> Scenario:
    """The tenant's name carries a header injection: the Admins' lookup refuses it
    (UnsafePlatformData); the deletion opens one ticket and ends
    (ticket-on-unsafe-platform-data)."""
    platform = FakePlatform(tenant_name="ACME\r\nBcc: evil@attacker.example")

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = DeletionInput(tenant_id="acme", requested_by="ops@provider.example")
        return await client.start_workflow(
            ServiceDeletion.run, inp, id=workflow_id, task_queue=task_queue
        )

    async def run(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        pass  # it ends by itself

    return Scenario("deletion_unsafe_platform_data_ticket", platform.activities, start, run)


SCENARIOS = [
    # The codes are sealed to the worker's key, as the CLI sends them (issue 19.3).
    _scenario("deletion_confirmed_sealed", deleted_after_two_wrong_codes),
    _withdrawn_while_emailing(),
    _scenario("deletion_confirmed", deleted_after_two_wrong_codes),
    # The Admins' email in Italian, the operator's in English (mail.send_template).
    _scenario("deletion_confirmed_email_templates", deleted_after_two_wrong_codes),
    _scenario("deletion_escalated", deleted_late_with_ticket),
    _scenario("deletion_expired", expired),
    _scenario("deletion_locked", locked),
    _scenario("deletion_withdrawn", withdrawn),
    _scenario("deletion_erases_esim_lines", deleted_with_its_esim_lines, mobile_lines=["md-gone"]),
    _unsafe_tenant_name(),
]
