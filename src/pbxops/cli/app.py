"""``pbxops``: the operator's command line for the provider's long-running procedures.

Every start prints the workflow id and its Temporal UI link; ``--wait`` follows the procedure live;
``--json`` prints machine-readable output. Errors are one line on stderr with exit code 1 (2 for
a command line that does not parse, pointing at the command's ``--help``).

Over 400 lines: the root commands (deactivate, reactivate, status, list, tickets, setup, worker)
and the one place every error becomes one line on stderr; each group is a module of its own.
"""

import contextlib
import os
import sys
from typing import Annotated, NoReturn

import typer
from temporalio.client import WorkflowExecutionStatus
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from typer.main import get_command

from pbxops.cli import (
    billing,
    cdr,
    contacts,
    customer,
    deletion,
    mobile,
    number_removal,
    render,
    support,
    ui_views,
)
from pbxops.cli.errors import OperatorError
from pbxops.cli.follow import follow
from pbxops.cli.identity import ByOpt, who
from pbxops.cli.options import JsonOpt, TenantOpt, WaitOpt, run_async
from pbxops.cli.platform import PlatformApi, check_tenant_id
from pbxops.cli.preflight import tenant_ready_for
from pbxops.cli.procedures import Procedures, status_type
from pbxops.cli.validation import checked
from pbxops.contracts.lifecycle import Action
from pbxops.contracts.pbx import TransitionKind
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
from pbxops.contracts.wording import minutes_or_hours
from pbxops.runtime.search_attributes import register_search_attributes
from pbxops.runtime.settings import SettingsInvalid, get_settings
from pbxops.runtime.temporal import TemporalUnreachable, connect, quiet_runtime, unreachable

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

# --- deactivation / reactivation -------------------------------------------------------------


_ACTIONS = {
    TransitionKind.DEACTIVATION: Action.DEACTIVATE,
    TransitionKind.REACTIVATION: Action.REACTIVATE,
}


async def _transition(
    kind: TransitionKind,
    tenant_id: str,
    wait: bool,
    notify: str | None,
    as_json: bool,
    by: str | None = None,
) -> None:
    settings = get_settings()
    procedure = Procedure.DEACTIVATION
    if kind is TransitionKind.REACTIVATION:
        procedure = Procedure.REACTIVATION
    payload = checked(
        ServiceTransitionInput,
        tenant_id=check_tenant_id(tenant_id),
        requested_by=notify,
        started_by=who(settings, by or notify),
        sla=settings.deactivation_sla,
        hard_cap=settings.deactivation_hard_cap,
    )
    tenant, procedures = await tenant_ready_for(settings, tenant_id, _ACTIONS[kind])
    started = await procedures.begin_lifecycle(
        procedure,
        tenant_id,
        payload,
        summary=f"{procedure.label.capitalize()} of {tenant_id}",
        details=(
            f"Tenant **{tenant_id}** ({tenant['name']}), requested from the pbxops CLI.\n\n"
            f"Support ticket if not {kind.target_state.value} within "
            f"{minutes_or_hours(payload.sla)}."
        ),
        started_by=payload.started_by,
    )
    render.report_start(started, as_json, wait)
    if not wait:
        return
    result = await follow(procedures, started, ServiceTransitionResult, as_json)
    assert isinstance(result, ServiceTransitionResult)
    if as_json:
        render.emit_json({**render.started_json(started), "result": result})
        return
    escalated = f" (escalated: ticket {result.ticket_id}, now resolved)" if result.escalated else ""
    render.out.print(
        f"[bold green]done[/] the service of {result.tenant_id} is [bold]{result.state.value}[/]"
        f" after {result.took_seconds:.0f}s{escalated}"
    )


