"""``pbxops customer …``, ``pbxops billing export``, ``pbxops contacts …``, ``pbxops
report-problem``: customer provisioning, support contacts, problem reports (PROCEDURES.md §3-4).

Before anything starts, the CLI reads what the platform knows (reseller, partner users, existing
customers, product types, roles) and validates the whole input against it, reporting every problem
at once, each with its field: bad input starts nothing and changes nothing. The platform checks
again (it is the authority); the CLI only fails fast and clearly.
"""

import csv
import io
import json
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import httpx
import typer
from pydantic import BaseModel, ValidationError
from rich.table import Table
from temporalio.client import WorkflowFailureError

from contracts.mail import parse_mailbox
from contracts.procedures import Procedure
from contracts.provisioning import (
    AccountChanges,
    CustomerProvisioningInput,
    CustomerUpdateInput,
    CustomerUpdateResult,
    PbxEnableInput,
    PbxEnableResult,
    ProductType,
    ProvisioningCatalog,
    ProvisioningResult,
    name_key,
)
from contracts.support import (
    ActingAs,
    ContactAction,
    ContactRef,
    ProblemReportInput,
    ProblemReportResult,
    SupportContactsChangeInput,
    SupportContactsChangeResult,
)
from contracts.wording import plural
from runtime.settings import get_settings
from runtime.temporal import connect
from starter import files, render
from starter.errors import OperatorError
from starter.follow import follow

# --by of the starts: who at the provider runs them (in the support-contact commands, --by is
# the partner or admin user who acts, and the operator comes from PBXOPS_OPERATOR).
from starter.identity import ByOpt as OperatorOpt
from starter.identity import who
from starter.options import JsonOpt, WaitOpt, run_async
from starter.platform import PlatformApi, check_tenant_id
from starter.procedures import Procedures, Started, failure_message

M = TypeVar("M", bound=BaseModel)

