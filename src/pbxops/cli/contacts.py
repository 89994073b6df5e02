"""``pbxops contacts add|remove|list``: the support contacts of a customer account, who receive
every problem report (docs/procedures.md#support-contacts)."""

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from pbxops.cli import render
from pbxops.cli.errors import OperatorError
from pbxops.cli.follow import run_short
from pbxops.cli.options import AccountOpt, JsonOpt, run_async
from pbxops.cli.platform import PlatformApi, check_tenant_id
from pbxops.cli.validation import checked, validation_errors
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.support import (
    ActingAs,
    ContactAction,
    ContactRef,
    SupportContactsChangeInput,
    SupportContactsChangeResult,
)
from pbxops.runtime.settings import get_settings

app = typer.Typer(
    help=(
        "Support contacts of a customer account: they receive every problem report.\n\n"
        "Partners manage the contacts of their accounts; an administrative user only on accounts "
        "created by a partner. An account always keeps at least one contact."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
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
    async with PlatformApi(get_settings()) as portal:
        current = await portal.account(account)
    _check_contact_rules(current, action, ref, acting_as)
    result = await run_short(
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


@app.command("add")
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


@app.command("remove")
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


@app.command("list")
@run_async
async def contacts_list(account: AccountOpt, as_json: JsonOpt = False) -> None:
    """The support contacts of an account: who receives its problem reports."""
    async with PlatformApi(get_settings()) as portal:
        found = await portal.account(account)
    if as_json:
        render.emit_json(found["support_contacts"])
        return
    render.out.print(f"support contacts of {account} ({found['name']}):")
    for c in found["support_contacts"]:
        render.out.print(f"  - {render.contact_label(c)}")
