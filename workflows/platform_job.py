"""A job the platform runs for a procedure, followed by its callback with a safety poll behind.

The procedure's Signal handler hands every ``PlatformEvent`` to ``on_event``; ``wait`` returns
when the job's target state was reported or a safety poll finds it (see ``workflows.sla``).
"""

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.pbx import PlatformEvent, ServiceState

from workflows import calls
from workflows.sla import SlaWindow, wait_with_sla


class PlatformJob:
    def __init__(self, tenant_id: str, target: ServiceState) -> None:
        self.tenant_id = tenant_id
        self.target = target
        self.job_id: str | None = None
        self._events: list[PlatformEvent] = []
        self._polls = 0

    def on_event(self, event: PlatformEvent) -> None:
        self._events.append(event)

    def reported_done(self) -> bool:
        """The callback said so (for this job, once its id is known)."""
        return any(
            event.state == self.target and (self.job_id is None or event.job_id == self.job_id)
            for event in self._events
        )

    async def poll(self) -> bool:
        """Ask the platform directly, in case its callback was lost."""
        self._polls += 1
        try:
            snapshot = await calls.get_service(
                self.tenant_id, activity_id=f"poll-{self._polls}", must_succeed=False
            )
        except ActivityError:
            workflow.logger.warning("safety poll failed; waiting for the next one")
            return False
        return snapshot.state == self.target

    async def wait(
        self, window: SlaWindow, on_breach: Callable[[], Awaitable[None]], what: str
    ) -> None:
        await wait_with_sla(
            reached=self.reported_done,
            poll=self.poll,
            window=window,
            on_breach=on_breach,
            what=what,
        )