customer_app = typer.Typer(
    help=(
        "Provision customer accounts in four steps (details, primary Admin, PBX connection, "
        "roles), then edit, show and list them.\n\n"
        "Start with `pbxops customer create --file customer.yaml --wait` (see "
        "docs/provisioning.md for the file), or give everything as flags."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
billing_app = typer.Typer(
    help="Billing data of customer accounts (reference or tenant id; demo systems at zero).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
contacts_app = typer.Typer(
    help=(
        "Support contacts of a customer account: they receive every problem report.\n\n"
        "Partners manage the contacts of their accounts; an administrative user only on accounts "
        "created by a partner. An account always keeps at least one contact."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

AccountArg = Annotated[str, typer.Argument(help="Customer account (tenant) id, e.g. `acme-srl`.")]
AccountOpt = Annotated[
    str, typer.Option("--account", "-a", help="Customer account (tenant) id, e.g. `acme-srl`.")
]


def register(app: typer.Typer) -> None:
    """Add ``customer``, ``billing``, ``contacts`` and ``report-problem`` to the CLI."""
    app.add_typer(customer_app, name="customer")
    app.add_typer(billing_app, name="billing")
    app.add_typer(contacts_app, name="contacts")
    app.command("report-problem")(report_problem)


# --- reading the portal ------------------------------------------------------------------------


class PortalApi(PlatformApi):
    """The reseller portal reads the CLI does itself."""

    async def __aenter__(self) -> "PortalApi":
        return self

    async def _maybe(self, path: str) -> Any | None:
        try:
            response = await self._http.get(path)
        except httpx.TransportError as err:
            raise OperatorError(f"cannot reach the PBX platform at {self._url} ({err})") from err
        if response.status_code == 404:
            return None
        return await self._get(path)

    async def account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            f"/pbx/customers/{quote(check_tenant_id(account_id), safe='')}"
        )
        return result

    async def reseller(self, reseller_id: str) -> dict[str, Any] | None:
        return await self._maybe(f"/pbx/resellers/{quote(reseller_id, safe='')}")

    async def customers(self, reseller_id: str | None) -> list[dict[str, Any]]:
        params = {"reseller": reseller_id} if reseller_id else None
        result: list[dict[str, Any]] = await self._get("/pbx/customers", params=params)
        return result

    async def product_types(self) -> list[ProductType]:
        return [ProductType.model_validate(p) for p in await self._get("/pbx/product-types")]

    async def roles(self) -> list[str]:
        return [role["id"] for role in await self._get("/pbx/roles")]

    async def billing(self, month: str, reseller_id: str | None) -> dict[str, Any]:
        params = {"month": month, **({"reseller": reseller_id} if reseller_id else {})}
        result: dict[str, Any] = await self._get("/pbx/billing", params=params)
        return result

    async def catalog(self, reseller_id: str) -> ProvisioningCatalog:
        product_types = await self.product_types()
        roles = await self.roles()
        reseller = await self.reseller(reseller_id) if _looks_like_id(reseller_id) else None
        if reseller is None:
            return ProvisioningCatalog(
                reseller_id=reseller_id,
                reseller_found=False,
                product_types=product_types,
                roles=roles,
            )
        return ProvisioningCatalog(
            reseller_id=reseller_id,
            reseller_found=True,
            partner_ids=[p["id"] for p in reseller["partners"]],
            customers={
                name_key(c["name"]): (c["id"], c["name"]) for c in await self.customers(reseller_id)
            },
            demo_account=reseller["demo_account"],
            product_types=product_types,
            roles=roles,
        )


def _looks_like_id(value: str) -> bool:
    try:
        check_tenant_id(value)
    except OperatorError:
        return False
    return True


# --- turning pydantic's errors into one line ---------------------------------------------------


# A key of the customer file that can be named in an error; any other key (a line of a file that
# was never a customer file: "root:$6$...") is not repeated.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _field(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, str) and not _KEY.fullmatch(part):
            part = "(a key that is not a field name)"
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "input"


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    return str(error["msg"])


def _problem(error: Any) -> str:
    field, message = _field(error["loc"]), _message(error)
    # "name must not contain ..." (contracts/text.py) names its field: the path takes its place.
    label = (error.get("ctx") or {}).get("field")
    if isinstance(label, str) and message.startswith(f"{label} "):
        return f"{field} {message.removeprefix(label + ' ')}"
    return f"{field}: {message}"


def validation_errors(err: ValidationError) -> str:
    """Every problem, each with its field, on one line."""
    problems = [_problem(e) for e in err.errors()]
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems: " + "; ".join(problems)


def checked(model: type[M], options: dict[str, str] | None = None, **fields: Any) -> M:
    """Flags into a contract, or every problem on one line with the fields named as options
    (``product_type`` → ``product-type``; ``options`` renames others, e.g. to ``--by``)."""
    try:
        return model(**fields)
    except ValidationError as err:
        message = validation_errors(err)
        for field, option in (options or {}).items():
            message = message.replace(field, option)
        raise OperatorError(message.replace("_", "-")) from err


# --- customer create ---------------------------------------------------------------------------


def load_file(path: Path) -> dict[str, Any]:
    """The customer file: bounded, UTF-8, no YAML aliases, not too deep (``starter.files``)."""
    return files.read_mapping(path, "--file")


def parse_admin(value: str) -> dict[str, str]:
    """``"Giulia Rossi <giulia@acme.example>"`` or a bare address: one mailbox, read strictly
    (``contracts.mail.parse_mailbox``), never whatever address a lenient parser finds in it."""
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


async def validated_input(data: dict[str, Any], portal: PortalApi) -> CustomerProvisioningInput:
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


async def _follow(
    procedures: Procedures, started: Started, result_type: type[BaseModel], as_json: bool
) -> BaseModel:
    result = await follow(procedures, started, result_type, as_json)
    if as_json:
        render.emit_json({**render.started_json(started), "result": result})
    return result


@customer_app.command("create")
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
    async with PortalApi(settings) as portal:
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
        result = await _follow(procedures, started, ProvisioningResult, as_json)
        assert isinstance(result, ProvisioningResult)
        if not as_json:
            _print_provisioned(result)


# --- customer update / enable-pbx --------------------------------------------------------------


async def _check_changes(
    portal: PortalApi, account: dict[str, Any], changes: AccountChanges
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


async def _run_short(
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


@customer_app.command("update")
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
    async with PortalApi(settings) as portal:
        current = await portal.account(account)
        await _check_changes(portal, current, changes)
    result = await _run_short(
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


@customer_app.command("enable-pbx")
@run_async
async def enable_pbx(
    account: AccountArg,
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
    by: OperatorOpt = None,
) -> None:
    """Enable a PBX connection created disabled: connect, synchronise users, start monitoring."""
    settings = get_settings()
    async with PortalApi(settings) as portal:
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
        result = await _follow(procedures, started, PbxEnableResult, as_json)
        assert isinstance(result, PbxEnableResult)
        if not as_json:
            render.out.print(
                f"[bold green]done[/] {plural(result.users_synced, 'user')} synchronised; "
                "monitoring calls and agent status"
            )


# --- customer show / list ----------------------------------------------------------------------


@customer_app.command("show")
@run_async
async def show(account: AccountArg, as_json: JsonOpt = False) -> None:
    """One customer account: properties, users, PBX connection, trial, contacts."""
    async with PortalApi(get_settings()) as portal:
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
        ("support contacts", ", ".join(_contact(c) for c in found["support_contacts"])),
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


def _contact(contact: dict[str, Any]) -> str:
    if contact["partner_user_id"]:
        return f"{contact['name'] or contact['partner_user_id']} <{contact['email']}> (partner)"
    return str(contact["email"])


@customer_app.command("list")
@run_async
async def list_customers(
    reseller: Annotated[str | None, typer.Option(help="Only this reseller's customers.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Customer accounts with their product type, users, PBX connection and trial."""
    async with PortalApi(get_settings()) as portal:
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


# --- billing -----------------------------------------------------------------------------------

BILLING_COLUMNS = (
    "month",
    "reseller",
    "account_id",
    "customer",
    "reference",
    "product_type",
    "users",
    "unit_price",
    "amount",
    "currency",
    "note",
)


@billing_app.command("export")
@run_async
async def billing_export(
    month: Annotated[str, typer.Option(help="`YYYY-MM`, e.g. `2026-11`.")],
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write CSV here (`-` for standard output).")
    ] = None,
    reseller: Annotated[str | None, typer.Option(help="Only this reseller's customers.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a month's billing rows: the reference (or the tenant id when it is empty) on each
    row, internal demo systems at zero."""
    try:
        parsed = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as err:
        raise OperatorError(f"--month '{month}' is not a month (YYYY-MM, e.g. 2026-11)") from err
    if csv_file is None and not as_json:
        raise OperatorError("give --csv FILE (or --json)")
    if csv_file is not None:
        files.check_output(csv_file, "--csv", stdout_ok=True)
    async with PortalApi(get_settings()) as portal:
        if reseller and await portal.reseller(reseller) is None:
            raise OperatorError(f"reseller '{reseller}' not found")
        data = await portal.billing(parsed.strftime("%Y-%m"), reseller)
    rows = [{**row, "month": data["month"], "currency": data["currency"]} for row in data["rows"]]
    if as_json:
        render.emit_json(data)
    if csv_file is None:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=BILLING_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    if str(csv_file) == "-":
        sys.stdout.write(buffer.getvalue())
        return
    files.write_output(csv_file, buffer.getvalue(), "--csv")
    if not as_json:
        total = sum(row["amount"] for row in rows)
        render.out.print(
            f"wrote {plural(len(rows), 'row')} for {data['month']} to {csv_file} "
            f"(total {total:.2f} {data['currency']})"
        )


# --- support contacts --------------------------------------------------------------------------

AsOpt = Annotated[
    ActingAs,
    typer.Option(
        "--as",
        help="`partner` (any account of theirs) or `admin` (only accounts created by a partner).",
    ),
]
ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who acts: a partner user id, or the administrative user's email (checked).",
    ),
]
ContactArg = Annotated[
    str, typer.Argument(help="A partner user id (e.g. `p-anna`) or an email address.")
]


def _contact_ref(value: str) -> ContactRef:
    try:
        return ContactRef.model_validate(value)
    except ValidationError as err:
        raise OperatorError(validation_errors(err).removeprefix("email: ")) from err


def _check_contact_rules(
    account: dict[str, Any], action: ContactAction, contact: ContactRef, acting_as: ActingAs
) -> None:
    """The source's rules, found before anything starts (the platform checks them again)."""
    if account["created_by"] != "partner":
        if acting_as is ActingAs.ADMIN:
            raise OperatorError(
                "an administrative user may change support contacts only on accounts created by "
                f"a partner; account '{account['id']}' was created by the {account['created_by']}"
            )
        raise OperatorError(
            f"account '{account['id']}' was created by the {account['created_by']}, not by a "
            "partner: no partner manages its support contacts"
        )
    if action is ContactAction.ADD and contact.partner and acting_as is ActingAs.ADMIN:
        raise OperatorError(
            "an administrative user adds support contacts by email address; partner users are "
            "added by a partner"
        )
    if action is ContactAction.REMOVE:
        current = account["support_contacts"]
        key = contact.partner or str(contact.email).lower()
        present = [c for c in current if (c["partner_user_id"] or c["email"].lower()) == key]
        if not present:
            raise OperatorError(f"{contact} is not a support contact of account '{account['id']}'")
        if len(current) <= 1:
            raise OperatorError(
                f"account '{account['id']}' must keep at least one support contact; add another "
                "before removing this one"
            )


async def _change_contacts(
    action: ContactAction,
    contact: str,
    account: str,
    acting_as: ActingAs,
    by: str | None,
    as_json: bool,
) -> None:
    ref = _contact_ref(contact)
    payload = checked(
        SupportContactsChangeInput,
        {"acting_user": "--by"},
        account_id=check_tenant_id(account),
        action=action,
        contact=ref,
        acting_as=acting_as,
        acting_user=by,
    )
    async with PortalApi(get_settings()) as portal:
        current = await portal.account(account)
    _check_contact_rules(current, action, ref, acting_as)
    result = await _run_short(
        Procedure.SUPPORT_CONTACTS,
        account,
        account,
        payload,
        SupportContactsChangeResult,
        summary=f"Support contacts of customer account {account}",
        details=f"{action.value.capitalize()} one contact as {acting_as.value}.",
        as_json=as_json,
    )
    assert isinstance(result, SupportContactsChangeResult)
    if not as_json:
        verb = {ContactAction.ADD: "added", ContactAction.REMOVE: "removed"}[action]
        what = f"{verb} {ref}" if result.changed else f"{ref}: nothing to change"
        render.out.print(f"[bold green]{what}[/]; contacts of {account} now:")
        for c in result.contacts:
            render.out.print(f"  - {c.label}")


@contacts_app.command("add")
@run_async
async def contacts_add(
    contact: ContactArg,
    account: AccountOpt,
    acting_as: AsOpt,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a support contact (an invalid address: "Contains an invalid email")."""
    await _change_contacts(ContactAction.ADD, contact, account, acting_as, by, as_json)


@contacts_app.command("remove")
@run_async
async def contacts_remove(
    contact: ContactArg,
    account: AccountOpt,
    acting_as: AsOpt,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a support contact (never the last one)."""
    await _change_contacts(ContactAction.REMOVE, contact, account, acting_as, by, as_json)


@contacts_app.command("list")
@run_async
async def contacts_list(account: AccountOpt, as_json: JsonOpt = False) -> None:
    """The support contacts of an account: who receives its problem reports."""
    async with PortalApi(get_settings()) as portal:
        found = await portal.account(account)
    if as_json:
        render.emit_json(found["support_contacts"])
        return
    render.out.print(f"support contacts of {account} ({found['name']}):")
    for c in found["support_contacts"]:
        render.out.print(f"  - {_contact(c)}")


# --- problem reports ---------------------------------------------------------------------------


@run_async
async def report_problem(
    account: AccountOpt,
    application: Annotated[str, typer.Option(help="The application with the problem.")],
    description: Annotated[str, typer.Option(help="What happens, in the customer's words.")],
    reporter: Annotated[
        str | None, typer.Option(help="Email of the person reporting (put in the email).")
    ] = None,
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
    by: OperatorOpt = None,
) -> None:
    """Report a customer's problem with an application: every support contact of the account is
    emailed once, with the report and its id. The contacts own it from there."""
    report_id = f"PR-{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:6]}"
    payload = checked(
        ProblemReportInput,
        account_id=check_tenant_id(account),
        report_id=report_id,
        application=application,
        description=description,
        reported_by=reporter,
    )
    settings = get_settings()
    async with PortalApi(settings) as portal:
        found = await portal.account(account)
    procedures = Procedures(await connect(settings), settings)
    started = await procedures.start(
        Procedure.PROBLEM_REPORT,
        f"{account}/{report_id}",
        account,
        payload,
        summary=f"Problem report {report_id} of customer account {account}",
        details=(
            f"{application}: emailed to the "
            f"{plural(len(found['support_contacts']), 'support contact')} of {found['name']}."
        ),
        started_by=who(settings, by),
    )
    render.report_start(started, as_json, wait)
    if wait:
        result = await _follow(procedures, started, ProblemReportResult, as_json)
        assert isinstance(result, ProblemReportResult)
        if not as_json:
            render.out.print(
                f"[bold green]reported[/] {result.report_id}: emailed " + ", ".join(result.emailed)
            )
