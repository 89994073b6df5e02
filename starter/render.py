"""How the CLI shows things: rich tables and progress for people, JSON for scripts."""

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contracts.procedures import ProcedureStatus
from starter.procedures import Listed, Started

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
    table.add_row("finished", when(status.finished_at))
    table.add_row("SLA deadline", when(status.sla_deadline))
    table.add_row("escalated", f"yes, ticket {status.ticket_id}" if status.escalated else "no")
    if status.error:
        table.add_row("error", f"[red]{status.error}[/]")
    out.print(table)
    link(url)


def link(url: str, label: str = "Temporal UI") -> None:
    """Links are printed whole on their own line: clickable on a terminal, copyable anywhere."""
    out.print(f"[dim]{label}:[/] [link={url}]{url}[/link]", overflow="ignore", crop=False)


def procedures_table(items: list[Listed], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("workflow", "tenant", "step", "status", "SLA deadline", "escalated"):
        table.add_column(column, overflow="fold")
    for item in items:
        escalated = f"[yellow]ticket {item.ticket_id}[/]" if item.escalated else "no"
        # The Step attribute is only meaningful while the procedure runs.
        step = (item.step or "-") if item.status == "running" else "-"
        table.add_row(
            item.workflow_id,
            item.tenant_id,
            step,
            item.status,
            when(item.sla_deadline),
            escalated,
        )
    out.print(table)
    for item in items:
        link(item.url, item.workflow_id)


def tickets_table(tickets: list[dict[str, Any]]) -> None:
    table = Table(title="Support tickets", title_justify="left")
    for column in ("id", "status", "tenant", "subject", "opened"):
        table.add_column(column, overflow="fold")
    for ticket in tickets:
        colour = "yellow" if ticket["status"] == "open" else "green"
        table.add_row(
            ticket["id"],
            f"[{colour}]{ticket['status']}[/]",
            ticket.get("tenant_id") or "-",
            ticket["subject"],
            ticket["created_at"][:16].replace("T", " "),
        )
    out.print(table)
    for ticket in tickets:
        if ticket.get("workflow_url"):
            link(ticket["workflow_url"], ticket["id"])
