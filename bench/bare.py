"""The engine's ceiling: a bare workflow with N no-op activities (and optional local ones / sleep).

Same server, same SDK, same sandbox, same data converter as pbxops' worker; only the work is gone.
It runs in its own worker process (``python -m bench.bare``, on ``PBXOPS_TASK_QUEUE``), as
pbxops' worker does, so the two compare process for process.
"""

import asyncio
import signal
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.worker import Worker

BARE_TASK_QUEUE = "bench-bare"
NOOP = "bench.noop"


class BareInput(BaseModel):
    activities: int = 1
    """Regular activities, one after the other (each: scheduled, started, completed)."""
    local_activities: int = 0
    """Local activities, one after the other (each: one marker)."""
    sleep: timedelta | None = None
    """Then sleep this long (the bare 90-day sleeper of the idle benchmark)."""


class BareResult(BaseModel):
    done: int


@activity.defn(name=NOOP)
async def noop(step: int) -> int:
    return step


@workflow.defn(name="BenchBare")
class BareWorkflow:
    @workflow.run
    async def run(self, inp: BareInput) -> BareResult:
        for step in range(inp.activities):
            await workflow.execute_activity(
                NOOP, step, result_type=int, start_to_close_timeout=timedelta(seconds=30)
            )
        for step in range(inp.local_activities):
            await workflow.execute_local_activity(
                NOOP, step, result_type=int, start_to_close_timeout=timedelta(seconds=10)
            )
        if inp.sleep is not None:
            await workflow.sleep(inp.sleep)
        return BareResult(done=inp.activities + inp.local_activities)


async def _serve() -> None:
    from pbxops.runtime.sandbox import workflow_runner
    from pbxops.runtime.settings import Settings
    from pbxops.runtime.temporal import connect

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    client = await connect(settings, wait_seconds=60)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BareWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(),
    ):
        print("bare worker started", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
