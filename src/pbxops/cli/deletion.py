"""``pbxops delete …`` and ``pbxops deliveries``: the service deletion, from request to delivery."""

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from pbxops.activities.codes import seal_for_worker
from pbxops.cli import render
from pbxops.cli.errors import OperatorError
from pbxops.cli.follow import follow
from pbxops.cli.history import search_attributes_upserted, statuses
from pbxops.cli.identity import ByOpt, who, who_confirms
from pbxops.cli.options import JsonOpt, TenantOpt, WaitOpt, run_async
from pbxops.cli.platform import check_tenant_id
from pbxops.cli.preflight import tenant_ready_for
from pbxops.cli.procedures import STATUS_QUERY, Procedures, Started, failure_message
from pbxops.cli.validation import checked
from pbxops.contracts.deletion import (
    CODE_DIGITS,
    Answer,
    ConfirmCode,
    ConfirmKey,
    DeletionInput,
    DeletionResult,
    DeletionStatus,
    Phase,
    WithdrawRequest,
)
from pbxops.contracts.lifecycle import Action
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import get_settings
from pbxops.runtime.temporal import connect

app = typer.Typer(
    help=(
        "Delete a tenant's Cloud PBX service: **irreversible**; all data erased, usage zeroed, "
        "billing stopped.\n\n"
        "1. `pbxops delete --tenant acme --requested-by you@provider.example` emails an "
        "8-digit code to every Admin of the tenant (valid 1 hour).\n\n"
        "2. `pbxops delete confirm --tenant acme --code 12345678` confirms it; the delivery team "
        "then has 2 business days, after which a support ticket opens by itself.\n\n"
        "`pbxops delete cancel --tenant acme` withdraws a request that is not confirmed yet."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="markdown",
)

# ASCII digits only, whole string: \d also matches "١٢٣٤٥٦٧٨" and $ matches before a final "\n".
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")
_WAIT_FOR_EMAIL_SECONDS = 60


def _local(value: datetime | None, timezone: str = "Europe/Rome") -> str:
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(timezone)).strftime(f"%a %d %b %Y %H:%M ({timezone})")


