"""Histories of ServiceLifecycle (the per-tenant service workflow) worth guarding."""

import contextlib
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.lifecycle import BEGIN_UPDATE, BeginProcedure, ServiceInput
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.workflows.service_lifecycle import ServiceLifecycle
from tests.histories.record import Scenario
from tests.workflows.fake_platform import FakePlatform


def _deactivation_then_refused_deletion() -> Scenario:
    platform = FakePlatform(state=ServiceState.ACTIVE)

    async def start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
        handle = await client.start_workflow(
            ServiceLifecycle.run,
            ServiceInput(tenant_id="acme"),
            id=workflow_id,
            task_queue=task_queue,
        )
        payload = ServiceTransitionInput(tenant_id="acme", started_by="ops@provider.example")
        await handle.execute_update(
            BEGIN_UPDATE,
            BeginProcedure(
                procedure=Procedure.DEACTIVATION,
                tenant_id="acme",
                payload=payload.model_dump(mode="json"),
                summary="Service deactivation of acme",
                details="recorded",
                started_by="ops@provider.example",
            ),
        )
        return handle

    async def drive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        # A second lifecycle procedure while the first runs: refused in the handler, in history.
        refused = BeginProcedure(
            procedure=Procedure.DELETION,
            tenant_id="acme",
            payload={"tenant_id": "acme", "requested_by": "ops@provider.example"},
            summary="Service deletion of acme",
            details="recorded",
            started_by="eve@provider.example",
        )
        with contextlib.suppress(WorkflowUpdateFailedError):  # the refusal is the point
            await handle.execute_update(BEGIN_UPDATE, refused)
        await env.sleep(timedelta(minutes=5))
        platform.finish(ServiceState.DEACTIVATED)
        child = env.client.get_workflow_handle(Procedure.DEACTIVATION.workflow_id("acme"))
        event = PlatformEvent(job_id="job-1", kind="x", tenant_id="acme", state="deactivated")
        await child.signal(PLATFORM_EVENT_SIGNAL, event)

    return Scenario("lifecycle_deactivation", platform.activities, start, drive)


SCENARIOS = [_deactivation_then_refused_deletion()]
