"""How the CLI shows things: rich tables and progress for people, JSON for scripts."""

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pbxops.cli.procedures import Listed, Started
from pbxops.contracts.deletion import DeletionStatus, Phase
from pbxops.contracts.procedures import AuditEntry, ProcedureStatus
from pbxops.contracts.wording import plural

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``): a bad
    value echoed in a message can neither break the line nor drive the terminal."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def error(message: str) -> None:
    """The one line every error is, on stderr: ``error: <sentence>``, its control characters
    escaped and any ``[...]`` in it shown as text, never taken for rich markup."""
    err.print(f"[red]error:[/] {escape(printable(message))}")


def emit_json(data: Any) -> None:
    def default(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    sys.stdout.write(json.dumps(data, default=default, indent=2) + "\n")


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def started(item: Started) -> None:
    out.print(f"[bold green]started[/] {item.procedure.label}  [bold]{item.workflow_id}[/]")
    link(item.url, "  watch it in Temporal")


def started_json(item: Started) -> dict[str, str]:
    return {"workflow_id": item.workflow_id, "run_id": item.run_id, "url": item.url}


def report_start(item: Started, as_json: bool, wait: bool) -> None:
    """What every start prints: the workflow id and its UI link (JSON waits for the result)."""
    if as_json:
        if not wait:
            emit_json(started_json(item))
        return
    started(item)
    if not wait:
        out.print(f"  follow it: pbxops status {item.workflow_id}")


def status_line(status: ProcedureStatus) -> str:
    parts = [f"[bold]{status.step}[/]"]
    elapsed = (datetime.now(UTC) - status.started_at).total_seconds()
    parts.append(f"{int(elapsed // 60)}m{int(elapsed % 60):02d}s")
    if status.sla_deadline and not status.escalated:
        parts.append(f"ticket at {when(status.sla_deadline)}")
    if status.ticket_id:
        parts.append(f"[yellow]escalated: ticket {status.ticket_id}[/]")
    return "  ·  ".join(parts)


def status_panel(status: ProcedureStatus, url: str, closed_as: str | None = None) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("procedure", f"{status.procedure.value}  ({status.workflow_id})")
    table.add_row("tenant", status.tenant_id)
    table.add_row("outcome", closed_as or status.outcome.value)
    table.add_row("step", status.step)
    if status.step_detail:
        table.add_row("detail", status.step_detail.replace("**", "").replace("`", ""))
    table.add_row("started", when(status.started_at))
    if status.started_by:
        table.add_row("started by", escape(status.started_by))
    for entry in status.audit:  # who confirmed, withdrew or changed it, in order
        table.add_row("changed by", changed_by(entry))
    table.add_row("finished", when(status.finished_at))
    table.add_row("SLA deadline", when(status.sla_deadline))
    table.add_row("escalated", f"yes, ticket {status.ticket_id}" if status.escalated else "no")
    if isinstance(status, DeletionStatus):
        table.add_row("phase", status.phase.value)
        if status.code_expires_at:
            table.add_row("code expires", when(status.code_expires_at))
        table.add_row("wrong codes", wrong_codes(status))
    if status.error:
        table.add_row("error", f"[red]{status.error}[/]")
    out.print(table)
    link(url)


def changed_by(entry: AuditEntry) -> str:
    """``lead@provider.example confirmed the deletion (2026-12-03 10:15:00 UTC)``, as text."""
    return escape(f"{entry.by} {entry.action} ({when(entry.at)})")


def wrong_codes(status: DeletionStatus) -> str:
    """``2 (3 attempts left)``, ``5 (locked)``; the count alone from an older worker."""
    if not status.max_wrong_codes:
        return str(status.wrong_codes)
    left = status.max_wrong_codes - status.wrong_codes
    if status.phase is Phase.LOCKED or left <= 0:
        return f"{status.wrong_codes} (locked)"
    return f"{status.wrong_codes} ({plural(left, 'attempt')} left)"


def link(url: str, label: str = "Temporal UI") -> None:
    """Links are printed whole on their own line: clickable on a terminal, copyable anywhere."""
    out.print(f"[dim]{label}:[/] [link={url}]{url}[/link]", overflow="ignore", crop=False)


# --- tables: they fit an 80-column terminal --------------------------------------------------
# No side borders and two spaces between columns (a boxed table spends 3 per column on rules);
# short values (steps, times, ticket ids) never wrap, free text wraps at spaces, and long ids
# fold whole rather than being cut (a procedure's full id is on its link line too).


def table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),  # with the box's blank separator: two spaces between columns
    )


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time from the platform's JSON; one without an offset is UTC (as stored)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def short_when(value: datetime | None, seconds: bool = False) -> str:
    """``03 Dec 10:15`` (UTC) for a table column; `when` has the year and seconds."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%d %b %H:%M:%S" if seconds else "%d %b %H:%M")


def procedures_table(items: list[Listed], title: str) -> None:
    listed = table(title)
    listed.add_column("workflow", overflow="fold", min_width=16)
    listed.add_column("tenant", overflow="fold", max_width=12)
    listed.add_column("step", no_wrap=True, overflow="ellipsis", max_width=22)
    listed.add_column("SLA (UTC)", no_wrap=True)
    listed.add_column("ticket", no_wrap=True)
    for item in items:
        # The Step attribute is only meaningful while the procedure runs; after, its outcome.
        step = (item.step or "-") if item.status == "running" else f"[dim]{item.status}[/]"
        ticket = f"[yellow]{item.ticket_id}[/]" if item.escalated and item.ticket_id else "-"
        listed.add_row(
            item.workflow_id, item.tenant_id, step, short_when(item.sla_deadline), ticket
        )
    out.print(listed)
    for item in items:
        link(item.url, item.workflow_id)


def tickets_table(tickets: list[dict[str, Any]]) -> None:
    listed = table("Support tickets")
    listed.add_column("id", no_wrap=True)
    listed.add_column("status", no_wrap=True)
    listed.add_column("tenant", overflow="fold", max_width=20)
    listed.add_column("subject", ratio=1)  # wraps at spaces
    listed.add_column("opened (UTC)", no_wrap=True)
    for ticket in tickets:
        colour = "yellow" if ticket["status"] == "open" else "green"
        listed.add_row(
            ticket["id"],
            f"[{colour}]{ticket['status']}[/]",
            ticket.get("tenant_id") or "-",
            ticket["subject"],
            short_when(parse_utc(ticket["created_at"])),
        )
    out.print(listed)
    for ticket in tickets:
        if ticket.get("workflow_url"):
            link(ticket["workflow_url"], ticket["id"])


def contact_label(contact: dict[str, Any]) -> str:
    if contact["partner_user_id"]:
        return f"{contact['name'] or contact['partner_user_id']} <{contact['email']}> (partner)"
    return str(contact["email"])
