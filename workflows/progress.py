"""What a procedure shows the delivery team: its status query and the UI's current details.

One format everywhere: the step in bold, then what is happening and what happens next.
"""

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.sla import fail

with workflow.unsafe.imports_passed_through():
    from contracts.procedures import Outcome, ProcedureStatus

FAILED = "failed"


def show_step(status: ProcedureStatus, step: str, detail: str) -> None:
    status.step = step
    status.step_detail = detail
    workflow.set_current_details(f"**{step}**\n\n{detail}")


def add_note(status: ProcedureStatus, note: str) -> None:
    """Append to the current step's detail (an escalation, say) without changing the step."""
    show_step(status, status.step, f"{status.step_detail}\n\n{note}")


def failed(status: ProcedureStatus, message: str, kind: str) -> ApplicationError:
    """Record the failure for the status query and the UI; raise the returned error.

    The message is a human sentence, shown as-is by the UI and the CLI.
    """
    status.outcome = Outcome.FAILED
    status.error = message
    status.finished_at = workflow.now()
    show_step(status, FAILED, message)
    return fail(message, kind)


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
