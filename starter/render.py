"""How the CLI shows things: rich tables and progress for people, JSON for scripts."""

import json
import sys
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from contracts.procedures import ProcedureStatus
from starter.procedures import Listed, Started

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


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
    out.print(f"  watch it in Temporal: [link={item.url}]{item.url}[/link]")


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
    table.add_column(style="dim")
    table.add_column()
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
    table.add_row("Temporal UI", f"[link={url}]{url}[/link]")
    out.print(table)


def procedures_table(items: list[Listed], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("workflow", "tenant", "step", "status", "SLA deadline", "escalated", "UI"):
        table.add_column(column, overflow="fold")
    for item in items:
        escalated = f"[yellow]ticket {item.ticket_id}[/]" if item.escalated else "no"
        table.add_row(
            item.workflow_id,
            item.tenant_id,
            item.step or "-",
            item.status,
            when(item.sla_deadline),
            escalated,
            f"[link={item.url}]{item.url}[/link]",
        )
    out.print(table)


def tickets_table(tickets: list[dict[str, Any]]) -> None:
    table = Table(title="Support tickets", title_justify="left")
    for column in ("id", "status", "tenant", "subject", "opened", "workflow"):
        table.add_column(column, overflow="fold")
    for ticket in tickets:
        colour = "yellow" if ticket["status"] == "open" else "green"
        link = ticket.get("workflow_url") or ""
        table.add_row(
            ticket["id"],
            f"[{colour}]{ticket['status']}[/]",
            ticket.get("tenant_id") or "-",
            ticket["subject"],
            ticket["created_at"][:19].replace("T", " "),
            f"[link={link}]{link}[/link]" if link else "-",
        )
    out.print(table)
