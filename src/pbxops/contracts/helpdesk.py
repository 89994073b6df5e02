"""Support tickets opened by procedures whose deadline passed."""

from pydantic import BaseModel


class OpenTicket(BaseModel):
    """The activity adds the workflow id and its Temporal UI link itself."""

    subject: str
    body: str
    tenant_id: str


class Ticket(BaseModel):
    id: str
    status: str
    url: str | None = None


class CommentOnTicket(BaseModel):
    ticket_id: str
    body: str


class ResolveTicket(BaseModel):
    ticket_id: str
    comment: str
