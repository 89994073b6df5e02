"""``pbxops customer create|update|enable-pbx|show|list``: customer accounts on the reseller
portal (docs/procedures.md#provisioning).

Before anything starts, the CLI reads what the platform knows (reseller, partner users, existing
customers, product types, roles) and validates the whole input against it, reporting every problem
at once, each with its field: bad input starts nothing and changes nothing. The platform checks
again (it is the authority); the CLI only fails fast and clearly.

Over 400 lines: five commands of one group that share the portal reads and the input checks;
splitting them would scatter one procedure's input handling over several modules.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from pbxops.cli import files, render
from pbxops.cli.errors import OperatorError
from pbxops.cli.follow import follow_and_print, run_short

# --by of the starts: who at the provider runs them (in the support-contact commands, --by is
# the partner or admin user who acts, and the operator comes from PBXOPS_OPERATOR).
from pbxops.cli.identity import ByOpt as OperatorOpt
from pbxops.cli.identity import who
from pbxops.cli.options import AccountArg, JsonOpt, WaitOpt, run_async
from pbxops.cli.platform import PlatformApi
from pbxops.cli.procedures import Procedures
from pbxops.cli.validation import checked, validation_errors
from pbxops.contracts.mail import parse_mailbox
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.provisioning import (
    AccountChanges,
    CustomerProvisioningInput,
    CustomerUpdateInput,
    CustomerUpdateResult,
    PbxEnableInput,
    PbxEnableResult,
    ProvisioningResult,
    name_key,
)
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import get_settings
from pbxops.runtime.temporal import connect

app = typer.Typer(
    help=(
        "Provision customer accounts in four steps (details, primary Admin, PBX connection, "
        "roles), then edit, show and list them.\n\n"
        "Start with `pbxops customer create --file customer.yaml --wait` (see "
        "docs/provisioning.md for the file), or give everything as flags."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


# --- customer create ---------------------------------------------------------------------------


def load_file(path: Path) -> dict[str, Any]:
    """The customer file: bounded, UTF-8, no YAML aliases, not too deep (``pbxops.cli.files``)."""
    return files.read_mapping(path, "--file")


def parse_admin(value: str) -> dict[str, str]:
    """``"Giulia Rossi <giulia@acme.example>"`` or a bare address: one mailbox, read strictly
    (``pbxops.contracts.mail.parse_mailbox``), never whatever address a lenient parser finds."""
    try:
        name, address = parse_mailbox(value, "--admin")
    except ValueError as err:
        raise OperatorError(str(err)) from None
    if "@" not in address:
        # Leave it to the model: it answers "Contains an invalid email" with the address.
        return {"name": name or value, "email": address or value}
    return {"name": name or address.split("@")[0], "email": address}


def parse_role(value: str) -> dict[str, Any]:
    """``user@x=Supervisor,Agent``."""
    user, _, roles = value.partition("=")
    if not roles:
        raise OperatorError(f"--role '{value}' must look like user@example.com=Role1,Role2")
    return {"user": user.strip(), "roles": [r.strip() for r in roles.split(",") if r.strip()]}


def merge_flags(data: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Flags override the file: ``customer.name`` style keys, lists replace lists."""
    merged: dict[str, Any] = json.loads(json.dumps(data, default=str))
    for dotted, value in flags.items():
        if value is None or value == []:
            continue
        *parents, leaf = dotted.split(".")
        node = merged
        for parent in parents:
            if not isinstance(node.get(parent), dict):
                node[parent] = {}
            node = node[parent]
        node[leaf] = value
    return merged


async def validated_input(data: dict[str, Any], portal: PlatformApi) -> CustomerProvisioningInput:
    reseller = data.get("reseller")
    context = (await portal.catalog(reseller)).context() if isinstance(reseller, str) else None
    try:
        return CustomerProvisioningInput.model_validate(data, context=context)
    except ValidationError as err:
        raise OperatorError(validation_errors(err)) from err


def _details(inp: CustomerProvisioningInput) -> str:
    c, pbx = inp.customer, inp.pbx
    connection = "disabled until `pbxops customer enable-pbx`" if not pbx.enabled else "enabled"
    return "\n".join(
        [
            f"Customer **{c.name}** for reseller **{inp.reseller}**, from the pbxops CLI.",
            "",
            f"- product type `{c.product_type}`, country {c.country}"
            + (f", trial {plural(c.trial_days, 'day')}" if c.trial else "")
            + (", internal demo (not billed)" if c.internal_demo else ""),
            f"- {plural(len(inp.admins), 'Admin user')} invited by email",
            f"- PBX `{pbx.host}` ({pbx.template}), connection {connection}"
            + (", all sub-accounts monitored" if pbx.auto_provision_sub_accounts else ""),
            f"- {plural(len(inp.support_contacts), 'support contact')}",
            "",
            "A failure part-way undoes every step done.",
        ]
    )


