"""A job the platform runs for a procedure, followed by its callback with a safety poll behind.

The procedure's Signal handler hands every ``PlatformEvent`` to ``on_event``; ``wait`` returns
when the job's target state was reported or a safety poll finds it (see ``pbxops.workflows.sla``).

A callback is a hint, never a verdict: ``wait_and_read`` follows the wake-up with the
platform's own read of the service, which the procedure then verifies. When that read shows the
job is not done, the callback is ignored and the wait goes on (SLA ticket, polls and hard cap as
before); after ``MAX_CALLBACK_WAKES`` such callbacks only the safety polls can end the wait.
Repeats of an event are dropped and at most ``MAX_EVENTS_KEPT`` distinct ones are kept.
"""

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.pbx import PlatformEvent, ServiceSnapshot, ServiceState
    from pbxops.contracts.procedures import ProcedureStatus

from pbxops.workflows import calls
from pbxops.workflows.progress import add_note, show_step
from pbxops.workflows.sla import SlaWindow, wait_with_sla

# The patch: a callback the platform's read contradicts no longer fails the procedure.
CALLBACK_CONFIRMED = "callback-confirmed-by-platform"
MAX_CALLBACK_WAKES = 3
MAX_EVENTS_KEPT = 16


class PlatformJob:
    def __init__(self, tenant_id: str, target: ServiceState) -> None:
        self.tenant_id = tenant_id
        self.target = target
        self.job_id: str | None = None
        self._events: list[PlatformEvent] = []
        self._polls = 0
        # Events before this index were contradicted by the platform's own read.
        self._refuted = 0
        self._wakes_refuted = 0
        self._breached = False
        self._reads = 0

    def on_event(self, event: PlatformEvent) -> None:
        # A repeat of an event not yet refuted changes nothing (delivery is at least once); the
        # same event after a refuted one may be the platform's real report, so it counts again.
        if event in self._events[self._refuted :] or len(self._events) >= MAX_EVENTS_KEPT:
            return
        self._events.append(event)

    def reported_done(self) -> bool:
        """The callback said so (for this job, once its id is known)."""
        if self._wakes_refuted >= MAX_CALLBACK_WAKES:
            return False
        return any(
            event.state == self.target and (self.job_id is None or event.job_id == self.job_id)
            for event in self._events[self._refuted :]
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
        async def breach_once() -> None:
            # A wait resumed after an ignored callback must not escalate a second time.
            if not self._breached:
                self._breached = True
                await on_breach()

        await wait_with_sla(
            reached=self.reported_done,
            poll=self.poll,
            window=window,
            on_breach=breach_once,
            what=what,
        )

    async def wait_and_read(
        self,
        window: SlaWindow,
        on_breach: Callable[[], Awaitable[None]],
        what: str,
        *,
        status: ProcedureStatus,
        reading: Callable[[], None],
    ) -> ServiceSnapshot:
        """Wait for the job, then read the service (activity ``verify``) for the procedure to
        verify. ``reading`` runs just before each read (the procedure shows its step); after an
        ignored callback the procedure's waiting step is shown again, with a note."""
        while True:
            waiting = (status.step, status.step_detail)
            await self.wait(window, on_breach, what)
            reading()
            self._reads += 1
            after = await calls.get_service(
                self.tenant_id,
                activity_id="verify" if self._reads == 1 else f"verify-{self._reads}",
                must_succeed=True,
            )
            if after.state == self.target or not workflow.patched(CALLBACK_CONFIRMED):
                return after
            # Only a callback wakes the wait without the platform showing the target (a poll
            # returns only when it does): the platform's own read wins, the callback is ignored.
            workflow.logger.warning(
                "a callback reported %s but the platform shows %s: ignored, still waiting",
                self.target.value,
                after.state.value,
            )
            self._refuted = len(self._events)
            self._wakes_refuted += 1
            show_step(status, *waiting)
            add_note(
                status,
                f"A callback reported `{self.target.value}`; the platform shows "
                f"`{after.state.value}`: ignored, still waiting.",
            )