@app.callback()
def request(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant id.")] = None,
    requested_by: Annotated[
        str | None,
        typer.Option(help="Your email: you get the completion notice (Admins get the code)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Request the deletion: the Admins receive the confirmation code by email."""
    if ctx.invoked_subcommand is not None:
        return
    if tenant is None or requested_by is None:
        raise OperatorError(
            "give --tenant and --requested-by, e.g. `pbxops delete --tenant acme "
            "--requested-by you@provider.example` (see `pbxops delete --help`)"
        )
    asyncio.run(_request(tenant, requested_by, as_json))


async def _request(tenant_id: str, requested_by: str, as_json: bool) -> None:
    settings = get_settings()
    payload = checked(
        DeletionInput, tenant_id=check_tenant_id(tenant_id), requested_by=requested_by
    )
    tenant, procedures = await tenant_ready_for(settings, tenant_id, Action.DELETE)
    started = await procedures.begin_lifecycle(
        Procedure.DELETION,
        tenant_id,
        payload,
        summary=f"Service deletion of {tenant_id}",
        details=(
            f"Tenant **{tenant_id}** ({tenant['name']}). Irreversible once confirmed: all data "
            "erased, usage zeroed, billing stopped. Code valid 1 hour; delivery within 2 "
            "business days of the confirmation."
        ),
        started_by=requested_by,
    )
    current = await _until_code_sent(procedures, started)
    if as_json:
        render.emit_json({**render.started_json(started), "status": current})
        return
    render.started(started)
    render.out.print(
        f"  the confirmation code went to {plural(current.admins_notified, 'Admin')} of "
        f"{tenant_id}; "
        f"valid until {_local(current.code_expires_at, tenant['timezone'])}"
    )
    render.out.print(
        f"  confirm with: pbxops delete confirm --tenant {tenant_id} --code <{CODE_DIGITS} digits>"
        + ("" if settings.operator else " --by <you@provider.example>")
    )


async def _until_code_sent(procedures: Procedures, started: Started) -> DeletionStatus:
    """Wait (briefly) for the email, so a tenant without Admins is reported here and now."""
    handle = procedures.handle(started.workflow_id, started.run_id)
    try:
        async with asyncio.timeout(_WAIT_FOR_EMAIL_SECONDS):
            # The step moves to "awaiting-confirmation" (a search-attribute upsert) once sent.
            async with contextlib.aclosing(
                statuses(handle, _reader(handle), search_attributes_upserted)
            ) as changes:
                async for current in changes:
                    if current.error:
                        raise OperatorError(f"deletion refused: {current.error} ({started.url})")
                    if current.phase != Phase.REQUESTING:
                        return current
    except TimeoutError:
        pass
    raise OperatorError(
        f"the code was not emailed within {_WAIT_FOR_EMAIL_SECONDS}s (is the worker running?); "
        f"the request goes on: {started.url}"
    )


def _reader(handle: WorkflowHandle[Any, Any]) -> Callable[[], Awaitable[DeletionStatus]]:
    async def read() -> DeletionStatus:
        return await handle.query(STATUS_QUERY, result_type=DeletionStatus)

    return read


@app.command()
@run_async
async def confirm(
    tenant: TenantOpt,
    code: Annotated[str, typer.Option(help=f"The {CODE_DIGITS}-digit code from the email.")],
    wait: WaitOpt = False,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm with the emailed code. **Irreversible**: the delivery team starts deleting.

    Who confirms is recorded (`--by`, or PBXOPS_OPERATOR); a confirmation without it is refused.
    """
    if not _CODE.fullmatch(code):
        raise OperatorError(f"the code is {CODE_DIGITS} digits, e.g. 12345678")
    settings = get_settings()
    confirmer = who_confirms(settings, by)
    procedures = Procedures(await connect(settings), settings)
    workflow_id = Procedure.DELETION.workflow_id(check_tenant_id(tenant))
    try:
        request = await confirmation(procedures.handle(workflow_id), code, by=confirmer)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise OperatorError(
                f"the deletion request of '{tenant}' did not answer (is the worker running?): "
                f"{procedures.url(workflow_id)}"
            ) from err
        raise OperatorError(await _why_closed(procedures, workflow_id)) from err
    answer = await _update(procedures, workflow_id, "confirm", request)
    current = await _deadline_set(procedures.handle(workflow_id))
    url = await procedures.current_url(workflow_id)
    if not as_json:
        render.out.print(f"[bold red]{answer.message}[/]")
        render.out.print(
            f"  the delivery team is deleting {tenant}; due by {_local(current.sla_deadline)}"
            " (2 business days), or a support ticket opens"
        )
        render.link(url)
    if not wait:
        if as_json:
            render.emit_json({"answer": answer, "status": current, "url": url})
        return
    started = Started(Procedure.DELETION, workflow_id, "", url)
    result = await follow(procedures, started, DeletionResult, as_json)
    assert isinstance(result, DeletionResult)
    if as_json:
        render.emit_json({"answer": answer, "result": result, "url": url})
    else:
        render.out.print(f"[bold green]done[/] the service of {tenant} is deleted")


async def confirmation(handle: WorkflowHandle[Any, Any], code: str, *, by: str) -> ConfirmCode:
    """The confirm Update's argument: the code sealed to the worker's key for this run, so that
    history never shows it, whether it is right, wrong, or another tenant's (docs/security.md).
    A run from before sealing (no key) still takes the plain code."""
    key = await handle.query(CONFIRM_KEY_QUERY, result_type=ConfirmKey)
    if key.box_key is None:
        return ConfirmCode(code=code, by=by)
    return ConfirmCode(sealed=seal_for_worker(code, key.box_key, key.context), by=by)


CONFIRM_KEY_QUERY = "confirm_key"


async def _deadline_set(handle: WorkflowHandle[Any, Any]) -> DeletionStatus:
    """The status once the delivery deadline is computed: the workflow does it (and shows it as
    the SlaDeadline search attribute) in the task right after the confirmation."""
    current: DeletionStatus | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            async with contextlib.aclosing(
                statuses(handle, _reader(handle), search_attributes_upserted)
            ) as changes:
                async for current in changes:
                    if current.sla_deadline is not None or current.error:
                        break
    if current is None:  # not even one answer in 10 s: the worker is away
        current = await _reader(handle)()
    return current


@app.command()
@run_async
async def cancel(tenant: TenantOpt, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """Withdraw a deletion request before it is confirmed (never after)."""
    settings = get_settings()
    procedures = Procedures(await connect(settings), settings)
    workflow_id = Procedure.DELETION.workflow_id(check_tenant_id(tenant))
    answer = await _update(
        procedures, workflow_id, "withdraw", WithdrawRequest(by=who(settings, by))
    )
    # "withdrawn" only once it is true: the procedure has ended, as withdrawn.
    result = await _ended(procedures, workflow_id)
    url = await procedures.current_url(workflow_id)
    if result is None or result.phase != Phase.WITHDRAWN:
        raise OperatorError(
            f"the withdrawal was accepted, but the procedure has not ended within "
            f"{_WAIT_FOR_END_SECONDS}s (is the worker running?); check it: {url}"
        )
    if as_json:
        render.emit_json({"answer": answer, "result": result, "url": url})
    else:
        render.out.print(answer.message)
        render.link(url)


_WAIT_FOR_END_SECONDS = 30


async def _ended(procedures: Procedures, workflow_id: str) -> DeletionResult | None:
    """The request's result once its workflow has ended; None if it is still running."""
    handle = procedures.client.get_workflow_handle(workflow_id, result_type=DeletionResult)
    try:
        async with asyncio.timeout(_WAIT_FOR_END_SECONDS):
            return await handle.result()
    except (TimeoutError, WorkflowFailureError):
        return None


async def _update(procedures: Procedures, workflow_id: str, name: str, arg: Any) -> Answer:
    """Send an Update; every way it can be refused becomes one sentence."""
    handle = procedures.handle(workflow_id)
    try:
        return await handle.execute_update(name, arg, result_type=Answer)
    except WorkflowUpdateFailedError as err:
        raise OperatorError(failure_message_of(err)) from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise OperatorError(await _why_closed(procedures, workflow_id)) from err


def failure_message_of(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return getattr(cause, "message", None) or str(cause or err)


async def _why_closed(procedures: Procedures, workflow_id: str) -> str:
    """The request is not running: say how it ended, in the operator's terms."""
    tenant = workflow_id.split("/", 1)[1]
    handle = procedures.handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError:
        return (
            f"there is no deletion request for tenant '{tenant}'; start one with "
            f"`pbxops delete --tenant {tenant} --requested-by you@provider.example`"
        )
    if description.status == WorkflowExecutionStatus.COMPLETED:
        result = await procedures.client.get_workflow_handle(
            workflow_id, result_type=DeletionResult
        ).result()
        return {
            Phase.EXPIRED: "expired — start the deletion again",
            Phase.LOCKED: "locked after too many wrong codes — start the deletion again",
            Phase.WITHDRAWN: "the request was withdrawn — start the deletion again",
        }.get(result.phase, f"the deletion of '{tenant}' is already complete")
    if description.status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as err:
            return f"the deletion request failed: {failure_message(err)}"
    return f"the deletion request of '{tenant}' is {description.status}"


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="delete")
    root.command("deliveries")(deliveries)


@run_async
async def deliveries(as_json: JsonOpt = False) -> None:
    """For the delivery team: deletions in progress, their step, deadline and escalation."""
    settings = get_settings()
    procedures = Procedures(await connect(settings), settings)
    query = f"ProcedureName = '{Procedure.DELETION.value}' AND ExecutionStatus = 'Running'"
    items = await procedures.list(query)
    if as_json:
        render.emit_json([item.__dict__ for item in items])
    elif not items:
        render.out.print("no deletion in progress")
    else:
        render.procedures_table(
            items,
            "Deletions in progress (deadline: code expiry while "
            "awaiting confirmation, then delivery due)",
        )