@app.command()
@run_async
async def deactivate(
    tenant: TenantOpt,
    wait: WaitOpt = False,
    notify: Annotated[
        str | None, typer.Option(help="Email the result to this address when it completes.")
    ] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deactivate a tenant's Cloud PBX service (switch off, block access, keep data and billing).

    The platform may take up to 15 minutes; past that a support ticket is opened automatically and
    resolved when the service finally shows `deactivated`.
    """
    await _transition(TransitionKind.DEACTIVATION, tenant, wait, notify, as_json, by)


@app.command()
@run_async
async def reactivate(
    tenant: TenantOpt,
    wait: WaitOpt = False,
    notify: Annotated[
        str | None, typer.Option(help="Email the result to this address when it completes.")
    ] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reactivate a deactivated service (the reverse path: same SLA and escalation)."""
    await _transition(TransitionKind.REACTIVATION, tenant, wait, notify, as_json, by)


# --- observing ---------------------------------------------------------------------------------


@app.command()
@run_async
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
    description = await procedures.describe(workflow_id, run_id)
    run_id = description.run_id  # the status and the link of the same run
    current = await procedures.status(workflow_id, run_id, status_type(description.workflow_type))
    if current.started_by is None:  # recorded at the start (memo) by every pbxops start
        with contextlib.suppress(Exception):
            current.started_by = await description.memo_value("started_by", None)
    closed_as = (
        None
        if description.status == WorkflowExecutionStatus.RUNNING
        else (description.status.name.lower() if description.status else None)
    )
    url = procedures.url(workflow_id, run_id)
    if as_json:
        render.emit_json({"status": current, "execution": closed_as or "running", "url": url})
    else:
        render.status_panel(current, url, closed_as)


@app.command("list")
@run_async
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
        return
    if not items:
        render.out.print("no procedure is running" if not all_ else "no procedure found")
    else:
        render.procedures_table(items, "Procedures" if all_ else "Running procedures")
    # The same lists in the Temporal UI, one click away.
    views = [ui_views.escalated_and_running()]
    if tenant:
        views.append(ui_views.running_for_tenant(tenant))
    render.out.print("in the Temporal UI:")
    for view in views:
        render.link(ui_views.url(settings, view), f"  {view.name.lower()}")


@app.command("ui-views")
def ui_views_setup(
    tenants: Annotated[
        list[str] | None,
        typer.Option("--tenant", "-t", help="Also a view of this tenant's running procedures."),
    ] = None,
) -> None:
    """Set up the Temporal UI for the delivery team, once per browser: saved views and columns.

    Open each printed link once: the UI keeps its list as a saved view (in that browser's
    storage; opening it again adds a second copy). Then add the pbxops columns with Configure
    Columns on the Workflows page. `pbxops list` prints the everyday links.
    """
    settings = get_settings()
    views = [ui_views.escalated_and_running(), ui_views.running_procedures()]
    views += [ui_views.running_for_tenant(check_tenant_id(t)) for t in tenants or []]
    render.out.print("Open each link once to keep it as a saved view in the Temporal UI:")
    for view in views:
        render.link(ui_views.url(settings, view, save=True), f"  {view.name}")
    render.out.print(
        "Then, on the Workflows page: Configure Columns (the sliders button below the list) → add "
        + ", ".join(ui_views.COLUMNS)
        + "."
    )


@app.command()
@run_async
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
@run_async
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


@app.command()
def worker() -> None:
    """Run a worker: every workflow and activity of pbxops on the task queue, until Ctrl-C.

    The same as `python -m pbxops.worker`. Settings come from the environment
    (docs/configuration.md); `make up` runs one under a supervisor that restarts it.
    """
    # Imported here: the worker pulls in every activity and the SDK's worker machinery, which no
    # other command needs.
    from pbxops.worker import main as run_worker

    run_worker()


# --- procedure command groups (each in its own module: `pbxops <group> …`) ----------------------
# Add one line per group here, e.g. app.add_typer(mobile.app, name="mobile").
app.add_typer(number_removal.app, name="number")
app.add_typer(mobile.app, name="mobile")
app.command("cdr")(cdr.cdr)
app.add_typer(customer.app, name="customer")
app.add_typer(billing.app, name="billing")
app.add_typer(contacts.app, name="contacts")
app.command("report-problem")(support.report_problem)
deletion.register(app)  # `pbxops delete …` and `pbxops deliveries`


# typer 0.29 vendors click privately (``typer._click``); earlier versions use ``click``. Either
# way the public ``typer.BadParameter`` is a usage error, so its ancestors name the classes.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _command_path(args: list[str]) -> str:
    """``pbxops mobile status`` from the arguments, for a usage error raised without a context
    (e.g. ``Option '--tenant' requires an argument``)."""
    command = get_command(app)
    path = ["pbxops"]
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        command = sub
    return " ".join(path)


def _text(err: Exception) -> str:
    """What click would say of one of its errors (its ``format_message``)."""
    return str(getattr(err, "format_message", err.__str__)())


def _usage_error(err: Exception, args: list[str]) -> NoReturn:
    """One line, as every error, pointing at the command's --help; exit code 2, as click's."""
    if type(err).__name__ == "NoArgsIsHelpError":  # the name typer itself checks (rich_utils)
        # `pbxops`, `pbxops mobile`: with rich, typer has printed the help while raising this;
        # without, the help is the message.
        if _text(err).strip():
            render.out.print(_text(err), markup=False, highlight=False)
        raise SystemExit(2)
    ctx = getattr(err, "ctx", None)
    command = ctx.command_path if ctx is not None else _command_path(args)
    render.error(f"{_text(err).strip().removesuffix('.')} (see '{command} --help')")
    raise SystemExit(2)


def _unexpected(err: Exception) -> NoReturn:
    """A bug or an outage we did not foresee: still one line, the details on demand."""
    if os.environ.get("PBXOPS_DEBUG"):
        raise err
    render.error(
        f"unexpected {type(err).__name__}: {err} (run again with PBXOPS_DEBUG=1 for the details)"
    )
    raise SystemExit(1) from None


def _main(args: list[str] | None = None) -> None:
    """Every error an operator can cause or fix is one line: exit code 1, or 2 for a command
    line that does not parse (an unknown or missing option, a bad option value)."""
    args = sys.argv[1:] if args is None else args
    if not os.environ.get("PBXOPS_DEBUG"):  # with it, the SDK core's own logs help a bug report
        Runtime.set_default(quiet_runtime(), error_if_already_set=False)
    try:
        # Not standalone: usage errors come back here instead of typer's multi-line box.
        code = app(args, prog_name="pbxops", standalone_mode=False)
    except (OperatorError, SettingsInvalid, TemporalUnreachable) as err:
        render.error(str(err))
        raise SystemExit(1) from None
    except UsageError as err:
        _usage_error(err, args)
    except ClickException as err:
        render.error(_text(err))
        raise SystemExit(getattr(err, "exit_code", 1)) from None
    except typer.Abort:  # "no" to a confirmation prompt
        render.error("aborted")
        raise SystemExit(1) from None
    except RPCError as err:
        if not unreachable(err):
            _unexpected(err)
        # The server went away mid-command (e.g. during --wait): the sentence every command uses.
        render.error(str(TemporalUnreachable.at(get_settings().temporal_address)))
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        render.err.print("stopped watching; the procedure itself goes on (see `pbxops list`)")
        raise SystemExit(130) from None
    except Exception as err:
        _unexpected(err)
    # Not standalone, typer returns the code of an `Exit` (`--help`: 0) or the command's value.
    raise SystemExit(code if isinstance(code, int) else 0)


def main() -> None:
    """Entry point: ``_main``, then the process ends with ``os._exit`` once output is flushed.

    A normal interpreter teardown can abort when the Temporal SDK's Rust threads outlive it
    (temporalio/sdk-python#300: "Fatal Python error: PyGILState_Release", exit code 134), which
    would turn a one-line error into a crash dump; found by tests/security/test_bad_input.py.
    """
    code: int | str | None = 0
    try:
        _main()
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # e.g. `pbxops list | head`: the reader left
            stream.flush()
    os._exit(code or 0)
