"""Record the histories the replay test checks today's workflow code against.

    .venv/bin/python -m tests.histories.record [name-prefix]

Scenarios live beside this file in ``scenarios_<procedure>.py`` modules, each exposing
``SCENARIOS: list[Scenario]``. Run this when a workflow gains a path worth guarding, and commit
the JSON files. Never re-record to make a failing replay pass: a failing replay means running
workflows would break; put the change behind ``workflow.patched()`` instead.
"""

import asyncio
import importlib
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pbxops.runtime.sandbox import workflow_runner
from pbxops.runtime.search_attributes import add_all
from pbxops.workflows.registry import ALL_WORKFLOWS
from tests.conftest import installed_binary

HERE = Path(__file__).parent


@dataclass
class Scenario:
    """One recorded history: how to start the workflow and what happens while it runs."""

    name: str
    activities: Callable[[], list[Any]]
    """Fresh (fake) activities for this run."""
    start: Callable[[Client, str, str], Awaitable[WorkflowHandle]]
    """(client, workflow id, task queue) → the started workflow."""
    drive: Callable[[WorkflowEnvironment, WorkflowHandle], Awaitable[None]]
    """Signals, updates and time skips that shape the history."""


def scenarios() -> list[Scenario]:
    found: list[Scenario] = []
    for path in sorted(HERE.glob("scenarios_*.py")):
        found += importlib.import_module(f"tests.histories.{path.stem}").SCENARIOS
    return found


async def record(prefix: str = "") -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    async with env:
        await add_all(env.client)
        for scenario in scenarios():
            if not scenario.name.startswith(prefix):
                continue
            task_queue = f"record-{uuid.uuid4()}"
            async with Worker(
                env.client,
                task_queue=task_queue,
                workflows=ALL_WORKFLOWS,
                activities=scenario.activities(),
                workflow_runner=workflow_runner(),
            ):
                handle = await scenario.start(env.client, f"history/{scenario.name}", task_queue)
                await scenario.drive(env, handle)
                try:
                    await handle.result()
                except Exception as err:  # failure paths are histories worth replaying too
                    print(f"{scenario.name}: ended with {type(err).__name__}")
                history = await handle.fetch_history()
            (HERE / f"{scenario.name}.json").write_text(history.to_json())
            print(f"recorded {scenario.name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else ""))
