"""Histories of ServiceDeactivation and ServiceReactivation worth guarding."""

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.workflows.service_transition import ServiceDeactivation, ServiceReactivation
from tests.histories.record import Scenario
from tests.workflows.fake_platform import FakePlatform


def _scenario(name, workflow, initial, finish_after, target, **overrides) -> Scenario:
    platform = FakePlatform(state=initial)

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = ServiceTransitionInput(**{"tenant_id": "acme", **overrides})
        return await client.start_workflow(workflow.run, inp, id=workflow_id, task_queue=task_queue)

    async def drive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        if finish_after is None:
            return
        await env.sleep(finish_after)
        platform.finish(target)
        event = PlatformEvent(job_id="job-1", kind="x", tenant_id="acme", state=target)
        await handle.signal(PLATFORM_EVENT_SIGNAL, event)

    return Scenario(name, platform.activities, start, drive)


def _callback_refuted() -> Scenario:
    """A callback says `deactivated` while the platform still shows `deactivating` (issue 16):
    ignored after the platform's read; the SLA ticket opens; the real end completes it."""
    platform = FakePlatform(state=ServiceState.ACTIVE)

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = ServiceTransitionInput(tenant_id="acme")
        return await client.start_workflow(
            ServiceDeactivation.run, inp, id=workflow_id, task_queue=task_queue
        )

    async def drive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        event = PlatformEvent(job_id="job-1", kind="x", tenant_id="acme", state=DEACTIVATED)
        await env.sleep(timedelta(minutes=1))
        await handle.signal(PLATFORM_EVENT_SIGNAL, event)  # forged: the job is still running
        await env.sleep(timedelta(minutes=30))
        platform.finish(DEACTIVATED)
        await handle.signal(PLATFORM_EVENT_SIGNAL, event)

    return Scenario("deactivation_callback_refuted", platform.activities, start, drive)


def _unsafe_tenant_name() -> Scenario:
    """The platform's tenant name would inject a header: refused before any job, one ticket."""
    platform = FakePlatform(state=ServiceState.ACTIVE, tenant_name="Acme\r\nBcc: x@evil.example")

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        inp = ServiceTransitionInput(tenant_id="acme", requested_by="ops@provider.example")
        return await client.start_workflow(
            ServiceDeactivation.run, inp, id=workflow_id, task_queue=task_queue
        )

    async def drive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        return None

    return Scenario("deactivation_unsafe_tenant_name_ticket", platform.activities, start, drive)


DEACTIVATED, ACTIVE = ServiceState.DEACTIVATED, ServiceState.ACTIVE
SCENARIOS = [
    _scenario(
        "deactivation_in_time",
        ServiceDeactivation,
        ACTIVE,
        timedelta(minutes=5),
        DEACTIVATED,
        requested_by="ops@provider.example",
    ),
    # The same, started after the emails came from templates (mail.send_template).
    _scenario(
        "deactivation_in_time_email_templates",
        ServiceDeactivation,
        ACTIVE,
        timedelta(minutes=5),
        DEACTIVATED,
        requested_by="ops@provider.example",
    ),
    _scenario(
        "deactivation_escalated", ServiceDeactivation, ACTIVE, timedelta(hours=3), DEACTIVATED
    ),
    _scenario("deactivation_hard_cap", ServiceDeactivation, ACTIVE, None, DEACTIVATED),
    _scenario(
        "deactivation_unknown_tenant",
        ServiceDeactivation,
        ACTIVE,
        None,
        DEACTIVATED,
        tenant_id="nobody",
    ),
    _scenario("reactivation", ServiceReactivation, DEACTIVATED, timedelta(minutes=1), ACTIVE),
    _callback_refuted(),
    _unsafe_tenant_name(),
]
