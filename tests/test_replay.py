"""Recorded histories replay against today's workflow code (``tests/histories/*.json``).

A change to a workflow's command sequence that is not behind ``workflow.patched()`` would break
every procedure already running; this test makes CI fail instead. The last test proves the guard
bites: a modified copy of a workflow must fail to replay.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
from pbxops.runtime.sandbox import workflow_runner
from pbxops.workflows.registry import ALL_WORKFLOWS
from pbxops.workflows.service_transition import ServiceDeactivation

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"history/{path.stem}", path.read_text())


def recorded_types() -> set[str]:
    return {
        json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for path in HISTORIES
    }


def test_every_workflow_has_a_recorded_history():
    assert {wf.__temporal_workflow_definition.name for wf in ALL_WORKFLOWS} <= recorded_types()


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path):
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(load(path))


@workflow.defn(name=Procedure.DEACTIVATION.value)
class DeactivationThatSleepsFirst(ServiceDeactivation):
    """An incompatible edit: a new timer before the first activity, not behind patched()."""

    @workflow.init
    def __init__(self, inp: ServiceTransitionInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ServiceTransitionInput) -> ServiceTransitionResult:
        await workflow.sleep(timedelta(seconds=1))
        return await self._run()


async def test_an_incompatible_change_fails_replay():
    replayer = Replayer(
        workflows=[DeactivationThatSleepsFirst],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    history = load(Path(__file__).parent / "histories" / "deactivation_in_time.json")
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(history)
