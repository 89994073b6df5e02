"""Cloud PBX service deactivation and its reverse path, reactivation
(docs/procedures.md#deactivation).

Deactivation switches the service off and blocks access; it deletes nothing and billing goes on.
The platform runs it as a job that "can take up to 15 minutes": past that a support ticket is
opened, the procedure keeps waiting, and when the job finally ends the ticket is resolved.
"""

from datetime import timedelta
from typing import ClassVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
        Audience,
        EmailTemplate,
        TemplatedEmail,
    )
    from pbxops.contracts.pbx import (
        PLATFORM_EVENT_SIGNAL,
        PlatformEvent,
        ServiceSnapshot,
        TransitionKind,
        TransitionRequest,
    )
    from pbxops.contracts.procedures import Outcome, Procedure, ProcedureStatus
    from pbxops.contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
    from pbxops.contracts.wording import minutes_or_hours, plural

from pbxops.workflows import calls, legacy_emails
from pbxops.workflows.platform_job import PlatformJob
from pbxops.workflows.progress import add_note, failed, show_step, unsafe_data_ticket
from pbxops.workflows.sla import (
    Escalation,
    HardCapReached,
    SlaWindow,
    cause_message,
)


class Step:
    REQUESTING = "requesting"
    WAITING = "waiting-for-platform"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"


def _minutes(delta: timedelta) -> str:
    return minutes_or_hours(delta)


