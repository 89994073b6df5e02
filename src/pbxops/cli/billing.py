"""``pbxops billing export``: a month of customer accounts' billing data, as a table or CSV."""

import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from pbxops.cli import files, render
from pbxops.cli.errors import OperatorError
from pbxops.cli.options import JsonOpt, run_async
from pbxops.cli.platform import PlatformApi
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import get_settings

app = typer.Typer(
    help="Billing data of customer accounts (reference or tenant id; demo systems at zero).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

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


@app.command("export")
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
    async with PlatformApi(get_settings()) as portal:
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
