"""``pbxops mobile …``: eSIM mobile lines, one workflow per device (docs/procedures.md#mobile-line).

Each mobile-line device has one long-running workflow, ``mobile-line/<device id>``. ``provision``
starts it; ``new-code``, ``lost-stolen`` and ``delete`` are Updates to it (refused before anything
happens when the device's status does not allow them); ``status`` is its query.

The activation code never passes through Temporal. The workflow's activity emails it to the user;
when the organisation suppresses emails, this CLI reads it from the platform with the operator's
credentials (``PBXOPS_PLATFORM_TOKEN``) after the workflow issued it, checks it is the code the
workflow just issued (same code id), and prints it (``--png FILE`` saves the QR, ``--qr`` shows it
in the terminal). ``pbxops mobile code`` prints the current code again at any time.

Over 400 lines: seven commands of one group that share the line's workflow handle, its Update
errors and the showing of a code (file, QR, JSON); ``pbxops cdr`` is in ``cdr.py``.
"""

import asyncio
import contextlib
import io
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import segno
import typer
from rich.markup import escape
from rich.table import Table
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from pbxops.cli import files, render
from pbxops.cli.errors import OperatorError
from pbxops.cli.history import search_attributes_upserted, statuses
from pbxops.cli.identity import ByOpt, who
from pbxops.cli.options import JsonOpt, run_async
from pbxops.cli.platform import PlatformApi, check_id, check_tenant_id
from pbxops.cli.procedures import Procedures, failure_message
from pbxops.cli.validation import checked
from pbxops.contracts.lifecycle import Action, refusal
from pbxops.contracts.mobile import (
    CodeOutcome,
    CodeRequest,
    DeleteRequest,
    Delivery,
    MobileLineInput,
    MobileLineResult,
    MobileLineStatus,
    activation_instructions,
)
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import Settings, get_settings
from pbxops.runtime.temporal import connect, unreachable

_COLOURS = {"grey": "grey62", "green": "green", "red": "red", "none": "dim"}
PROCEDURE = Procedure.MOBILE_LINE

