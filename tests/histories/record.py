"""Record the histories the replay test checks today's workflow code against.

    .venv/bin/python -m tests.histories.record

Run it when a workflow gains a path worth guarding, and commit the JSON files. Never re-record to
make a failing replay pass: a failing replay means running workflows would break; put the change
behind ``workflow.patched()`` instead.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.pbx import PLATFORM_EVENT_SIGNAL, PlatformEvent, ServiceState
from contracts.service_transition import ServiceTransitionInput
from runtime.sandbox import workflow_runner
from runtime.search_attributes import add_all
from tests.conftest import installed_binary
from tests.workflows.fake_platform import FakePlatform
from workflows import ALL_WORKFLOWS
from workflows.service_transition import ServiceDeactivation, ServiceReactivation

HERE = Path(__file__).parent

Scenario = Callable[[WorkflowEnvironment, WorkflowHandle, FakePlatform], Awaitable[None]]


async def _finish(handle: WorkflowHandle, platform: FakePlatform, state: ServiceState) -> None:
    platform.finish(state)
    event = PlatformEvent(job_id="job-1", kind="x", tenant_id=platform.tenant_id, state=state)
    await handle.signal(PLATFORM_EVENT_SIGNAL, event)


async def deactivation_in_time(env, handle, platform) -> None:
    await env.sleep(timedelta(minutes=5))
    await _finish(handle, platform, ServiceState.DEACTIVATED)


async def deactivation_escalated(env, handle, platform) -> None:
    await env.sleep(timedelta(hours=3))
    await _finish(handle, platform, ServiceState.DEACTIVATED)


async def reactivation(env, handle, platform) -> None:
    await env.sleep(timedelta(minutes=1))
    await _finish(handle, platform, ServiceState.ACTIVE)


async def nothing(env, handle, platform) -> None:
    return None


SCENARIOS: list[tuple[str, type, dict, ServiceState, Scenario]] = [
    (
        "deactivation_in_time",
        ServiceDeactivation,
        {"requested_by": "ops@provider.example"},
        ServiceState.ACTIVE,
        deactivation_in_time,
    ),
    (
        "deactivation_escalated",
        ServiceDeactivation,
        {},
        ServiceState.ACTIVE,
        deactivation_escalated,
    ),
    ("deactivation_hard_cap", ServiceDeactivation, {}, ServiceState.ACTIVE, nothing),
    (
        "deactivation_unknown_tenant",
        ServiceDeactivation,
        {"tenant_id": "nobody"},
        ServiceState.ACTIVE,
        nothing,
    ),
    ("reactivation", ServiceReactivation, {}, ServiceState.DEACTIVATED, reactivation),
]


async def record() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    async with env:
        await add_all(env.client)
        for name, workflow, overrides, initial, scenario in SCENARIOS:
            platform = FakePlatform(state=initial)
            task_queue = f"record-{uuid.uuid4()}"
            async with Worker(
                env.client,
                task_queue=task_queue,
                workflows=ALL_WORKFLOWS,
                activities=platform.activities(),
                workflow_runner=workflow_runner(),
            ):
                inp = ServiceTransitionInput(**{"tenant_id": "acme", **overrides})
                handle = await env.client.start_workflow(
                    workflow.run, inp, id=f"history/{name}", task_queue=task_queue
                )
                await scenario(env, handle, platform)
                try:
                    await handle.result()
                except Exception as err:  # failure paths are histories worth replaying too
                    print(f"{name}: ended with {type(err).__name__}")
                history = await handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record())
