"""``--wait``: follow a procedure live until it ends, then hand back its result."""

from pydantic import BaseModel
from temporalio.client import WorkflowFailureError

from pbxops.cli import render
from pbxops.cli.errors import OperatorError
from pbxops.cli.identity import who
from pbxops.cli.procedures import Procedures, Started, failure_message
from pbxops.contracts.procedures import Procedure, ProcedureStatus
from pbxops.runtime.settings import get_settings
from pbxops.runtime.temporal import connect


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


async def follow(
    procedures: Procedures, started: Started, result_type: type[BaseModel], as_json: bool
) -> BaseModel:
    """A spinner with the current step on a terminal; a line per new step or detail always."""
    shown: list[str] = []

    def show(status: ProcedureStatus) -> None:
        headline = status.step_detail.split("\n\n")[0]
        if not as_json and (not shown or shown[-1] != headline):
            render.out.print(f"  → {status.step}: {_plain(headline)}")
            shown.append(headline)
        spinner.update(render.status_line(status))

    with render.out.status("starting…") as spinner:
        return await procedures.watch(started, show, result_type)


async def follow_and_print(
    procedures: Procedures, started: Started, result_type: type[BaseModel], as_json: bool
) -> BaseModel:
    """Follow a started procedure to its end; with ``--json`` print the start and the result."""
    result = await follow(procedures, started, result_type, as_json)
    if as_json:
        render.emit_json({**render.started_json(started), "result": result})
    return result


async def run_short(
    procedure: Procedure,
    key: str,
    tenant_id: str,
    payload: BaseModel,
    result_type: type[BaseModel],
    summary: str,
    details: str,
    as_json: bool,
    operator: str | None = None,
) -> BaseModel:
    """Start a short procedure and wait for it: one line on failure, as every error."""
    settings = get_settings()
    client = await connect(settings)
    procedures = Procedures(client, settings)
    started = await procedures.start(
        procedure, key, tenant_id, payload, summary, details, started_by=who(settings, operator)
    )
    if not as_json:
        render.started(started)
    handle = client.get_workflow_handle(
        started.workflow_id, run_id=started.run_id, result_type=result_type
    )
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        raise OperatorError(f"{procedure.label} refused: {failure_message(err)}") from err
    if as_json:
        render.emit_json({**render.started_json(started), "result": result})
    return result