app = typer.Typer(
    name="mobile",
    help=(
        "Mobile lines (eSIM): provision a line, issue activation codes, handle a lost or stolen "
        "phone, delete a device.\n\n"
        "Start with `pbxops mobile provision --tenant acme --user u3`; the user receives the QR "
        "code by email (or you get the code to hand over when the organisation suppresses "
        "emails). `pbxops mobile status --device D` shows the device's status and colour: "
        "pending activation (grey), online (green), offline (red)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
DeviceOpt = Annotated[str, typer.Option("--device", "-d", help="Device id, e.g. `md-1a2b3c4d5e`.")]
PngOpt = Annotated[
    Path | None,
    typer.Option("--png", help="When you get the code: save its QR code as a PNG file here."),
]
QrOpt = Annotated[
    bool, typer.Option("--qr", help="When you get the code: show its QR code in the terminal.")
]


# --- starting and reaching the line's workflow ------------------------------------------------


async def _client(device_id: str) -> tuple[Client, Settings]:
    """A client for the device's workflow: the id is checked first, so a bad one is refused
    before anything is reached (even with no Temporal server up)."""
    check_id(device_id, "device id")
    settings = get_settings()
    return await connect(settings), settings


def _handle(client: Client, device_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(PROCEDURE.workflow_id(check_id(device_id, "device id")))


async def _require_running(client: Client, device_id: str) -> WorkflowHandle[Any, Any]:
    handle = _handle(client, device_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        if "not found" in str(err).lower():
            raise OperatorError(
                f"no mobile line with device id '{device_id}' (see `pbxops mobile list`)"
            ) from err
        raise
    if described.status != WorkflowExecutionStatus.RUNNING:
        closed = described.status.name.lower() if described.status else "closed"
        reason = "is deleted" if closed == "completed" else f"has no live workflow ({closed})"
        raise OperatorError(f"mobile device '{device_id}' {reason}")
    return handle


def _update_error(err: WorkflowUpdateFailedError) -> OperatorError:
    cause: BaseException | None = err.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    return OperatorError(cause.message if isinstance(cause, ApplicationError) else str(err))


async def _status(handle: WorkflowHandle[Any, Any]) -> MobileLineStatus:
    try:
        return await handle.query("status", result_type=MobileLineStatus)
    except RPCError as err:
        if unreachable(err):
            raise  # the server is away, not the worker: the CLI's one sentence for it
        raise OperatorError(
            f"cannot read the status of {handle.id} (is the worker running?): {err}"
        ) from err


async def _wait_for_first_code(
    handle: WorkflowHandle[Any, Any], procedures: Procedures, within: float = 60
) -> MobileLineStatus:
    async def read() -> MobileLineStatus | None:
        try:
            return await handle.query("status", result_type=MobileLineStatus)
        except RPCError:
            return None  # no worker has picked the line up yet

    spinner = render.out.status("provisioning the line…") if sys.stdout.isatty() else _nothing()
    with spinner, contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            # The line shows "pending-activation" (a search-attribute upsert) once its code is out.
            async with contextlib.aclosing(
                statuses(handle, read, search_attributes_upserted)
            ) as changes:
                async for current in changes:
                    if current is not None and current.code is not None:
                        return current
            try:  # it closed without a code
                await handle.result()
            except WorkflowFailureError as err:
                url = procedures.url(handle.id, handle.result_run_id)
                raise OperatorError(f"provisioning failed: {failure_message(err)} ({url})") from err
    raise OperatorError(
        f"the line's workflow did not issue a code within {within:.0f}s (is the worker "
        f"running?); follow it at {procedures.url(handle.id, handle.result_run_id)}"
    )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# --- showing a code to the operator -----------------------------------------------------------


def _show_code(code: dict[str, Any], png: Path | None, qr: bool) -> None:
    device = code["device"]
    user = code["user"]
    render.out.print(
        f"[bold]Activation data[/] for device {code['device_id']} (line {device['number']}), "
        f"user {user['name']} <{user['email']}>: copy, email or print it for the user."
    )
    render.out.print(
        activation_instructions(
            smdp_address=code["smdp_address"],
            matching_id=code["matching_id"],
            number=device["number"],
            expires_at=datetime.fromisoformat(code["expires_at"].replace("Z", "+00:00")),
        ),
        markup=False,
    )
    if png is not None:
        image = io.BytesIO()
        _qr(code).save(image, kind="png", scale=8, border=4)
        files.write_output(png, image.getvalue(), "--png")
        render.out.print(f"QR code saved to {png}")
    if qr:
        sys.stdout.flush()
        _qr(code).terminal(out=sys.stdout, compact=True)


def _qr(code: dict[str, Any]) -> segno.QRCode:
    return segno.make(code["activation_code"], error="m", micro=False)


def _code_json(code: dict[str, Any]) -> dict[str, Any]:
    return {
        key: code[key]
        for key in ("code_id", "smdp_address", "matching_id", "activation_code", "expires_at")
    }


async def _operator_code(device_id: str, code_id: str, settings: Settings) -> dict[str, Any]:
    """Read the code the workflow just issued from the platform (never through Temporal)."""
    async with PlatformApi(settings) as platform:
        code = await platform.current_code(device_id)
    if code["code_id"] != code_id:
        raise OperatorError(
            f"the platform's current code of '{device_id}' is {code['code_id']}, not {code_id}: "
            "a newer code was issued meanwhile (see `pbxops mobile status`)"
        )
    return code


async def _report_code(
    outcome: CodeOutcome,
    settings: Settings,
    url: str,
    *,
    as_json: bool,
    png: Path | None,
    qr: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    code: dict[str, Any] | None = None
    if outcome.delivery is Delivery.OPERATOR:
        code = await _operator_code(outcome.device_id, outcome.code_id, settings)
    if as_json:
        render.emit_json(
            {
                **(extra or {}),
                "url": url,
                "outcome": outcome,
                "activation": _code_json(code) if code else None,
            }
        )
        return
    render.out.print(
        f"activation code [bold]{outcome.code_id}[/] issued {render.when(outcome.issued_at)}, "
        f"expires [bold]{render.when(outcome.expires_at)}[/]; the device is "
        f"{outcome.status.value.replace('_', ' ')}"
    )
    if code is None:
        render.out.print("[green]emailed to the user[/] with the QR code and the instructions")
    else:
        render.out.print(f"[yellow]not emailed[/] ({outcome.delivery_note}):")
        _show_code(code, png, qr)
    render.link(url)


# --- commands -----------------------------------------------------------------------------------


@app.command()
@run_async
async def provision(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id, e.g. `acme`.")],
    user: Annotated[str, typer.Option("--user", "-u", help="The user's id on the platform.")],
    as_json: JsonOpt = False,
    png: PngOpt = None,
    qr: QrOpt = False,
    by: ByOpt = None,
) -> None:
    """Give a user a mobile line: a licence from the organisation's pool and a first activation
    code (valid 90 days, usable once), emailed to the user with its QR code.

    A new device id is made and its workflow `mobile-line/<device id>` starts; it lives until the
    device is deleted. No licence left in the pool, an unknown user or a user who already has a
    line: refused before anything starts.
    """
    check_tenant_id(tenant)
    check_id(user, "user id")
    _check_png(png)
    settings = get_settings()
    async with PlatformApi(settings) as platform:
        service = (await platform.call("GET", f"/pbx/tenants/{quote(tenant, safe='')}"))["service"]
        # Early and friendly only: the platform refuses the line on its own (lifecycle table).
        if (refused := refusal(tenant, service["state"], Action.NEW_MOBILE_LINE)) is not None:
            raise OperatorError(refused)
        users = await platform.call("GET", f"/pbx/tenants/{quote(tenant, safe='')}/users")
        if user not in {u["id"] for u in users}:
            raise OperatorError(f"user '{user}' not found in tenant '{tenant}'")
        path = f"/pbx/tenants/{quote(tenant, safe='')}/mobile"
        pool = await platform.call("GET", path)
        lines = await platform.call("GET", f"{path}/devices", params={"user_id": user})
    live = [line for line in lines if line["status"] != "deleted"]
    if live:
        raise OperatorError(
            f"user '{user}' of tenant '{tenant}' already has mobile line '{live[0]['id']}' "
            f"(pbxops mobile status --device {live[0]['id']})"
        )
    if pool["licences_available"] <= 0:
        raise OperatorError(
            f"no mobile-line licence left in the pool of tenant '{tenant}' "
            f"({pool['licences_used']} of {pool['licences_total']} in use)"
        )
    payload = checked(
        MobileLineInput,
        device_id=f"md-{secrets.token_hex(5)}",
        tenant_id=tenant,
        user_id=user,
        code_validity=settings.mobile_code_validity,
        max_history_events=settings.mobile_max_history_events,
    )

    client = await connect(settings)
    procedures = Procedures(client, settings)
    # A random device id: a second start under it could only be a retry of this very command.
    started = await procedures.start(
        PROCEDURE,
        payload.device_id,
        tenant,
        payload,
        f"Mobile line {payload.device_id} of {tenant}",
        f"Device **{payload.device_id}** of tenant **{tenant}**, user `{user}`; provisioned from "
        "the pbxops CLI. Lives until the device is deleted.",
        started_by=who(settings, by),
        step="provisioning",
    )
    workflow_id, url = started.workflow_id, started.url
    handle = client.get_workflow_handle(workflow_id, run_id=started.run_id)
    if not as_json:
        render.out.print(f"[bold green]started[/] mobile line  [bold]{workflow_id}[/]")
        render.link(url, "  watch it in Temporal")
    current = await _wait_for_first_code(handle, procedures)
    assert current.code is not None
    outcome = CodeOutcome(
        device_id=payload.device_id,
        code_id=current.code.code_id,
        status=current.device_status,
        delivery=current.code.delivery,
        delivery_note=current.code.delivery_note,
        issued_at=current.code.issued_at,
        expires_at=current.code.expires_at,
    )
    if not as_json:
        render.out.print(
            f"device [bold]{payload.device_id}[/] (line {current.number}) assigned to user "
            f"{user}; {plural(pool['licences_available'] - 1, 'licence')} left in the pool"
        )
    await _report_code(
        outcome,
        settings,
        url,
        as_json=as_json,
        png=png,
        qr=qr,
        extra={
            "workflow_id": workflow_id,
            "device_id": payload.device_id,
            "number": current.number,
        },
    )


def _check_png(png: Path | None) -> None:
    """Before a licence is taken or a code issued: the QR code will be writable."""
    if png is not None:
        files.check_output(png, "--png")


async def _code_update(
    name: str, device: str, as_json: bool, png: Path | None, qr: bool, by: str | None
) -> None:
    _check_png(png)
    client, settings = await _client(device)
    handle = await _require_running(client, device)
    try:
        outcome = await handle.execute_update(
            name, CodeRequest(requested_by=who(settings, by)), result_type=CodeOutcome
        )
    except WorkflowUpdateFailedError as err:
        raise _update_error(err) from err
    url = await Procedures(client, settings).current_url(handle.id)
    await _report_code(
        outcome, settings, url, as_json=as_json, png=png, qr=qr, extra={"workflow_id": handle.id}
    )


@app.command("new-code")
@run_async
async def new_code(
    device: DeviceOpt,
    as_json: JsonOpt = False,
    png: PngOpt = None,
    qr: QrOpt = False,
    by: ByOpt = None,
) -> None:
    """Generate a new activation code: only while the device is **pending activation** (the code
    did not work, expired or never arrived; or the user removed the line to move it to a new
    phone). It invalidates every earlier code and is delivered like the first one."""
    await _code_update("new_code", device, as_json, png, qr, by)


@app.command("lost-stolen")
@run_async
async def lost_stolen(
    device: DeviceOpt,
    as_json: JsonOpt = False,
    png: PngOpt = None,
    qr: QrOpt = False,
    by: ByOpt = None,
) -> None:
    """The phone was lost or stolen: deactivate the business line on it and issue new
    activation data for the replacement phone (from any status but deleted)."""
    await _code_update("lost_stolen", device, as_json, png, qr, by)


@app.command()
@run_async
async def delete(
    device: DeviceOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
    by: ByOpt = None,
) -> None:
    """Delete the device: its licence returns to the pool, calls from the phone's dialler stop,
    and the user is emailed to remove the deactivated line from the phone by hand."""
    client, settings = await _client(device)
    handle = await _require_running(client, device)
    if not yes:
        if not sys.stdin.isatty():
            raise OperatorError(f"add --yes to delete mobile device '{device}' without a prompt")
        typer.confirm(f"Delete mobile device '{device}'? Its line stops working", abort=True)
    try:
        result = await handle.execute_update(
            "delete", DeleteRequest(requested_by=who(settings, by)), result_type=MobileLineResult
        )
    except WorkflowUpdateFailedError as err:
        raise _update_error(err) from err
    url = await Procedures(client, settings).current_url(handle.id)
    if as_json:
        render.emit_json({"workflow_id": handle.id, "url": url, "result": result})
        return
    told = (
        "the user was emailed to remove the line from the phone by hand"
        if result.user_notified
        else "[yellow]the user was NOT emailed[/]: tell them to remove the line from the phone"
    )
    render.out.print(
        f"[bold green]deleted[/] mobile device {device}; its licence is back in the pool "
        f"({result.licences_available} available); {told}"
    )
    render.link(url)


@app.command()
@run_async
async def status(device: DeviceOpt, as_json: JsonOpt = False) -> None:
    """Show the device: status and colour, its activation code's issue and expiry, last events."""
    client, settings = await _client(device)
    handle = _handle(client, device)
    try:
        described = await handle.describe()
    except RPCError as err:
        if "not found" in str(err).lower():
            raise OperatorError(f"no mobile line with device id '{device}'") from err
        raise
    current = await _status(handle)
    url = await Procedures(client, settings).current_url(handle.id)
    execution = (described.status.name.lower() if described.status else "unknown").replace("_", " ")
    if as_json:
        render.emit_json({"status": current, "execution": execution, "url": url})
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    colour = _COLOURS.get(current.colour, "white")
    table.add_row("device", f"{current.device_id}  (line {current.number or '-'})")
    table.add_row("tenant / user", f"{current.tenant_id} / {current.user_id}")
    table.add_row(
        "status",
        f"[{colour}]●[/] [bold]{current.device_status.value.replace('_', ' ')}[/] "
        f"({current.colour})",
    )
    table.add_row("step", current.step)
    platform_status = await _platform_status(device, settings)
    if platform_status and platform_status != current.device_status.value:
        table.add_row(
            "platform says",
            f"[yellow]{platform_status.replace('_', ' ')}[/] (its event has not reached the "
            "workflow yet)",
        )
    if current.code:
        code = current.code
        state = code.state.value
        if state == "expired":
            state = "[red]code expired[/] (issue a new one: pbxops mobile new-code)"
        table.add_row("activation code", f"{code.code_id}: {state} ({code.reason.value})")
        table.add_row("  issued", render.when(code.issued_at))
        table.add_row("  expires", render.when(code.expires_at))
        table.add_row(
            "  delivered",
            "by email to the user"
            if code.delivery is Delivery.EMAIL
            else f"to the operator ({code.delivery_note})",
        )
    if current.last_event:
        last = current.last_event
        table.add_row("last event", f"{last.kind} at {render.when(last.at)}")
    table.add_row("codes issued", str(current.codes_issued))
    if current.started_by:
        table.add_row("provisioned by", escape(current.started_by))
    for entry in current.audit:  # who changed the line, in order
        table.add_row("changed by", render.changed_by(entry))
    table.add_row("workflow", f"{execution} (run {current.runs})")
    if current.error:
        table.add_row("error", f"[red]{current.error}[/]")
    render.out.print(table)
    render.link(url)


async def _platform_status(device_id: str, settings: Settings) -> str | None:
    """The platform's own view, to show when a phone event is still on its way."""
    try:
        async with PlatformApi(settings) as platform:
            status: str = (await platform.device(device_id))["status"]
            return status
    except OperatorError:
        return None


@app.command()
@run_async
async def code(
    device: DeviceOpt, as_json: JsonOpt = False, png: PngOpt = None, qr: QrOpt = False
) -> None:
    """Print the device's current activation code to copy, email or print for the user (when the
    organisation suppresses emails, or the user lost the email). Read from the platform with your
    credentials; it never passes through Temporal."""
    _check_png(png)
    async with PlatformApi(get_settings()) as platform:
        current = await platform.current_code(check_id(device, "device id"))
    if as_json:
        render.emit_json(_code_json(current))
    else:
        _show_code(current, png, qr)


@app.command("list")
@run_async
async def list_lines(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id, e.g. `acme`.")],
    as_json: JsonOpt = False,
) -> None:
    """List the tenant's mobile-line devices and its licence pool (from the platform)."""
    check_tenant_id(tenant)
    async with PlatformApi(get_settings()) as platform:
        path = f"/pbx/tenants/{quote(tenant, safe='')}/mobile"
        pool = await platform.call("GET", path)
        lines = await platform.call("GET", f"{path}/devices")
    if as_json:
        render.emit_json({"pool": pool, "devices": lines})
        return
    lines_table(tenant, pool, lines)
    if pool["suppress_emails"]:
        render.out.print("[yellow]this organisation suppresses emails[/]: codes go to the operator")


def lines_table(tenant: str, pool: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    table = render.table(
        f"Mobile lines of {tenant}: {pool['licences_used']} of "
        f"{plural(pool['licences_total'], 'licence')} in use"
    )
    table.add_column("device", overflow="fold", min_width=10)
    table.add_column("user", overflow="fold", max_width=12)
    table.add_column("number", no_wrap=True)
    table.add_column("status", overflow="fold", max_width=20)
    table.add_column("code", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("expires", no_wrap=True)
    table.add_column("last event", max_width=16)  # wraps at spaces
    for line in lines:
        latest = line.get("latest_code") or {}
        colour = _COLOURS.get(line["colour"], "white")
        table.add_row(
            line["id"],
            line["user_id"],
            line["number"],
            f"[{colour}]●[/] {line['status'].replace('_', ' ')}",
            latest.get("state", "-"),
            latest.get("expires_at", "-")[:10],
            line.get("last_event") or "-",
        )
    render.out.print(table)