def _print_provisioned(result: ProvisioningResult) -> None:
    render.out.print(
        f"[bold green]done[/] customer [bold]{result.name}[/] is account "
        f"[bold]{result.account_id}[/]"
    )
    if result.connection.value == "monitoring":
        render.out.print(
            f"  {plural(result.users_synced, 'user')} synchronised; monitoring calls and agent "
            "status"
            + (
                f" on {plural(result.sub_accounts_monitored, 'sub-account')} too"
                if result.sub_accounts_monitored
                else ""
            )
        )
    else:
        render.out.print(
            f"  PBX connection {result.connection.value}: enable it with "
            f"`pbxops customer enable-pbx {result.account_id}`"
        )
    render.out.print(f"  invitation emailed to {', '.join(result.invitations_sent)}")
    if result.roles_pending:
        render.out.print(
            f"  roles waiting for their users: {', '.join(result.roles_pending)} "
            "(applied when they are synchronised)"
        )
    if result.trial_ends_at:
        render.out.print(
            f"  trial ends {render.when(result.trial_ends_at)} (timer: {result.trial_workflow_id})"
        )


@app.command("create")
@run_async
async def create(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="YAML or JSON with the four steps (flags override it)."),
    ] = None,
    reseller: Annotated[str | None, typer.Option(help="Reseller id, e.g. `northwind`.")] = None,
    name: Annotated[str | None, typer.Option(help="Customer name (unique per reseller).")] = None,
    product_type: Annotated[
        str | None, typer.Option(help="One the platform publishes (`pbxops customer list`).")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Shown on invoices; empty: the tenant id is shown.")
    ] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2, e.g. `IT`.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free text for whoever supports them.")] = None,
    trial: Annotated[
        bool | None, typer.Option("--trial/--no-trial", help="The customer is trialling.")
    ] = None,
    trial_days: Annotated[int | None, typer.Option(help="Trial length (default 30).")] = None,
    internal_demo: Annotated[
        bool | None,
        typer.Option(help="The reseller's one internal/demo system (never billed)."),
    ] = None,
    admin: Annotated[
        list[str] | None,
        typer.Option(help='Admin user, `"Name <email>"`; repeat for more. Invited by email.'),
    ] = None,
    pbx_host: Annotated[str | None, typer.Option(help="The customer's PBX host.")] = None,
    pbx_template: Annotated[str | None, typer.Option(help="PBX template (`default`).")] = None,
    pbx_disabled: Annotated[
        bool,
        typer.Option(help="Store the connection disabled: no connect, no import until enabled."),
    ] = False,
    auto_provision_sub_accounts: Annotated[
        bool, typer.Option(help="Monitor calls on every sub-account of the PBX.")
    ] = False,
    contact: Annotated[
        list[str] | None,
        typer.Option(help="Support contact: partner user id or email; repeat for more."),
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="`user@x=Supervisor,Agent`; repeat for more.")
    ] = None,
    default_role: Annotated[
        list[str] | None, typer.Option(help="Roles of everyone not named (default `User`).")
    ] = None,
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
    by: OperatorOpt = None,
) -> None:
    """Provision a customer account: details, primary Admin(s), PBX connection, roles.

    Everything is checked before anything starts, and every problem is reported at once. With the
    connection enabled, all PBX users are synchronised (progress with `--wait`) and monitoring of
    calls and agent status starts. A failure part-way undoes what was done.
    """
    settings = get_settings()
    data = load_file(file) if file else {}
    flags: dict[str, Any] = {
        "reseller": reseller,
        "customer.name": name,
        "customer.product_type": product_type,
        "customer.reference": reference,
        "customer.country": country,
        "customer.notes": notes,
        "customer.trial": trial,
        "customer.trial_days": trial_days,
        "customer.internal_demo": internal_demo,
        "admins": [parse_admin(a) for a in admin or []],
        "pbx.host": pbx_host,
        "pbx.template": pbx_template,
        "pbx.enabled": False if pbx_disabled else None,
        "pbx.auto_provision_sub_accounts": True if auto_provision_sub_accounts else None,
        "support_contacts": contact or [],
        "roles.assignments": [parse_role(r) for r in role or []],
        "roles.default_roles": default_role or [],
    }
    merged = merge_flags(data, flags)
    async with PlatformApi(settings) as portal:
        inp = await validated_input(merged, portal)
    procedures = Procedures(await connect(settings), settings)
    started = await procedures.start(
        Procedure.PROVISIONING,
        inp.business_key,
        "",
        inp,
        summary=f"Provisioning of customer {inp.customer.name} for reseller {inp.reseller}",
        details=_details(inp),
        started_by=who(settings, by),
    )
    render.report_start(started, as_json, wait)
    if wait:
        result = await follow_and_print(procedures, started, ProvisioningResult, as_json)
        assert isinstance(result, ProvisioningResult)
        if not as_json:
            _print_provisioned(result)


