"""Business-day deadlines, asked of the calendar activity."""

from datetime import datetime

from pydantic import BaseModel

DEFAULT_COUNTRY = "IT"
DEFAULT_TIMEZONE = "Europe/Rome"
CALENDAR_DEADLINE = "calendar.business_deadline"


class BusinessDeadline(BaseModel):
    start: datetime
    business_days: int
    country: str = DEFAULT_COUNTRY
    timezone: str = DEFAULT_TIMEZONE


class Deadline(BaseModel):
    at: datetime
