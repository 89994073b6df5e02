"""Deadlines in business days, in the tenant's country and time zone.

"Up to 2 business days" means: the same local time of day, two working days later, skipping
weekends and the country's public holidays (the ``holidays`` package; Italy by default, where 2026
adds 4 October, St Francis' day).

Workflows get the deadline from a (local) activity, not by calling the function: holiday tables
and time-zone data change between deployments, and the deadline must be computed once and
recorded in history, so a replay never sees a different one.
"""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from temporalio import activity

from pbxops.contracts.calendar import (
    CALENDAR_DEADLINE,
    DEFAULT_COUNTRY,
    DEFAULT_TIMEZONE,
    BusinessDeadline,
    Deadline,
)


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_business_day(day: date, country: str = DEFAULT_COUNTRY) -> bool:
    return day.weekday() < 5 and day not in _calendar(country, day.year)


def add_business_days(
    start: datetime,
    days: int,
    country: str = DEFAULT_COUNTRY,
    timezone: str = DEFAULT_TIMEZONE,
) -> datetime:
    """``start`` plus ``days`` business days, at the same local wall-clock time; returns UTC.

    Counting is done on local calendar days, so a deadline across a daylight-saving change keeps
    its local hour (10:00 stays 10:00).
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, country):
            remaining -= 1
    deadline = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    return deadline.astimezone(ZoneInfo("UTC"))


@activity.defn(name=CALENDAR_DEADLINE)
async def business_deadline(request: BusinessDeadline) -> Deadline:
    return Deadline(
        at=add_business_days(
            request.start, request.business_days, request.country, request.timezone
        )
    )
