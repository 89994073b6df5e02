"""The mailbox: an SMTP server that stores every message, read back in Mailpit's JSON shapes.

A message whose Message-ID is already stored is accepted and dropped (Mailpit's
``--ignore-duplicate-ids``): senders derive the Message-ID from their idempotency key, so a
retried send shows once.

Like a real server it offers SMTPUTF8 (RFC 6531): an address such as ``user@bücher.example`` or
``δοκιμή@παράδειγμα.example`` is accepted as UTF-8 in the envelope and the headers, and shown as
written.
"""

import asyncio
import functools
import re
import secrets
import shlex
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, message_from_string, policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pbxsim.clock import as_utc, utcnow
from pbxsim.db import Database
from pbxsim.errors import NotFoundError
from pbxsim.mailbox.models import Message
from pbxsim.models import AnyRow, table

log = structlog.get_logger("simulator.mailbox")

SNIPPET_CHARS = 250


class _ParsedOnce(HeaderRegistry):
    """Parses each distinct header once. The parser and ``get_body`` ask for a part's
    Content-Type many times, and the default policy parses the header afresh on every ask: that
    was most of the CPU of receiving a message. Header objects are immutable, so sharing is safe."""

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance for the process's lifetime
    def __call__(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)


class _Unfolding(policy.EmailPolicy):
    """Unfolds a header as mail clients show it. A sender may fold right after the colon
    (``Subject:`` CRLF SP ``text``, when the first word does not fit the line); the default
    policy then keeps the fold's space as the value's first character, and the subject showed
    with a leading space. The whitespace after the colon is never part of what a reader sees."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, value.lstrip(" \t\r\n")


# policy.default, unfolded as above, with the cache above.
_POLICY = _Unfolding().clone(header_factory=_ParsedOnce())


@dataclass
class ParsedMessage:
    message_id: str
    from_name: str
    from_address: str
    to: list[dict[str, str]]
    subject: str
    date: datetime
    text: str
    html: str
    raw: bytes


def _addresses(msg: EmailMessage, header: str) -> list[dict[str, str]]:
    try:
        value = msg[header]
        found: tuple[Address, ...] = value.addresses if value is not None else ()
        return [{"Name": a.display_name, "Address": a.addr_spec} for a in found]
    except (AttributeError, ValueError, IndexError):
        # A header the strict parser rejects: fall back to the lenient one.
        raw = msg.get_all(header, failobj=[])
        return [{"Name": n, "Address": a} for n, a in getaddresses([str(v) for v in raw]) if a]


def _part_text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _date(msg: EmailMessage, fallback: datetime) -> datetime:
    value = msg.get("Date")
    if not value:
        return fallback
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return fallback
    return as_utc(parsed)


def _message_id(msg: EmailMessage) -> str:
    # Stored without angle brackets, as Mailpit shows it; a message without one gets its own.
    value = str(msg.get("Message-ID") or "").strip().strip("<>").strip()
    return value or f"{secrets.token_hex(16)}@simulator"


def parse_message(
    raw: bytes, envelope_to: list[str] | None = None, *, utf8: bool = False
) -> ParsedMessage:
    """``utf8``: sent with SMTPUTF8, so the headers are UTF-8 text rather than ASCII."""
    now = utcnow()
    if utf8:
        msg = message_from_string(raw.decode("utf-8", "surrogateescape"), policy=_POLICY)
    else:
        msg = message_from_bytes(raw, policy=_POLICY)
    assert isinstance(msg, EmailMessage)
    sender = _addresses(msg, "From")
    to = _addresses(msg, "To") or [{"Name": "", "Address": a} for a in envelope_to or []]
    return ParsedMessage(
        message_id=_message_id(msg),
        from_name=sender[0]["Name"] if sender else "",
        from_address=sender[0]["Address"] if sender else "",
        to=to,
        subject=str(msg.get("Subject") or ""),
        date=_date(msg, now),
        text=_part_text(msg, "plain"),
        html=_part_text(msg, "html"),
        raw=raw,
    )


def _snippet(parsed: ParsedMessage) -> str:
    text = parsed.text or re.sub(r"<[^>]+>", " ", parsed.html)
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "..."


# Plain statements on the table (no ORM objects): every message received runs both, and the
# read API serves from rows of the columns it shows.
_M = table(Message)
_EXISTS = select(_M.c.id).where(_M.c.message_id == bindparam("message_id"))
_INSERT = insert(_M)


def store_message(db: Database, parsed: ParsedMessage) -> str | None:
    """Store a message; returns its ID, or None when its Message-ID was already stored."""
    row = {
        "id": secrets.token_urlsafe(16),
        "message_id": parsed.message_id,
        "from_name": parsed.from_name,
        "from_address": parsed.from_address,
        "to": parsed.to,
        "to_search": ", ".join(f"{a['Name']} <{a['Address']}>" for a in parsed.to).lower(),
        "subject": parsed.subject,
        "date": parsed.date,
        "created_at": utcnow(),
        "text": parsed.text,
        "html": parsed.html,
        "snippet": _snippet(parsed),
        "size": len(parsed.raw),
        "raw": parsed.raw,
    }
    try:
        with db.connection() as connection:
            # Checked first for a clean answer; the unique constraint settles concurrent sends.
            if connection.execute(_EXISTS, {"message_id": parsed.message_id}).first():
                return None
            connection.execute(_INSERT, row)
    except IntegrityError:
        return None
    return str(row["id"])


# --- Reading, in Mailpit's shapes ----------------------------------------------------------------


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# What a message's summary and its detail show (never the raw source).
_SUMMARY = (
    _M.c.id,
    _M.c.message_id,
    _M.c.from_name,
    _M.c.from_address,
    _M.c.to,
    _M.c.subject,
    _M.c.created_at,
    _M.c.snippet,
    _M.c.size,
)
_DETAIL = select(*_SUMMARY, _M.c.date, _M.c.text, _M.c.html).where(_M.c.id == bindparam("id"))
_RAW = select(_M.c.raw).where(_M.c.id == bindparam("id"))
_TOTAL = select(func.count()).select_from(_M)

MessageRow = Message | AnyRow
"""A stored message, or a row of the columns read."""


def _from(row: MessageRow) -> dict[str, str]:
    return {"Name": row.from_name, "Address": row.from_address}


def summary(row: MessageRow) -> dict[str, Any]:
    return {
        "ID": row.id,
        "MessageID": row.message_id,
        "From": _from(row),
        "To": row.to,
        "Subject": row.subject,
        "Created": _iso(row.created_at),
        "Snippet": row.snippet,
        "Size": row.size,
    }


def detail(row: MessageRow) -> dict[str, Any]:
    return {
        "ID": row.id,
        "MessageID": row.message_id,
        "From": _from(row),
        "To": row.to,
        "Subject": row.subject,
        "Date": _iso(row.date),
        "Created": _iso(row.created_at),
        "Text": row.text,
        "HTML": row.html,
        "Size": row.size,
    }


def _term_filter(term: str) -> ColumnElement[bool]:
    """One search term, Mailpit syntax: ``to:``, ``from:``, ``subject:`` and plain words match
    substrings, case-insensitively; ``message-id:`` matches exactly."""
    prefix, _, value = term.partition(":")
    prefix = prefix.lower()
    if value and prefix == "message-id":
        return _M.c.message_id == value.strip("<>")
    columns = {
        "to": [_M.c.to_search],
        "from": [_M.c.from_name, _M.c.from_address],
        "subject": [_M.c.subject],
    }
    if value and prefix in columns:
        needle = value.lower()
        return or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns[prefix]))
    needle = term.lower()
    return or_(
        func.lower(_M.c.subject).contains(needle, autoescape=True),
        func.lower(_M.c.text).contains(needle, autoescape=True),
    )


def search_terms(query: str) -> list[str]:
    try:
        return shlex.split(query)
    except ValueError:  # an unbalanced quote: take the words as they are
        return query.split()


def list_messages(
    connection: Connection, *, start: int, limit: int, query: str | None = None
) -> dict[str, Any]:
    total = connection.execute(_TOTAL).scalar() or 0
    conditions = [_term_filter(t) for t in search_terms(query)] if query else []
    matching = total
    if conditions:
        counted = connection.execute(_TOTAL.where(*conditions)).scalar()
        matching = counted or 0
    rows = connection.execute(
        select(*_SUMMARY)
        .where(*conditions)
        .order_by(_M.c.created_at.desc(), _M.c.id)
        .offset(start)
        .limit(limit)
    ).all()
    return {
        "total": total,
        "messages_count": matching,
        "count": len(rows),
        "start": start,
        "messages": [summary(row) for row in rows],
    }


def message_not_found(message_id: str) -> NotFoundError:
    return NotFoundError(f"message '{message_id}' not found")


def read_message(connection: Connection, message_id: str) -> dict[str, Any]:
    row = connection.execute(_DETAIL, {"id": message_id}).first()
    if row is None:
        raise message_not_found(message_id)
    return detail(row)


def read_raw(connection: Connection, message_id: str) -> bytes:
    raw = connection.execute(_RAW, {"id": message_id}).scalar()
    if raw is None:
        raise message_not_found(message_id)
    return bytes(raw)


def delete_messages(session: Session, ids: list[str] | None = None) -> None:
    statement = delete(Message)
    if ids:
        statement = statement.where(Message.id.in_(ids))
    session.execute(statement)


# --- SMTP --------------------------------------------------------------------------------------


class StoringHandler:
    """aiosmtpd handler: every accepted message goes to the database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        parsed = parse_message(
            raw, [str(rcpt) for rcpt in envelope.rcpt_tos], utf8=bool(envelope.smtp_utf8)
        )
        stored = await asyncio.to_thread(store_message, self._db, parsed)
        if stored is None:
            log.info("duplicate message dropped", message_id=parsed.message_id)
        else:
            log.info("message stored", id=stored, message_id=parsed.message_id, to=len(parsed.to))
        return "250 Message accepted for delivery"


def smtp_controller(db: Database, host: str, port: int) -> Controller:
    """The SMTP server in its own thread and event loop (that is how aiosmtpd runs it)."""
    return Controller(
        StoringHandler(db), hostname=host, port=port, ready_timeout=10.0, enable_SMTPUTF8=True
    )
