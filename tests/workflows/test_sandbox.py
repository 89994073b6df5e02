"""runtime/sandbox.py: the workflow helpers are shared by every workflow in the worker, so they must
hold no state; the strict runner of the workflow tests still re-imports them in each sandbox."""

import dataclasses
import importlib
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import TypeVar

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pbxops.runtime.sandbox import HELPERS, workflow_runner
from pbxops.workflows import sla

IMMUTABLE = (str, bytes, int, float, bool, type(None), timedelta, datetime, tuple, frozenset)


def _is_shared_state(value: object) -> bool:
    """Something one workflow could change and another then see."""
    if isinstance(value, (*IMMUTABLE, ModuleType, FunctionType, BuiltinFunctionType, TypeVar)):
        return False
    if isinstance(value, type):
        # Its class attributes; one imported from elsewhere is that module's business.
        return value.__module__ in HELPERS and any(
            _is_shared_state(v) for k, v in vars(value).items() if not k.startswith("__")
        )
    if isinstance(value, classmethod | staticmethod):
        return _is_shared_state(value.__func__)
    if isinstance(value, property):
        return False
    if dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen:  # type: ignore[union-attr]
        return False
    # Retry policies are handed to the SDK, which only reads them; nothing in the workflows may
    # assign to one (ruff/mypy would not catch it, so this list stays short).
    # Anything else is state: a list, a dict, a logger, a cache (an lru_cache'd function too).
    return not isinstance(value, RetryPolicy)


@pytest.mark.parametrize("name", HELPERS)
def test_a_shared_helper_holds_no_module_state(name):
    module = importlib.import_module(name)

    state = {
        key: type(value).__name__
        for key, value in vars(module).items()
        if not key.startswith("__") and _is_shared_state(value)
    }

    assert state == {}, f"{name} would share these between workflows: {state}"


def test_the_state_check_bites():
    """The control of the test above: the kinds of state it must catch."""

    class Registry:
        seen: list[str] = []

    Registry.__module__ = HELPERS[0]
    assert _is_shared_state([]) and _is_shared_state({}) and _is_shared_state(set())
    assert _is_shared_state(Registry)
    assert _is_shared_state(dataclasses.make_dataclass("Open", [("x", int)])(1))
    assert _is_shared_state(lru_cache(maxsize=8)(len))
    assert not _is_shared_state(timedelta(days=1)) and not _is_shared_state(RetryPolicy())


@workflow.defn(sandboxed=True)
class ProbeHelperModule:
    """Tells whether the helper module it imports is the worker's own or a fresh copy."""

    @workflow.run
    async def run(self) -> str:
        return getattr(sla, "PROBE", "fresh copy")


@pytest.mark.parametrize(("strict", "seen"), [(False, "the worker's module"), (True, "fresh copy")])
async def test_helpers_are_shared_by_the_worker_and_sandboxed_in_the_tests(
    time_skipping_env: WorkflowEnvironment, monkeypatch, strict, seen
):
    monkeypatch.setattr(sla, "PROBE", "the worker's module", raising=False)
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[ProbeHelperModule],
        workflow_runner=workflow_runner(strict=strict),
    ):
        result = await time_skipping_env.client.execute_workflow(
            ProbeHelperModule.run, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
        )

    assert result == seen
