"""Request and response bodies of the helpdesk API (see API.md)."""

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from pbxsim.schemas import http_url


class TicketIn(BaseModel):
    subject: str = Field(min_length=1, max_length=500)
    body: str
    tenant_id: str | None = None
    workflow_id: str | None = None
    workflow_url: str | None = None

    _check_url = field_validator("workflow_url")(http_url)


class CommentIn(BaseModel):
    body: str = Field(min_length=1)


class ResolveIn(BaseModel):
    comment: str | None = None


class CommentOut(BaseModel):
    body: str
    created_at: datetime


class TicketOut(BaseModel):
    id: str
    subject: str
    body: str
    status: str
    tenant_id: str | None
    workflow_id: str | None
    workflow_url: str | None
    created_at: datetime
    resolved_at: datetime | None
    comments: list[CommentOut]
