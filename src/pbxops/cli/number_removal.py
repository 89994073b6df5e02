"""``pbxops number …``: remove the package of phone numbers (docs/procedures.md#number-removal).

Before anything starts, the CLI checks what it can, so bad input changes nothing: every number is
parsed and normalised with ``phonenumbers`` (E.164), looked up in the support view (CSU), must be
known, not already removed, and all of one customer; the requester must be an Admin or Super User
of that customer; no number may already be in a running removal. The workflow checks the
requester and the numbers again (it is the authority; the CLI only fails fast).

Over 400 lines: the parsing of numbers (flags and files), the reads of the three number systems
with the operator's credentials (not the platform: ``runtime/number_systems.py``) and the
commands; each part only serves this group.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import phonenumbers
import typer
from pydantic import EmailStr, TypeAdapter, ValidationError
from temporalio.service import RPCError

from pbxops.cli import files, render
from pbxops.cli.errors import OperatorError
from pbxops.cli.follow import follow
from pbxops.cli.identity import ByOpt
from pbxops.cli.options import JsonOpt, WaitOpt, run_async
from pbxops.cli.platform import PlatformApi
from pbxops.cli.procedures import STATUS_QUERY, Procedures, Started
from pbxops.cli.validation import checked
from pbxops.contracts.lifecycle import Action, refusal
from pbxops.contracts.number_removal import (
    ALLOWED_ROLES,
    MAX_NUMBERS,
    BillingPath,
    NumberOutcome,
    NumberRemovalInput,
    NumberRemovalResult,
    NumberRemovalStatus,
    NumberState,
    billing_path,
    removal_key,
)
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.wording import plural
from pbxops.runtime.number_systems import CredentialsMissing, OperatorSystems, System
from pbxops.runtime.settings import Settings, get_settings, without_password
from pbxops.runtime.temporal import connect

app = typer.Typer(
    help=(
        "Remove the package of phone numbers: the device is deleted on the device portal, the "
        "removal is verified in CSU, and the customer is told (with the 2Checkout link and the "
        "licences to decrease for e-commerce subscriptions).\n\n"
        "Start with `pbxops number remove --number '+39 02 8088 1001' --requested-by "
        "giulia.rossi@acme.example --wait`."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
# What a number in a file may look like before it is parsed (and echoed in an error).
_PHONE_LIKE = re.compile(r"^[0-9+().\-/ ]{1,40}$")
_COLOURS = {
    NumberOutcome.REMOVED: "green",
    NumberOutcome.NOT_VERIFIED: "yellow",
    NumberOutcome.MANUAL: "yellow",
    NumberOutcome.NOT_REMOVED: "red",
    NumberOutcome.UNKNOWN: "red",
    NumberOutcome.OTHER_CUSTOMER: "red",
    NumberOutcome.ALREADY_REMOVED: "dim",
}


# --- parsing what the operator typed ------------------------------------------------------------


def parse_number(raw: str, region: str, where: str = "") -> str:
    """One number as E.164; the error names the value (and where it came from)."""
    prefix = f"{where}: " if where else ""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as err:
        reason = str(err).split(") ", 1)[-1]
        raise OperatorError(f"{prefix}'{raw}' is not a phone number ({reason})") from err
    if not phonenumbers.is_valid_number(parsed):
        raise OperatorError(
            f"{prefix}'{raw}' is not a valid phone number (numbers without a +country code "
            f"are read as {region.upper()} numbers; see --region)"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def read_numbers_file(path: Path, region: str) -> list[str]:
    """One number per line (commas and semicolons also separate); blanks and # comments skipped."""
    text = files.read_text(path, "--numbers-file")
    numbers = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        for raw in content.replace(";", ",").split(","):
            if not raw.strip():
                continue
            where = f"{path.name} line {line_no}"
            if not _PHONE_LIKE.match(raw.strip()):
                # Not echoed: the file may be anything (a line of /etc/shadow).
                raise OperatorError(f"{where}: not a phone number (digits, spaces, + - . ( ) /)")
            numbers.append(parse_number(raw.strip(), region, where))
    if not numbers:
        raise OperatorError(f"--numbers-file '{path}' holds no phone number")
    return numbers


