"""``pbxops cdr``: call detail records from the platform (a mobile line's calls are
``Mobile_Network``), as a table or CSV."""

import csv
import io
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from pbxops.cli import files, render
from pbxops.cli.errors import OperatorError
from pbxops.cli.options import JsonOpt, run_async
from pbxops.cli.platform import PlatformApi, check_tenant_id
from pbxops.contracts.wording import plural
from pbxops.runtime.settings import get_settings

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
CDR_COLUMNS = (
    "id",
    "start_time",
    "tenant_id",
    "user_id",
    "device_id",
    "direction",
    "calling_number",
    "called_number",
    "duration_seconds",
    "answered",
    "client_type",
    "sub_client_type",
)


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``24h``, ``7d``, ``30m``, ``2w`` ago, or an ISO date/time (UTC when no offset)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(value.strip().lower())
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except (OverflowError, ValueError):  # 99999999999d: before the year 1
            raise OperatorError(f"--since '{value[:40]}' reaches back before the year 1") from None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise OperatorError(
            f"--since '{value[:40]}' is neither a duration (30m, 24h, 7d, 2w) nor an ISO date "
            "(2026-01-31 or 2026-01-31T09:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@run_async
async def cdr(
    subclient_type: Annotated[
        str | None,
        typer.Option(
            "--subclient-type",
            help="Only this sub-client type: `Mobile_Network` (calls through mobile lines) or "
            "`Desk_Phone`.",
        ),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    since: Annotated[
        str | None, typer.Option(help="From: `24h`, `7d` ago or an ISO date/time.")
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the records as CSV to this file (`-`: stdout)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many records.", min=1, max=10000)] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """List call detail records, oldest first (mobile lines' calls: `Mobile_Network`).

    Calls made through a mobile line carry sub-client type `Mobile_Network`, e.g.
    `pbxops cdr --subclient-type Mobile_Network --since 7d --csv calls.csv`.
    """
    params: dict[str, str] = {"limit": str(limit)}
    if subclient_type:
        if not re.fullmatch(r"[A-Za-z_]{1,40}", subclient_type):
            raise OperatorError(
                f"'{subclient_type[:40]}' is not a sub-client type (e.g. Mobile_Network)"
            )
        params["subclient_type"] = subclient_type
    if tenant:
        params["tenant_id"] = check_tenant_id(tenant)
    if since:
        params["since"] = parse_since(since).isoformat()
    if csv_file is not None:
        files.check_output(csv_file, "--csv", stdout_ok=True)
    async with PlatformApi(get_settings()) as platform:
        records: list[dict[str, Any]] = await platform.call("GET", "/pbx/cdrs", params=params)
    if csv_file is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CDR_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
        if str(csv_file) == "-":
            sys.stdout.write(buffer.getvalue())
            return
        files.write_output(csv_file, buffer.getvalue(), "--csv")
        if not as_json:
            render.out.print(f"{plural(len(records), 'call record')} written to {csv_file}")
            return
    if as_json:
        render.emit_json(records)
        return
    if not records:
        render.out.print("no call records")
        return
    cdr_table(records)


def cdr_table(records: list[dict[str, Any]]) -> None:
    table = render.table(f"Call detail records ({len(records)})")
    table.add_column("start (UTC)", no_wrap=True)
    table.add_column("user", overflow="fold", max_width=10)
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("sec", no_wrap=True, justify="right")
    table.add_column("sub-client type", overflow="fold", min_width=6)
    for record in records:
        table.add_row(
            render.short_when(render.parse_utc(record["start_time"]), seconds=True),
            record.get("user_id") or "-",
            record["calling_number"],
            record["called_number"],
            str(record["duration_seconds"]),
            record["sub_client_type"],
        )
    render.out.print(table)