# --- customer update / enable-pbx --------------------------------------------------------------


async def _check_changes(
    portal: PlatformApi, account: dict[str, Any], changes: AccountChanges
) -> None:
    """The platform's refusals, found before anything starts."""
    problems = []
    given = changes.given()
    if (new := given.get("product_type")) and new != account["product_type"]:
        types = {p.id: p for p in await portal.product_types()}
        if new not in types:
            problems.append(
                f"product-type: unknown product type '{new}'; the platform publishes: "
                + ", ".join(types)
            )
        current = types.get(account["product_type"])
        if current is not None and current.immutable:
            problems.append(
                f"product-type: product type '{current.id}' of account '{account['id']}' cannot "
                "be changed once assigned"
            )
    if given.get("internal_demo") and not account["internal_demo"]:
        reseller = await portal.reseller(account["reseller"])
        if reseller and reseller["demo_account"]:
            problems.append(
                f"internal-demo: reseller '{account['reseller']}' already has an internal demo "
                f"system: {reseller['demo_account']}; each reseller may mark only one customer "
                "as internal/demo"
            )
    if (new_name := given.get("name")) is not None:
        for other in await portal.customers(account["reseller"]):
            if other["id"] != account["id"] and name_key(other["name"]) == name_key(new_name):
                problems.append(
                    f"name: a customer named '{other['name']}' already exists for reseller "
                    f"'{account['reseller']}' (account {other['id']})"
                )
    if problems:
        prefix = f"{len(problems)} problems: " if len(problems) > 1 else ""
        raise OperatorError(prefix + "; ".join(problems))


@app.command("update")
@run_async
async def update(
    account: AccountArg,
    name: Annotated[str | None, typer.Option(help="New name (unique per reseller).")] = None,
    product_type: Annotated[
        str | None, typer.Option(help="Refused if the current type is immutable.")
    ] = None,
    reference: Annotated[str | None, typer.Option(help='`""` shows the tenant id.')] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2.")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    trial: Annotated[
        bool | None, typer.Option("--trial/--no-trial", help="`--no-trial` ends the trial.")
    ] = None,
    trial_days: Annotated[int | None, typer.Option(help="New trial length, from creation.")] = None,
    internal_demo: Annotated[
        bool | None, typer.Option(help="Refused if the reseller has another demo system.")
    ] = None,
    as_json: JsonOpt = False,
    by: OperatorOpt = None,
) -> None:
    """Edit a customer's properties (every one but an immutable product type)."""
    settings = get_settings()
    changes = checked(
        AccountChanges,
        name=name,
        product_type=product_type,
        reference=reference,
        country=country,
        notes=notes,
        trial=trial,
        trial_days=trial_days,
        internal_demo=internal_demo,
    )
    if not changes.given():
        raise OperatorError("nothing to change: give at least one option (see --help)")
    async with PlatformApi(settings) as portal:
        current = await portal.account(account)
        await _check_changes(portal, current, changes)
    result = await run_short(
        Procedure.CUSTOMER_UPDATE,
        account,
        account,
        CustomerUpdateInput(account_id=account, changes=changes),
        CustomerUpdateResult,
        summary=f"Update of customer account {account}",
        details="Changes: " + ", ".join(sorted(changes.given())),
        as_json=as_json,
        operator=by,
    )
    assert isinstance(result, CustomerUpdateResult)
    if not as_json:
        render.out.print(
            f"[bold green]updated[/] {account}: "
            + ", ".join(f"{k} = {v!r}" for k, v in changes.given().items())
        )
        if result.trial_workflow_id:
            render.out.print(f"  trial timer: {result.trial_workflow_id}")