def collect_numbers(given: list[str], numbers_file: Path | None, region: str) -> list[str]:
    numbers = [parse_number(raw, region) for raw in given]
    if numbers_file is not None:
        numbers += read_numbers_file(numbers_file, region)
    if not numbers:
        raise OperatorError("give at least one --number or a --numbers-file")
    unique = list(dict.fromkeys(numbers))  # the same number twice counts once
    if len(unique) > MAX_NUMBERS:
        raise OperatorError(
            f"{len(unique)} numbers in one request; at most {MAX_NUMBERS} (split the list)"
        )
    return unique


def display(number: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


# --- reading the operator's systems -------------------------------------------------------------


@dataclass
class Found:
    number: str
    tenant_id: str
    company: str
    label: str
    soc_code: str

    @property
    def path(self) -> BillingPath:
        return billing_path(self.soc_code)


class Systems:
    """The CLI's reads: CSU with the operator account, the platform's users with its token."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._systems = OperatorSystems(settings, timeout=settings.http_timeout_seconds)
        self._platform = httpx.AsyncClient(
            base_url=settings.platform_url,
            headers={"Authorization": f"Bearer {settings.platform_token.get_secret_value()}"},
            timeout=settings.http_timeout_seconds,
        )

    async def __aenter__(self) -> "Systems":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._systems.aclose()
        await self._platform.aclose()

    async def _get(self, client: httpx.AsyncClient, what: str, path: str) -> httpx.Response:
        try:
            response = await client.get(path)
        except httpx.TransportError as err:
            raise OperatorError(
                f"cannot reach {what} at {without_password(str(client.base_url))} ({err})"
            ) from err
        if response.status_code == 401:
            raise OperatorError(f"{what} refused our credentials: {_detail(response)}")
        if response.status_code != 404 and not response.is_success:
            raise OperatorError(f"{what} answered {response.status_code} for {path}; try again")
        return response

    async def lookup(self, number: str) -> Found:
        try:
            csu = self._systems.client(System.CSU)
        except CredentialsMissing as err:
            raise OperatorError(str(err)) from err
        response = await self._get(csu, System.CSU.label, f"/csu/numbers/{quote(number)}")
        if response.status_code == 404:
            raise OperatorError(f"number {number} is not known to CSU (the support view)")
        record = response.json()
        if record["deleted_datetime"]:
            raise OperatorError(
                f"number {number} was already removed on "
                f"{record['deleted_datetime'][:19].replace('T', ' ')} UTC"
            )
        return Found(
            number=number,
            tenant_id=record["tenant_id"],
            company=record["company"],
            label=record["label"],
            soc_code=record["soc_code"],
        )

    async def roles(self, tenant_id: str, email: str) -> list[str]:
        path = f"/pbx/tenants/{quote(tenant_id, safe='')}/users"
        response = await self._get(self._platform, "the PBX platform", path)
        if response.status_code == 404:
            raise OperatorError(_detail(response))
        wanted = email.casefold()
        return sorted(
            {r for u in response.json() if u["email"].casefold() == wanted for r in u["roles"]}
        )


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.reason_phrase))
    except ValueError:
        return response.reason_phrase


def one_customer(found: list[Found]) -> str:
    tenants: dict[str, list[str]] = {}
    for item in found:
        tenants.setdefault(item.tenant_id, []).append(item.number)
    if len(tenants) > 1:
        listed = "; ".join(f"{t}: {', '.join(numbers)}" for t, numbers in sorted(tenants.items()))
        raise OperatorError(
            f"the numbers belong to different customers ({listed}); "
            "one request removes one customer's numbers"
        )
    return next(iter(tenants))


def check_roles(email: str, tenant_id: str, roles: list[str]) -> None:
    allowed = {role.casefold() for role in ALLOWED_ROLES}
    if not any(role.casefold() in allowed for role in roles):
        held = ", ".join(roles) if roles else "not a user of this tenant"
        raise OperatorError(
            f"{email} is not an Admin or Super User of tenant '{tenant_id}' ({held}); only "
            "they may ask for a number's removal. Nothing was started"
        )


async def check_not_running(procedures: Procedures, tenant_id: str, numbers: list[str]) -> None:
    """A number in two running removals would be deleted twice: refuse the second."""
    query = (
        f"ProcedureName = '{Procedure.NUMBER_REMOVAL.value}' AND TenantId = '{tenant_id}' "
        "AND ExecutionStatus = 'Running'"
    )
    for running in await procedures.list(query):
        try:
            current = await procedures.handle(running.workflow_id).query(
                STATUS_QUERY, result_type=NumberRemovalStatus
            )
        except RPCError:
            continue  # no worker to answer: the start below still refuses an identical id
        busy = sorted(set(numbers) & {state.number for state in current.numbers})
        if busy:
            raise OperatorError(f"{', '.join(busy)} already in a running removal: {running.url}")


# --- commands ----------------------------------------------------------------------------------


NumberOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--number",
        "-n",
        help="A phone number, e.g. `+39 02 8088 1001` (repeat for several).",
        show_default=False,
    ),
]
FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--numbers-file",
        "-f",
        help="A file of numbers, one per line (`#` comments and blank lines are skipped).",
        show_default=False,
    ),
]
RequesterOpt = Annotated[
    str,
    typer.Option(
        "--requested-by",
        help="Email of the customer's Admin or Super User who asked; the result goes to them.",
        show_default=False,
    ),
]
RegionOpt = Annotated[
    str, typer.Option("--region", help="Country for numbers written without +country code.")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Check everything and show the plan; start nothing.")
]


@app.command()
@run_async
async def remove(
    requested_by: RequesterOpt,
    number: NumberOpt = None,
    numbers_file: FileOpt = None,
    region: RegionOpt = "IT",
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
    dry_run: DryRunOpt = False,
    by: ByOpt = None,
) -> None:
    """Remove the package of one customer's phone numbers.

    Each number's device is deleted on the device portal, then CSU must show its **Deleted
    Datetime** (support ticket if not within 15 minutes). Numbers with an e-commerce SOC code
    (`Ecom2Checkout…`) get the account's 2Checkout *update subscription* link and the count of
    licences to decrease in the customer's email; direct ones (`CKSWDirect…`) need nothing more;
    any other SOC code goes to a support ticket and is not touched. Several numbers of one
    customer make one request, one email.

    Nothing starts unless every number is valid, known to CSU, not yet removed and of one
    customer, and the requester is an Admin or Super User of that customer. Examples:

    `pbxops number remove -n '+39 02 8088 1001' --requested-by giulia.rossi@acme.example -w`

    `pbxops number remove -f numbers.txt --requested-by giulia.rossi@acme.example --dry-run`
    """
    settings = get_settings()
    try:
        email = _EMAIL.validate_python(requested_by)
    except ValidationError as err:
        raise OperatorError(f"--requested-by '{requested_by}' is not an email address") from err
    numbers = collect_numbers(number or [], numbers_file, region)

    async with Systems(settings) as systems:
        found = [await systems.lookup(item) for item in numbers]
        tenant_id = one_customer(found)
        check_roles(email, tenant_id, await systems.roles(tenant_id, email))
    # Early and friendly only: the device portal refuses on its own (contracts/lifecycle.py).
    async with PlatformApi(settings) as platform:
        state = (await platform.tenant(tenant_id))["service"]["state"]
    if (refused := refusal(tenant_id, state, Action.NUMBER_REMOVAL)) is not None:
        raise OperatorError(refused)
    payload = checked(
        NumberRemovalInput,
        tenant_id=tenant_id,
        numbers=numbers,
        requested_by=email,
        verify_deadline=settings.number_removal_verify_deadline,
        verify_hard_cap=settings.number_removal_verify_hard_cap,
    )

    if dry_run:
        _plan(found, tenant_id, as_json)
        return
    procedures = Procedures(await connect(settings), settings)
    await check_not_running(procedures, tenant_id, numbers)
    started = await procedures.start(
        Procedure.NUMBER_REMOVAL,
        removal_key(numbers),
        tenant_id,
        payload,
        summary=_summary(numbers),
        details=_details(found),
        # The provider's operator who runs it (--by, PBXOPS_OPERATOR); the customer's requester
        # is in its input and result. Without either, the requester, as before.
        started_by=(by or settings.operator or "").strip() or email,
    )
    await _report(procedures, started, wait, as_json)


@app.command()
@run_async
async def status(
    target: Annotated[
        str,
        typer.Argument(
            help="A workflow id (`number-removal/+390280881001`) or the request's lowest number.",
            show_default=False,
        ),
    ],
    region: RegionOpt = "IT",
    as_json: JsonOpt = False,
) -> None:
    """Show a removal: its step, each number's outcome, tickets and its Temporal UI link."""
    settings = get_settings()
    prefix = Procedure.NUMBER_REMOVAL.id_prefix + "/"
    workflow_id = target if target.startswith(prefix) else prefix + parse_number(target, region)
    procedures = Procedures(await connect(settings), settings)
    try:
        current = await procedures.handle(workflow_id).query(
            STATUS_QUERY, result_type=NumberRemovalStatus
        )
    except RPCError as err:
        if "not found" in str(err).lower():
            raise OperatorError(
                f"no removal with workflow id '{workflow_id}' (a request of several numbers "
                "is keyed by its lowest number; see `pbxops list --all`)"
            ) from err
        raise OperatorError(f"cannot read the status of {workflow_id}: {err}") from err
    url = await procedures.current_url(workflow_id)
    if as_json:
        render.emit_json({"status": current, "url": url})
        return
    render.status_panel(current, url)
    numbers_table(current.numbers)


# --- output ------------------------------------------------------------------------------------


def _summary(numbers: list[str]) -> str:
    first = removal_key(numbers)
    more = f" and {len(numbers) - 1} more" if len(numbers) > 1 else ""
    return f"Remove the package of {first}{more}"


def _details(found: list[Found]) -> str:
    company = found[0].company
    lines = [
        f"- `{item.number}` {item.label or ''}: SOC `{item.soc_code}` → {item.path.value}"
        for item in found
    ]
    return (
        f"Tenant **{found[0].tenant_id}** ({company}): {plural(len(found), 'number')}, requested "
        "from the pbxops CLI by a customer Admin or Super User.\n\n" + "\n".join(lines)
    )


def _plan(found: list[Found], tenant_id: str, as_json: bool) -> None:
    if as_json:
        render.emit_json(
            {
                "tenant_id": tenant_id,
                "numbers": [
                    {"number": f.number, "label": f.label, "soc_code": f.soc_code, "path": f.path}
                    for f in found
                ],
            }
        )
        return
    table = render.table(f"Plan for tenant {tenant_id} ({found[0].company})")
    table.add_column("number", no_wrap=True)
    table.add_column("label", max_width=20)  # wraps at spaces
    table.add_column("SOC code", overflow="fold", max_width=22)
    table.add_column("billing path", min_width=12)
    for item in found:
        path = item.path.value
        if item.path is BillingPath.UNKNOWN:
            path = "[yellow]unknown: support ticket, not removed[/]"
        table.add_row(display(item.number), item.label, item.soc_code, path)
    render.out.print(table)
    render.out.print("dry run: nothing was started")


def numbers_table(states: list[NumberState]) -> None:
    table = render.table("Numbers")
    table.add_column("number", no_wrap=True)
    table.add_column("label", max_width=16)  # wraps at spaces
    table.add_column("outcome", no_wrap=True)
    table.add_column("detail", min_width=20)
    for state in states:
        colour = _COLOURS.get(state.outcome, "")
        outcome = f"[{colour}]{state.outcome.value}[/]" if colour else state.outcome.value
        table.add_row(display(state.number), state.label or "", outcome, state.detail)
    render.out.print(table)


async def _report(procedures: Procedures, started: Started, wait: bool, as_json: bool) -> None:
    render.report_start(started, as_json, wait)
    if not wait:
        if not as_json:
            render.out.print(f"  numbers: pbxops number status {started.workflow_id}")
        return
    result = await follow(procedures, started, NumberRemovalResult, as_json)
    assert isinstance(result, NumberRemovalResult)
    if as_json:
        render.emit_json({**render.started_json(started), "result": result})
        return
    numbers_table(result.numbers)
    total = len(result.numbers)
    colour = "green" if result.removed == total else "yellow"
    render.out.print(
        f"[bold {colour}]done[/] {result.removed} of {plural(total, 'number')} removed"
    )
    for link in result.billing_links:
        render.out.print(
            "  customer told to decrease "
            f"{plural(link.licences_to_decrease, 'licence')} on account {link.account_number}: "
            f"{link.update_subscription_url}"
        )
    for label, ticket in (
        ("manual handling", result.manual_ticket_id),
        ("verification", result.verification_ticket_id),
    ):
        if ticket:
            render.out.print(f"  [yellow]support ticket {ticket}[/] ({label})")
