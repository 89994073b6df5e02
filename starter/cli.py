"""``pbxops``: the operator's command line for the provider's long-running procedures.

Every start prints the workflow id and its Temporal UI link; ``--wait`` follows the procedure live;
``--json`` prints machine-readable output. Errors are one line on stderr with exit code 1.
"""

import asyncio
import os
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from temporalio.client import WorkflowExecutionStatus

from contracts.pbx import TransitionKind
from contracts.procedures import Procedure, ProcedureStatus
from contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
from runtime.search_attributes import register_search_attributes
from runtime.settings import get_settings
from runtime.temporal import TemporalUnreachable, connect
from starter import render
from starter.errors import OperatorError
from starter.platform import PlatformApi, check_tenant_id
from starter.procedures import Procedures, Started

app = typer.Typer(
    name="pbxops",
    help=(
        "Run the Cloud PBX provider's long-running procedures on Temporal.\n\n"
        "Start with `pbxops deactivate --tenant acme --wait`, watch everything in the Temporal "
        "UI (http://127.0.0.1:8233 with `make up`), and see `pbxops list` for what is running."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id, e.g. `acme`.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", "-w", help="Follow the procedure live until it ends.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]

T = TypeVar("T")


def _run(command: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Let typer call an async command body."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(command(*args, **kwargs))

    return wrapper


# --- deactivation / reactivation -------------------------------------------------------------


async def _transition(
    kind: TransitionKind, tenant_id: str, wait: bool, notify: str | None, as_json: bool
) -> None:
    settings = get_settings()
    procedure = (
        Procedure.DEACTIVATION if kind is TransitionKind.DEACTIVATION else (Procedure.REACTIVATION)
    )
    check_tenant_id(tenant_id)
    try:
        payload = ServiceTransitionInput(
            tenant_id=tenant_id,
            requested_by=notify,
            sla=settings.deactivation_sla,
            hard_cap=settings.deactivation_hard_cap,
        )
    except ValidationError as err:
        raise OperatorError(_first_error(err)) from err

    # Check what we can before starting anything: bad input must change nothing.
    async with PlatformApi(settings) as platform:
        tenant = await platform.tenant(tenant_id)
    procedures = Procedures(await connect(settings), settings)
    # One procedure per service at a time; its link says where the running one is.
    if running := await procedures.running_for_tenant(tenant_id):
        raise OperatorError(
            f"tenant '{tenant_id}' already has a running {running[0].procedure}: {running[0].url}"
        )
    state = tenant["service"]["state"]
    if state != kind.from_state.value:
        raise OperatorError(
            f"the service of tenant '{tenant_id}' is {state}; a {kind.value} needs it "
            f"{kind.from_state.value}"
        )
    started = await procedures.start(
        procedure,
        tenant_id,
        tenant_id,
        payload,
        summary=f"{procedure.label.capitalize()} of {tenant_id}",
        details=(
            f"Tenant **{tenant_id}** ({tenant['name']}), requested from the pbxops CLI.\n\n"
            f"Support ticket if not {kind.target_state.value} within "
            f"{int(payload.sla.total_seconds() // 60)} minutes."
        ),
    )
    await _report_start(procedures, started, wait, as_json, ServiceTransitionResult)


async def _report_start(
    procedures: Procedures,
    started: Started,
    wait: bool,
    as_json: bool,
    result_type: type[ServiceTransitionResult],
) -> None:
    if as_json and not wait:
        render.emit_json(
            {"workflow_id": started.workflow_id, "run_id": started.run_id, "url": started.url}
        )
        return
    if not as_json:
        render.started(started)
    if not wait:
        if not as_json:
            render.out.print(f"  follow it: pbxops status {started.workflow_id}")
        return
    last_step: list[str] = []

    def show(status: ProcedureStatus) -> None:
        line = render.status_line(status)
        if not as_json and (not last_step or last_step[-1] != status.step):
            render.out.print(
                f"  → {status.step}: {status.step_detail.splitlines()[0]}".replace(
                    "**", ""
                ).replace("`", "")
            )
            last_step.append(status.step)
        spinner.update(line)

    with render.out.status("starting…") as spinner:
        result = await procedures.watch(started, show, result_type)
    if as_json:
        render.emit_json(
            {
                "workflow_id": started.workflow_id,
                "run_id": started.run_id,
                "url": started.url,
                "result": result,
            }
        )
        return
    assert isinstance(result, ServiceTransitionResult)
    escalated = f" (escalated: ticket {result.ticket_id}, now resolved)" if result.escalated else ""
    render.out.print(
        f"[bold green]done[/] the service of {result.tenant_id} is [bold]{result.state.value}[/]"
        f" after {result.took_seconds:.0f}s{escalated}"
    )


@app.command()
@_run
async def deactivate(
    tenant: TenantOpt,
    wait: WaitOpt = False,
    notify: Annotated[
        str | None, typer.Option(help="Email the result to this address when it completes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deactivate a tenant's Cloud PBX service (switch off, block access, keep data and billing).

    The platform may take up to 15 minutes; past that a support ticket is opened automatically and
    resolved when the service finally shows `deactivated`.
    """
    await _transition(TransitionKind.DEACTIVATION, tenant, wait, notify, as_json)


@app.command()
@_run
async def reactivate(
    tenant: TenantOpt,
    wait: WaitOpt = False,
    notify: Annotated[
        str | None, typer.Option(help="Email the result to this address when it completes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reactivate a deactivated service (the reverse path: same SLA and escalation)."""
    await _transition(TransitionKind.REACTIVATION, tenant, wait, notify, as_json)


# --- observing ---------------------------------------------------------------------------------


@app.command()
@_run
async def status(
    workflow_id: Annotated[
        str | None, typer.Argument(help="Workflow id, e.g. `pbx-deactivation/acme`.")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Show the tenant's latest procedure.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one procedure: step, SLA deadline, escalation, outcome and its Temporal UI link."""
    if (workflow_id is None) == (tenant is None):
        raise OperatorError("give either a WORKFLOW_ID or --tenant, not both or neither")
    settings = get_settings()
    procedures = Procedures(await connect(settings), settings)
    run_id = None
    if tenant is not None:
        latest = await procedures.latest_for_tenant(check_tenant_id(tenant))
        workflow_id, run_id = latest.workflow_id, latest.run_id
    assert workflow_id is not None
    current = await procedures.status(workflow_id, run_id)
    description = await procedures.handle(workflow_id, run_id).describe()
    closed_as = (
        None
        if description.status == WorkflowExecutionStatus.RUNNING
        else (description.status.name.lower() if description.status else None)
    )
    url = procedures.url(workflow_id, description.run_id)
    if as_json:
        render.emit_json({"status": current, "execution": closed_as or "running", "url": url})
    else:
        render.status_panel(current, url, closed_as)


@app.command("list")
@_run
async def list_procedures(
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Include finished procedures (latest 200).")
    ] = False,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List running procedures with their step, SLA deadline and escalation."""
    settings = get_settings()
    procedures = Procedures(await connect(settings), settings)
    names = ", ".join(f"'{p.value}'" for p in Procedure)
    query = f"ProcedureName IN ({names})"
    if not all_:
        query += " AND ExecutionStatus = 'Running'"
    if tenant:
        query += f" AND TenantId = '{check_tenant_id(tenant)}'"
    items = await procedures.list(query)
    if as_json:
        render.emit_json([item.__dict__ for item in items])
    elif not items:
        render.out.print("no procedure is running" if not all_ else "no procedure found")
    else:
        render.procedures_table(items, "Procedures" if all_ else "Running procedures")


@app.command()
@_run
async def tickets(
    status_filter: Annotated[
        str, typer.Option("--status", help="`open`, `resolved` or `all`.")
    ] = "open",
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the support tickets procedures opened, each with its link to the workflow."""
    if status_filter not in ("open", "resolved", "all"):
        raise OperatorError(f"--status must be open, resolved or all, not '{status_filter}'")
    async with PlatformApi(get_settings()) as platform:
        found = await platform.tickets(None if status_filter == "all" else status_filter, tenant)
    if as_json:
        render.emit_json(found)
    elif not found:
        render.out.print(f"no {'' if status_filter == 'all' else status_filter + ' '}tickets")
    else:
        render.tickets_table(found)


@app.command()
@_run
async def setup() -> None:
    """Register pbxops' search attributes on a Temporal cluster (the dev server needs nothing).

    For self-hosted clusters. On Temporal Cloud add them with `tcld namespace search-attributes
    add` instead: the operator API is not open there.
    """
    settings = get_settings()
    added, present = await register_search_attributes(await connect(settings))
    render.out.print(
        f"search attributes ready on namespace {settings.temporal_namespace}: "
        f"added {', '.join(added) or 'none'}; already there {', '.join(present) or 'none'}"
    )


# --- procedure command groups (each in its own module: `pbxops <group> …`) ----------------------
# Add one line per group here, e.g. app.add_typer(mobile.app, name="mobile").


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{field}: {first['msg']}"


def main() -> None:
    """Entry point: every error an operator can cause or fix is one line, exit code 1."""
    try:
        app()
    except (OperatorError, TemporalUnreachable) as err:
        render.err.print(f"[red]error:[/] {err}")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        render.err.print("stopped watching; the procedure itself goes on (see `pbxops list`)")
        raise SystemExit(130) from None
    except Exception as err:
        # A bug or an outage we did not foresee: still one line, the details on demand.
        if os.environ.get("PBXOPS_DEBUG"):
            raise
        render.err.print(
            f"[red]error:[/] unexpected {type(err).__name__}: {err} "
            "(run again with PBXOPS_DEBUG=1 for the details)"
        )
        raise SystemExit(1) from None
