"""The job runner: every tick, complete the jobs that are due and send their callbacks.

It runs as one asyncio task in the server's event loop; database work goes to a worker thread
(``asyncio.to_thread``) so a slow disk never stalls request handling.
"""

import asyncio
import contextlib

import structlog

from pbxsim.callbacks import CallbackDispatcher
from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.pbx.transitions import any_due_job, complete_due_jobs

log = structlog.get_logger("simulator.jobs")


class JobRunner:
    def __init__(self, db: Database, dispatcher: CallbackDispatcher, tick_seconds: float) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._tick = tick_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="simulator job runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._dispatcher.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad tick (a locked database, a bug in one job) must not stop the platform.
                log.exception("job runner tick failed")
            await asyncio.sleep(self._tick)

    async def tick(self) -> None:
        completed = await asyncio.to_thread(self._complete_due)
        for job_id in completed:
            log.info("job completed", job_id=job_id)
        await self._dispatcher.dispatch_due(utcnow())

    def _complete_due(self) -> list[str]:
        now = utcnow()
        # Most ticks find nothing due: look without taking the write lock, which would make the
        # platform's writers queue behind every tick.
        with self._db.reading_connection() as connection:
            if not any_due_job(connection, now):
                return []
        with self._db.connection() as connection:
            return complete_due_jobs(connection, now)
