"""Fixtures the workflow tests share (the worker itself: harness.py)."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fake_customers import FakeCustomers
from tests.workflows.harness import serving


@pytest_asyncio.fixture(scope="module")
async def worker_portal(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[FakeCustomers]:
    """One worker for the module (building one validates every workflow: seconds each)."""
    async with serving(time_skipping_env, FakeCustomers()) as fake:
        yield fake


@pytest.fixture
def portal(worker_portal: FakeCustomers) -> FakeCustomers:
    """The module's portal, emptied for this test (its activities keep pointing at it)."""
    worker_portal.__init__()  # type: ignore[misc]
    return worker_portal
