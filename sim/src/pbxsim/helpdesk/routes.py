"""The helpdesk: support tickets opened, commented and resolved by procedures."""

import re

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.deps import get_db, require_token
from pbxsim.errors import NotFoundError
from pbxsim.helpdesk.models import Ticket, TicketComment
from pbxsim.helpdesk.schemas import CommentIn, CommentOut, ResolveIn, TicketIn, TicketOut
from pbxsim.pages import helpdesk_page

router = APIRouter(prefix="/helpdesk", tags=["helpdesk"], dependencies=[Depends(require_token)])
# The HTML list is for people following a ticket's link in a browser: open, like the inbox.
pages = APIRouter(tags=["pages"])

_REF = re.compile(r"T-(\d{1,12})")


def ticket_ref(ticket: Ticket) -> str:
    return f"T-{ticket.id:06d}"


def ticket_out(ticket: Ticket) -> TicketOut:
    return TicketOut(
        id=ticket_ref(ticket),
        subject=ticket.subject,
        body=ticket.body,
        status=ticket.status,
        tenant_id=ticket.tenant_id,
        workflow_id=ticket.workflow_id,
        workflow_url=ticket.workflow_url,
        created_at=ticket.created_at,
        resolved_at=ticket.resolved_at,
        comments=[CommentOut(body=c.body, created_at=c.created_at) for c in ticket.comments],
    )


def _get(session: Session, ref: str) -> Ticket:
    match = _REF.fullmatch(ref)
    ticket = session.get(Ticket, int(match.group(1))) if match else None
    if ticket is None:
        raise NotFoundError(f"ticket '{ref}' not found")
    return ticket


def _find(
    session: Session, status: str | None, tenant_id: str | None, workflow_id: str | None
) -> list[TicketOut]:
    query = select(Ticket).order_by(Ticket.id.desc())
    if status:
        query = query.where(Ticket.status == status)
    if tenant_id:
        query = query.where(Ticket.tenant_id == tenant_id)
    if workflow_id:
        query = query.where(Ticket.workflow_id == workflow_id)
    return [ticket_out(t) for t in session.scalars(query).all()]


@router.post("/tickets", status_code=201)
def open_ticket(body: TicketIn, db: Database = Depends(get_db)) -> TicketOut:
    with db.transaction() as session:
        ticket = Ticket(**body.model_dump(), status="open", created_at=utcnow())
        session.add(ticket)
        session.flush()  # assigns the number
        return ticket_out(ticket)


@router.get("/tickets")
def tickets(
    status: str | None = Query(default=None, pattern="^(open|resolved)$"),
    tenant_id: str | None = None,
    workflow_id: str | None = None,
    db: Database = Depends(get_db),
) -> list[TicketOut]:
    with db.reading() as session:
        return _find(session, status, tenant_id, workflow_id)


@router.get("/tickets/{ticket_id}")
def ticket(ticket_id: str, db: Database = Depends(get_db)) -> TicketOut:
    with db.reading() as session:
        return ticket_out(_get(session, ticket_id))


@router.post("/tickets/{ticket_id}/comments", status_code=201)
def comment(ticket_id: str, body: CommentIn, db: Database = Depends(get_db)) -> TicketOut:
    with db.transaction() as session:
        ticket = _get(session, ticket_id)
        ticket.comments.append(TicketComment(body=body.body, created_at=utcnow()))
        session.flush()
        return ticket_out(ticket)


@router.post("/tickets/{ticket_id}/resolve")
def resolve(
    ticket_id: str, body: ResolveIn | None = None, db: Database = Depends(get_db)
) -> TicketOut:
    with db.transaction() as session:
        ticket = _get(session, ticket_id)
        if ticket.status == "resolved":
            return ticket_out(ticket)  # already resolved: a no-op, not an error
        now = utcnow()
        if body is not None and body.comment:
            ticket.comments.append(TicketComment(body=body.comment, created_at=now))
        ticket.status = "resolved"
        ticket.resolved_at = now
        session.flush()
        return ticket_out(ticket)


@pages.get("/helpdesk", response_class=HTMLResponse)
def helpdesk_html(db: Database = Depends(get_db)) -> HTMLResponse:
    with db.transaction() as session:
        return HTMLResponse(helpdesk_page(_find(session, None, None, None)))
