"""The worker every workflow test runs: every workflow, a fake's activities, a task queue of its
own (tests sharing one time-skipping server never pick up each other's tasks)."""

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pbxops.runtime.sandbox import workflow_runner
from pbxops.workflows.registry import ALL_WORKFLOWS


class Fake(Protocol):
    def activities(self) -> list[Any]: ...


F = TypeVar("F", bound=Fake)


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, activities: Sequence[Callable[..., Any]]
) -> AsyncIterator[str]:
    """A worker running ``activities`` on a fresh task queue; yields the queue's name."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=ALL_WORKFLOWS,
        activities=activities,
        # Strict: the helpers run inside the sandbox too, so a restricted call in one fails here.
        workflow_runner=workflow_runner(strict=True),
    ):
        yield task_queue


@asynccontextmanager
async def serving(env: WorkflowEnvironment, fake: F) -> AsyncIterator[F]:
    """A worker running ``fake``'s activities; its task queue is ``fake.task_queue``."""
    async with worker(env, fake.activities()) as task_queue:
        fake.task_queue = task_queue  # type: ignore[attr-defined]
        yield fake
