"""Plain HTML pages for people: the inbox and the helpdesk.

Everything shown is escaped; an email's own HTML is shown in a sandboxed iframe (``srcdoc``), so
its styles cannot leak into the page and its scripts never run.
"""

from collections.abc import Iterable
from datetime import datetime
from html import escape
from urllib.parse import quote

from pbxsim.clock import as_utc
from pbxsim.helpdesk.schemas import TicketOut
from pbxsim.mailbox.models import Message

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { background: #f4f4f4; }
pre { white-space: pre-wrap; background: #f8f8f8; padding: .8rem; }
iframe { width: 100%; height: 60vh; border: 1px solid #ccc; }
.open { color: #b35c00; font-weight: bold; } .resolved { color: #2e7d32; }
.muted { color: #777; font-size: .9em; }
nav a { margin-right: 1rem; }
"""


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return escape(as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC"))


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    # The lists refresh themselves so a demo shows new mail and tickets as they arrive.
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        "<nav><a href='/inbox'>Inbox</a><a href='/helpdesk'>Helpdesk</a></nav>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


def _safe_link(url: str | None, text: str | None = None) -> str:
    """A clickable link for http(s) URLs only: never a ``javascript:`` one."""
    if not url:
        return ""
    label = escape(text or url)
    if not url.startswith(("http://", "https://")):
        return label
    href = escape(url, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _addresses(entries: Iterable[dict[str, str]]) -> str:
    return escape(
        ", ".join(f"{e['Name']} <{e['Address']}>" if e["Name"] else e["Address"] for e in entries)
    )


def inbox_page(messages: Iterable[Message], total: int) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{_when(m.created_at)}</td>"
        f"<td>{_addresses([{'Name': m.from_name, 'Address': m.from_address}])}</td>"
        f"<td>{_addresses(m.to)}</td>"
        f"<td><a href='/inbox/{quote(m.id, safe='')}'>{escape(m.subject or '(no subject)')}</a>"
        f"<div class='muted'>{escape(m.snippet)}</div></td>"
        "</tr>"
        for m in messages
    )
    body = (
        f"<p class='muted'>{total} {'message' if total == 1 else 'messages'}, newest first.</p>"
        "<table><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr>"
        f"{rows or '<tr><td colspan=4>No messages yet.</td></tr>'}</table>"
    )
    return _page("Inbox", body, refresh=True)


def message_page(m: Message) -> str:
    if m.html:
        content = (
            f'<iframe sandbox srcdoc="{escape(m.html, quote=True)}" '
            'title="message HTML part"></iframe>'
        )
        if m.text:
            content += f"<details><summary>Text part</summary><pre>{escape(m.text)}</pre></details>"
    else:
        content = f"<pre>{escape(m.text)}</pre>"
    body = (
        "<table>"
        f"<tr><th>From</th><td>{_addresses([{'Name': m.from_name, 'Address': m.from_address}])}"
        "</td></tr>"
        f"<tr><th>To</th><td>{_addresses(m.to)}</td></tr>"
        f"<tr><th>Subject</th><td>{escape(m.subject)}</td></tr>"
        f"<tr><th>Date</th><td>{_when(m.date)}</td></tr>"
        f"<tr><th>Message-ID</th><td>{escape(m.message_id)}</td></tr>"
        "</table>"
        f"<p><a href='/api/v1/message/{quote(m.id, safe='')}/raw'>Raw source</a></p>"
        f"{content}"
    )
    return _page(m.subject or "(no subject)", body)


def helpdesk_page(tickets: Iterable[TicketOut]) -> str:
    items = []
    for t in tickets:
        comments = "".join(
            f"<li><span class='muted'>{_when(c.created_at)}</span><pre>{escape(c.body)}</pre></li>"
            for c in t.comments
        )
        workflow = _safe_link(t.workflow_url, t.workflow_id) or escape(t.workflow_id or "")
        items.append(
            "<tr>"
            f"<td>{escape(t.id)}</td>"
            f"<td class='{escape(t.status)}'>{escape(t.status)}</td>"
            f"<td>{escape(t.tenant_id or '')}</td>"
            f"<td><strong>{escape(t.subject)}</strong><pre>{escape(t.body)}</pre>"
            f"{f'<ul>{comments}</ul>' if comments else ''}</td>"
            f"<td>{workflow}</td>"
            f"<td>{_when(t.created_at)}<br>{_when(t.resolved_at)}</td>"
            "</tr>"
        )
    body = (
        "<table><tr><th>Ticket</th><th>Status</th><th>Tenant</th><th>Subject</th>"
        "<th>Workflow</th><th>Opened / resolved</th></tr>"
        f"{''.join(items) or '<tr><td colspan=6>No tickets.</td></tr>'}</table>"
    )
    return _page("Helpdesk", body, refresh=True)
