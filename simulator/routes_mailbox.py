"""The mailbox's read API (Mailpit-compatible) and its HTML inbox. Open, as Mailpit's are."""

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from simulator.db import Database
from simulator.deps import get_db
from simulator.mailbox import (
    delete_messages,
    list_messages,
    message_not_found,
    read_message,
    read_raw,
)
from simulator.models import Message
from simulator.pages import inbox_page, message_page

api = APIRouter(prefix="/api/v1", tags=["mailbox"])
pages = APIRouter(tags=["pages"])


class DeleteIn(BaseModel):
    """Mailpit's body: the IDs to delete; none (or no body) deletes every message."""

    IDs: list[str] = []


def _get(session: Session, message_id: str) -> Message:
    row = session.get(Message, message_id)
    if row is None:
        raise message_not_found(message_id)
    return row


@api.get("/messages")
def messages(
    start: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=1000),
    db: Database = Depends(get_db),
) -> dict[str, Any]:
    with db.reading_connection() as connection:
        return list_messages(connection, start=start, limit=limit)


@api.delete("/messages", response_class=PlainTextResponse)
def delete_all(body: DeleteIn | None = None, db: Database = Depends(get_db)) -> str:
    with db.transaction() as session:
        delete_messages(session, body.IDs if body else None)
    return "ok"


@api.get("/search")
def search(
    query: str = Query(min_length=1),
    start: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=1000),
    db: Database = Depends(get_db),
) -> dict[str, Any]:
    with db.reading_connection() as connection:
        return list_messages(connection, start=start, limit=limit, query=query)


@api.get("/message/{message_id}")
def message(message_id: str, db: Database = Depends(get_db)) -> dict[str, Any]:
    with db.reading_connection() as connection:
        return read_message(connection, message_id)


@api.get("/message/{message_id}/raw")
def raw(message_id: str, db: Database = Depends(get_db)) -> Response:
    with db.reading_connection() as connection:
        source = read_raw(connection, message_id)
    return Response(source, media_type="text/plain; charset=utf-8")


@pages.get("/inbox", response_class=HTMLResponse)
def inbox(db: Database = Depends(get_db)) -> HTMLResponse:
    with db.reading() as session:
        total = session.scalar(select(func.count()).select_from(Message)) or 0
        rows = session.scalars(select(Message).order_by(Message.created_at.desc()).limit(200))
        return HTMLResponse(inbox_page(rows.all(), total))


@pages.get("/inbox/{message_id}", response_class=HTMLResponse)
def inbox_message(message_id: str, db: Database = Depends(get_db)) -> HTMLResponse:
    with db.reading() as session:
        return HTMLResponse(message_page(_get(session, message_id)))
