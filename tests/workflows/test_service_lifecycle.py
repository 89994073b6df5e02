"""ServiceLifecycle: one lifecycle procedure per tenant's service, decided inside one workflow.

The Update handlers run in the workflow's single thread, so two requests that reach it together
(validated in the same workflow task) still start exactly one procedure. End to end, with
update-with-start on the real dev server: tests/e2e/test_lifecycle_exclusive.py.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from pbxops.contracts.deletion import DeletionInput
from pbxops.contracts.lifecycle import BEGIN_UPDATE, BUSY_ERROR, BeginProcedure, Begun, ServiceInput
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput
from pbxops.workflows.service_lifecycle import ServiceLifecycle
from tests.workflows.fake_platform import FakePlatform
from tests.workflows.harness import serving


@pytest_asyncio.fixture
async def platform(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakePlatform]:
    async with serving(time_skipping_env, FakePlatform(tenant_id=f"t-{uuid.uuid4().hex[:8]}")) as f:
        yield f


def _begin(platform: FakePlatform, procedure: Procedure, by: str) -> BeginProcedure:
    tenant = platform.tenant_id
    payload = (
        DeletionInput(tenant_id=tenant, requested_by="ops@provider.example")
        if procedure is Procedure.DELETION
        else ServiceTransitionInput(tenant_id=tenant, started_by=by)
    )
    return BeginProcedure(
        procedure=procedure,
        tenant_id=tenant,
        payload=payload.model_dump(mode="json"),
        summary="test",
        details="test",
        started_by=by,
    )


async def _service(env: WorkflowEnvironment, platform: FakePlatform) -> WorkflowHandle:
    return await env.client.start_workflow(
        ServiceLifecycle.run,
        ServiceInput(tenant_id=platform.tenant_id),
        id=f"pbx-service/{platform.tenant_id}",
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )


async def _try(
    handle: WorkflowHandle, request: BeginProcedure
) -> Begun | WorkflowUpdateFailedError:
    try:
        return await handle.execute_update(BEGIN_UPDATE, request, result_type=Begun)
    except WorkflowUpdateFailedError as err:
        return err


async def test_two_requests_at_once_start_one_and_the_other_names_it(time_skipping_env, platform):
    handle = await _service(time_skipping_env, platform)

    outcomes = await asyncio.gather(
        _try(handle, _begin(platform, Procedure.DEACTIVATION, "ann@provider.example")),
        _try(handle, _begin(platform, Procedure.DELETION, "bob@provider.example")),
    )

    [won] = [o for o in outcomes if isinstance(o, Begun)]
    [lost] = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
    assert lost.cause.type == BUSY_ERROR
    assert f"tenant '{platform.tenant_id}' already has a running Service" in lost.cause.message
    assert lost.cause.details == (won.workflow_id,)
    # The service workflow ends with its procedure; the next one starts a new run.
    if won.workflow_id.startswith("pbx-deactivation/"):
        platform.finish(ServiceState.DEACTIVATED)
        child = time_skipping_env.client.get_workflow_handle(won.workflow_id)
        await child.signal(
            PLATFORM_EVENT_SIGNAL,
            PlatformEvent(
                job_id="job-1", kind="x", tenant_id=platform.tenant_id, state="deactivated"
            ),
        )
        assert (await handle.result()) == won
    else:
        await time_skipping_env.client.get_workflow_handle(won.workflow_id).execute_update(
            "withdraw", {"by": "bob@provider.example"}
        )
        assert (await handle.result()) == won


async def test_a_procedure_started_before_the_service_workflow_still_blocks_its_id(
    time_skipping_env, platform
):
    # (Under another procedure's id, the CLI's visibility read refuses it: see Procedures.)
    direct = await time_skipping_env.client.start_workflow(
        Procedure.DEACTIVATION.value,
        ServiceTransitionInput(tenant_id=platform.tenant_id),
        id=Procedure.DEACTIVATION.workflow_id(platform.tenant_id),
        task_queue=platform.task_queue,  # type: ignore[attr-defined]
    )
    handle = await _service(time_skipping_env, platform)

    refused = await _try(handle, _begin(platform, Procedure.DEACTIVATION, "ann@provider.example"))

    assert isinstance(refused, WorkflowUpdateFailedError) and refused.cause.type == BUSY_ERROR
    assert refused.cause.details == (direct.id,)
    assert await handle.result() is None  # nothing started, the service workflow ends
    await direct.terminate()


@pytest.mark.parametrize("other", ["someone-else"])
async def test_a_request_for_another_tenant_is_refused(time_skipping_env, platform, other):
    handle = await _service(time_skipping_env, platform)
    request = _begin(platform, Procedure.DEACTIVATION, "ann@provider.example")
    refused = await _try(handle, request.model_copy(update={"tenant_id": other}))
    assert isinstance(refused, WorkflowUpdateFailedError) and refused.cause.type == "WrongTenant"
    await handle.terminate()