@app.command("enable-pbx")
@run_async
async def enable_pbx(
    account: AccountArg,
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
    by: OperatorOpt = None,
) -> None:
    """Enable a PBX connection created disabled: connect, synchronise users, start monitoring."""
    settings = get_settings()
    async with PlatformApi(settings) as portal:
        current = await portal.account(account)
    conn = current["connection"]
    if conn is None:
        raise OperatorError(f"account '{account}' has no PBX connection")
    if conn["enabled"]:
        raise OperatorError(
            f"the PBX connection of account '{account}' is already enabled ({conn['state']})"
        )
    procedures = Procedures(await connect(settings), settings)
    started = await procedures.start(
        Procedure.PBX_CONNECTION,
        account,
        account,
        PbxEnableInput(account_id=account),
        summary=f"PBX connection of customer account {account}",
        details=f"Enable the connection to `{conn['host']}`, synchronise every user, monitor.",
        started_by=who(settings, by),
    )
    render.report_start(started, as_json, wait)
    if wait:
        result = await follow_and_print(procedures, started, PbxEnableResult, as_json)
        assert isinstance(result, PbxEnableResult)
        if not as_json:
            render.out.print(
                f"[bold green]done[/] {plural(result.users_synced, 'user')} synchronised; "
                "monitoring calls and agent status"
            )


# --- customer show / list ----------------------------------------------------------------------


@app.command("show")
@run_async
async def show(account: AccountArg, as_json: JsonOpt = False) -> None:
    """One customer account: properties, users, PBX connection, trial, contacts."""
    async with PlatformApi(get_settings()) as portal:
        found = await portal.account(account)
    if as_json:
        render.emit_json(found)
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    conn = found["connection"]
    rows = [
        ("account", f"{found['id']}  ({found['state']})"),
        ("name", found["name"]),
        ("reseller", found["reseller"]),
        ("product type", found["product_type"]),
        ("reference", found["reference"] or f"(empty: invoices show {found['id']})"),
        ("country", f"{found['country']}  locale {found['locale']}, +{found['calling_code']}"),
        ("notes", found["notes"] or "-"),
        ("internal demo", "yes (not billed)" if found["internal_demo"] else "no"),
        ("trial", _trial(found)),
        ("users", f"{found['users']} ({found['admins']} Admin)"),
        ("PBX", _connection(conn)),
        ("support contacts", ", ".join(render.contact_label(c) for c in found["support_contacts"])),
        ("created", f"{found['created_at'][:19].replace('T', ' ')} UTC by {found['created_by']}"),
    ]
    if found["roles_pending"]:
        rows.append(("roles pending", ", ".join(found["roles_pending"])))
    if found.get("service_state"):  # one tenant model: the account is the tenant of its id
        rows.append(
            (
                "tenant",
                f"{found['tenant_id']}: Cloud PBX service {found['service_state']}, "
                f"{plural(found.get('esim_licences', 0), 'eSIM licence')}",
            )
        )
    for label, value in rows:
        table.add_row(label, value)
    render.out.print(table)


def _trial(found: dict[str, Any]) -> str:
    if not found["trial"]:
        return "no"
    ends = (found["trial_ends_at"] or "")[:10]
    return f"{plural(found['trial_days'], 'day')}, ends {ends}" + (
        " (EXPIRED)" if found["trial_expired"] else ""
    )


def _connection(conn: dict[str, Any] | None) -> str:
    if conn is None:
        return "none"
    text = f"{conn['host']}: {conn['state']}, {plural(conn['users_synced'], 'user')} synchronised"
    if conn["sub_accounts_monitored"]:
        text += f", {plural(conn['sub_accounts_monitored'], 'sub-account')} monitored"
    return text


@app.command("list")
@run_async
async def list_customers(
    reseller: Annotated[str | None, typer.Option(help="Only this reseller's customers.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Customer accounts with their product type, users, PBX connection and trial."""
    async with PlatformApi(get_settings()) as portal:
        found = await portal.customers(reseller)
        types = await portal.product_types() if not as_json else []
    if as_json:
        render.emit_json(found)
        return
    if not found:
        render.out.print("no customer accounts")
        return
    customers_table(found)
    render.out.print(
        "[dim]product types:[/] "
        + ", ".join(f"{t.id}{' (immutable)' if t.immutable else ''}" for t in types)
    )


def customers_table(found: list[dict[str, Any]]) -> None:
    table = render.table("Customer accounts")
    table.add_column("account", overflow="fold", min_width=10)
    table.add_column("name", overflow="fold", min_width=10)  # wraps at spaces
    table.add_column("reseller / product", overflow="fold", max_width=16)
    table.add_column("state", no_wrap=True)
    table.add_column("users", no_wrap=True, justify="right")
    table.add_column("PBX", no_wrap=True)
    table.add_column("trial", max_width=12)  # wraps at spaces
    for item in found:
        conn = item["connection"]
        table.add_row(
            item["id"],
            item["name"] + (" [dim](demo)[/]" if item["internal_demo"] else ""),
            f"{item['reseller']}\n[dim]{item['product_type']}[/]",
            item["state"],
            str(item["users"]),
            conn["state"] if conn else "-",
            _trial(item),
        )
    render.out.print(table)
