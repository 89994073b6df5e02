"""Email as procedures ask for it; the mail activity turns it into a real SMTP message."""

from pydantic import BaseModel, EmailStr, Field


class EmailMessage(BaseModel):
    to: list[EmailStr] = Field(min_length=1)
    subject: str
    text: str
    html: str | None = None


class EmailSent(BaseModel):
    message_id: str
    recipients: int
