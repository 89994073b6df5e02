"""``pbxops report-problem``: a problem report, emailed to every support contact of the account
(docs/procedures.md#support-contacts)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from pbxops.cli import render
from pbxops.cli.follow import follow_and_print
from pbxops.cli.identity import ByOpt as OperatorOpt
from pbxops.cli.identity import who
from pbxops.cli.options import AccountOpt, JsonOpt, WaitOpt, run_async
from pbxops.cli.platform import PlatformApi, check_tenant_id
from pbxops.cli.procedures import Procedures
from pbxops.cli.validation import checked
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.support import (
    ProblemReportInput,
    ProblemReportResult,
)
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import get_settings
from pbxops.runtime.temporal import connect

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
    async with PlatformApi(settings) as portal:
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
        result = await follow_and_print(procedures, started, ProblemReportResult, as_json)
        assert isinstance(result, ProblemReportResult)
        if not as_json:
            render.out.print(
                f"[bold green]reported[/] {result.report_id}: emailed " + ", ".join(result.emailed)
            )