class _ServiceTransition:
    """Shared by both directions; subclasses only name their procedure and platform job."""

    procedure: ClassVar[Procedure]
    kind: ClassVar[TransitionKind]

    def __init__(self, inp: ServiceTransitionInput) -> None:
        self._input = inp
        self._job = PlatformJob(inp.tenant_id, self.kind.target_state)
        self._escalation = Escalation(inp.tenant_id)
        self._status = ProcedureStatus(
            procedure=self.procedure,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.tenant_id,
            step=Step.REQUESTING,
            started_at=workflow.now(),
            started_by=inp.started_by or None,
        )

    # --- handlers -------------------------------------------------------------------------------

    @workflow.signal(name=PLATFORM_EVENT_SIGNAL, description="The platform reports a job's end.")
    def platform_event(self, event: PlatformEvent) -> None:
        self._job.on_event(event)

    @workflow.query(description="Step, SLA deadline, ticket and timing of this procedure.")
    def status(self) -> ProcedureStatus:
        return self._status.model_copy(update={"ticket_id": self._escalation.ticket_id})

    # --- the procedure --------------------------------------------------------------------------

    async def _run(self) -> ServiceTransitionResult:
        inp = self._input
        label = self.procedure.label
        self._enter(
            Step.REQUESTING, f"Asking the platform to start the {label} of `{inp.tenant_id}`."
        )
        try:
            accepted = await calls.request_transition(
                TransitionRequest(tenant_id=inp.tenant_id, kind=self.kind)
            )
        except ActivityError as err:
            # Unknown tenant, wrong state: the platform's own sentence, nothing was changed. A
            # tenant name unsafe in an email header also tells a person, with one ticket.
            ticket = await unsafe_data_ticket(
                self._status,
                self._escalation,
                err,
                procedure=f"the {label} of tenant '{inp.tenant_id}' before any change",
                subject=f"{label.capitalize()} of tenant {inp.tenant_id} stopped: unsafe "
                "platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        self._job.job_id = accepted.job_id
        before = accepted.before

        started = self._status.started_at
        window = SlaWindow(deadline=started + inp.sla, hard_cap_at=started + inp.hard_cap)
        self._status.sla_deadline = window.deadline
        workflow.upsert_search_attributes(
            [sa.STEP.value_set(Step.WAITING), sa.SLA_DEADLINE.value_set(window.deadline)]
        )
        self._enter(
            Step.WAITING,
            f"Platform job `{accepted.job_id}` is {self.kind.transient_state.value} "
            f"`{inp.tenant_id}` ({before.tenant_name}).\n\n"
            f"Support ticket if not {self.kind.target_state.value} by "
            f"**{window.deadline:%Y-%m-%d %H:%M} UTC** ({_minutes(inp.sla)} SLA); "
            f"gives up at {window.hard_cap_at:%Y-%m-%d %H:%M} UTC.",
        )
        try:
            after = await self._job.wait_and_read(
                window,
                self._escalate,
                what=f"{inp.tenant_id} is {self.kind.target_state.value}",
                status=self._status,
                reading=lambda: self._enter(Step.VERIFYING, "Checking what the platform changed."),
            )
        except HardCapReached as err:
            message = (
                f"the platform did not finish the {label} of tenant '{inp.tenant_id}' within "
                f"{_minutes(inp.hard_cap)}"
            )
            await self._escalation.comment(f"pbxops stopped waiting: {message}. Needs a person.")
            raise self._failed(message, "HardCapReached") from err

        self._verify(before, after)

        took = workflow.now() - started
        if self._escalation.ticket_id:
            await self._escalation.resolve(
                f"The {label} completed after {_minutes(took)} (SLA {_minutes(inp.sla)}). "
                "Resolved automatically by pbxops."
            )
        if inp.requested_by and workflow.patched(EMAIL_TEMPLATES_PATCH):
            await calls.send_template(
                self._done_email(str(inp.requested_by), before.tenant_name, took), step="notify"
            )
        elif inp.requested_by:
            await calls.send_email(
                legacy_emails.transition_done(
                    self.procedure.label,
                    self.kind,
                    self._input.tenant_id,
                    took,
                    self._escalation.ticket_id,
                    str(inp.requested_by),
                ),
                step="notify",
            )
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(Step.DONE, f"Service of `{inp.tenant_id}` is {after.state.value}.")
        return ServiceTransitionResult(
            tenant_id=inp.tenant_id,
            state=after.state,
            escalated=self._escalation.ticket_id is not None,
            ticket_id=self._escalation.ticket_id,
            took_seconds=took.total_seconds(),
            started_by=inp.started_by or None,
        )

    async def _escalate(self) -> None:
        inp = self._input
        label = self.procedure.label
        ticket = await self._escalation.open(
            subject=f"{label.capitalize()} of tenant {inp.tenant_id} not finished after "
            f"{_minutes(inp.sla)}",
            body=(
                f"pbxops asked the platform to start the {label} of tenant '{inp.tenant_id}' at "
                f"{self._status.started_at:%Y-%m-%d %H:%M} UTC (platform job {self._job.job_id}). "
                f"The provider's documented limit is {_minutes(inp.sla)} and the service is still "
                f"not {self.kind.target_state.value}. pbxops keeps waiting and will resolve this "
                "ticket when the platform finishes."
            ),
        )
        self._status.escalated = True
        add_note(self._status, f"**Escalated**: support ticket `{ticket}`.")

    def _verify(self, before: ServiceSnapshot, after: ServiceSnapshot) -> None:
        """The source's promises, checked rather than trusted."""
        problems = []
        if after.state != self.kind.target_state:
            problems.append(
                f"state is {after.state.value}, expected {self.kind.target_state.value}"
            )
        if after.extensions_total != before.extensions_total:
            problems.append(
                f"extensions went from {before.extensions_total} to {after.extensions_total}"
                " (no extension may be deleted)"
            )
        if after.billing_active != before.billing_active:
            problems.append("billing changed (it must continue unchanged)")
        if self.kind is TransitionKind.DEACTIVATION:
            if after.extensions_registered:
                problems.append(
                    f"{plural(after.extensions_registered, 'extension')} still registered"
                )
            if after.access_visible:
                problems.append("access information is still shown")
        if problems:
            raise self._failed(
                f"the platform reported the {self.procedure.label} of tenant "
                f"'{self._input.tenant_id}' done, but " + "; ".join(problems),
                "VerificationFailed",
            )

    def _done_email(self, to: str, tenant_name: str, took: timedelta) -> TemplatedEmail:
        """In the tenant's language, or English when ``to`` is the provider's staff."""
        return TemplatedEmail(
            template=EmailTemplate.TRANSITION_DONE,
            to=[to],
            audience=Audience(tenant_id=self._input.tenant_id),
            values={
                "kind": self.kind.value,
                "tenant_name": tenant_name,
                "tenant_id": self._input.tenant_id,
                "took_seconds": took.total_seconds(),
                "ticket_id": self._escalation.ticket_id,
            },
        )

    # --- bookkeeping ----------------------------------------------------------------------------

    def _enter(self, step: str, detail: str) -> None:
        """Record the step for the status query and the UI's current details.

        The Step search attribute is upserted only when waiting starts: each upsert is a history
        event and a billable action, and "waiting" is the step people search for.
        """
        show_step(self._status, step, detail)

    def _failed(self, message: str, kind: str) -> ApplicationError:
        return failed(self._status, message, kind)


@workflow.defn(name=Procedure.DEACTIVATION.value)
class ServiceDeactivation(_ServiceTransition):
    """Switch a tenant's Cloud PBX service off; ticket past 15 minutes; billing untouched."""

    procedure = Procedure.DEACTIVATION
    kind = TransitionKind.DEACTIVATION

    @workflow.init
    def __init__(self, inp: ServiceTransitionInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ServiceTransitionInput) -> ServiceTransitionResult:
        return await self._run()


@workflow.defn(name=Procedure.REACTIVATION.value)
class ServiceReactivation(_ServiceTransition):
    """Switch a deactivated service back on (beyond the source; the same shape)."""

    procedure = Procedure.REACTIVATION
    kind = TransitionKind.REACTIVATION

    @workflow.init
    def __init__(self, inp: ServiceTransitionInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ServiceTransitionInput) -> ServiceTransitionResult:
        return await self._run()
