"""The mailbox's read API (Mailpit-compatible) and its HTML inbox.

Every message the platform's users get is here, deletion and activation codes included, so both
need the simulator's admin token (``X-Admin-Token``), never the platform token. The HTML inbox is
for a person with a browser: in dev mode (``make up``, ``--dev``) it is open; otherwise open it
once as ``/inbox?admin_token=<token>``, which keeps the token in an HttpOnly cookie.
"""

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pbxsim.db import Database
from pbxsim.deps import (
    ADMIN_COOKIE,
    ADMIN_HEADER,
    ADMIN_REQUIRED,
    admin_matches,
    get_db,
    get_settings,
    require_admin,
)
from pbxsim.mailbox.models import Message
from pbxsim.mailbox.server import (
    delete_messages,
    list_messages,
    message_not_found,
    read_message,
    read_raw,
)
from pbxsim.pages import inbox_page, message_page

ADMIN_QUERY = "admin_token"


def _check_inbox(request: Request) -> None:
    """Dev mode, or the admin token as the header or the cookie the query set."""
    settings = get_settings(request)
    if settings.dev_mode:
        return
    presented = request.headers.get(ADMIN_HEADER) or request.cookies.get(ADMIN_COOKIE)
    if not admin_matches(presented, settings.admin):
        raise HTTPException(
            status_code=401, detail=f"{ADMIN_REQUIRED}: open /inbox?{ADMIN_QUERY}=<token>"
        )


async def require_inbox(request: Request) -> None:
    _check_inbox(request)


api = APIRouter(prefix="/api/v1", tags=["mailbox"], dependencies=[Depends(require_admin)])
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


def _login(request: Request) -> Response | None:
    """``?admin_token=`` with the right token: keep it in a cookie, drop it from the URL."""
    presented = request.query_params.get(ADMIN_QUERY)
    if presented is None:
        return None
    if not admin_matches(presented, get_settings(request).admin):
        raise HTTPException(status_code=401, detail=ADMIN_REQUIRED)
    response = RedirectResponse(request.url.path, status_code=303)
    response.set_cookie(ADMIN_COOKIE, presented, httponly=True, samesite="strict", path="/inbox")
    return response


@pages.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, db: Database = Depends(get_db)) -> Response:
    login = _login(request)
    if login is not None:
        return login
    _check_inbox(request)
    with db.reading() as session:
        total = session.scalar(select(func.count()).select_from(Message)) or 0
        rows = session.scalars(select(Message).order_by(Message.created_at.desc()).limit(200))
        return HTMLResponse(inbox_page(rows.all(), total))


@pages.get(
    "/inbox/{message_id}", response_class=HTMLResponse, dependencies=[Depends(require_inbox)]
)
def inbox_message(message_id: str, db: Database = Depends(get_db)) -> HTMLResponse:
    with db.reading() as session:
        return HTMLResponse(message_page(_get(session, message_id)))
