"""What a procedure shows the delivery team: its status query and the UI's current details.

One format everywhere: the step in bold, then what is happening and what happens next. A
procedure class takes ``Tracked`` as its base (and overrides ``_render`` to show more, e.g. one
line per number); the functions serve the procedures that keep their status beside other state.
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from pbxops.workflows.sla import Escalation, fail, ticket_on_unsafe_platform_data

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.procedures import Outcome, ProcedureStatus

FAILED = "failed"
DONE = "done"


def details(step: str, detail: str) -> str:
    """The UI's current details: the step in bold, then what is happening and what happens next."""
    return f"**{step}**\n\n{detail}"


class StepIndex:
    """The Step search attribute, upserted only when the step changes: each upsert is a history
    event and a billable action, and the step is what people search for."""

    def __init__(self, indexed: str) -> None:
        self.indexed = indexed

    def set(self, step: str) -> None:
        if step != self.indexed:
            self.indexed = step
            workflow.upsert_search_attributes([sa.STEP.value_set(step)])


def show_step(status: ProcedureStatus, step: str, detail: str) -> None:
    status.step = step
    status.step_detail = detail
    workflow.set_current_details(details(step, detail))


def add_note(status: ProcedureStatus, note: str) -> None:
    """Append to the current step's detail (an escalation, say) without changing the step."""
    show_step(status, status.step, f"{status.step_detail}\n\n{note}")


def failed(status: ProcedureStatus, message: str, kind: str) -> ApplicationError:
    """Record the failure for the status query and the UI; raise the returned error.

    The message is a human sentence, shown as-is by the UI and the CLI.
    """
    _record_failure(status, message)
    show_step(status, FAILED, message)
    return fail(message, kind)


def _record_failure(status: ProcedureStatus, message: str) -> None:
    status.outcome = Outcome.FAILED
    status.error = message
    status.finished_at = workflow.now()


# Procedures started after this change record who started and who changed them in their
# results (and a mobile line in its UI details and code outcomes); earlier runs keep theirs.
AUDIT_IN_RESULTS = "audit-in-results"


def started_by() -> str | None:
    """Who started this procedure: the ``started_by`` memo every ``pbxops`` start sets (None
    for a procedure started some other way). The memo is fixed at the start: deterministic."""
    try:
        value = workflow.memo_value("started_by", None, type_hint=str)
    except Exception:  # a memo of another shape: not an identity
        return None
    return value or None


async def unsafe_data_ticket(
    status: ProcedureStatus,
    escalation: Escalation,
    err: ActivityError,
    *,
    procedure: str,
    subject: str,
) -> str:
    """When the platform's data could not go into an email, open the one support ticket
    (``ticket_on_unsafe_platform_data``) and record it in the status; " (support ticket T-…)"
    for the failure's sentence, else ""."""
    ticket = await ticket_on_unsafe_platform_data(
        escalation, err, procedure=procedure, subject=subject
    )
    if ticket is None:
        return ""
    status.ticket_id = ticket
    status.escalated = True
    return f" (support ticket {ticket})"


class Tracked:
    """A procedure's status for its query and the UI's current details, kept in step."""

    _status: ProcedureStatus

    def _render(self) -> str:
        return details(self._status.step, self._status.step_detail)

    def _show(self, note: str = "") -> None:
        """Show the status again (after a change below the step), with ``note`` appended."""
        if note:
            self._status.step_detail += f"\n\n{note}"
        workflow.set_current_details(self._render())

    def _enter(self, step: str, detail: str) -> None:
        self._status.step = step
        self._status.step_detail = detail
        self._show()

    def _done(self, step: str, detail: str) -> None:
        self._status.outcome = Outcome.COMPLETED
        self._status.finished_at = workflow.now()
        self._enter(step, detail)

    def _failed(self, message: str, kind: str) -> ApplicationError:
        """Record the failure (a human sentence, shown as-is); raise the returned error."""
        _record_failure(self._status, message)
        self._enter(FAILED, message)
        return fail(message, kind)

    async def _ticket_if_unsafe(self, err: ActivityError, procedure: str, subject: str) -> str:
        """``unsafe_data_ticket`` for a procedure without an escalation of its own."""
        return await unsafe_data_ticket(
            self._status,
            Escalation(self._status.tenant_id),
            err,
            procedure=procedure,
            subject=subject,
        )
