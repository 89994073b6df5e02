"""A count and its noun, in English: "1 minute", "2 minutes", "1 Admin", "2,000 users".

One helper for every place that puts a number before a word (workflows, activities, the CLI), so
no message says "1 minutes" or hedges with "number(s)". Pure and deterministic: the workflow
sandbox shares it with the other contracts. Emails in other languages plural through their
templates' catalogues instead (activities/emails.py).
"""

from datetime import datetime, timedelta


def plural(count: int | float, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun that agrees with it; the plural is ``singular + "s"`` unless given
    (``plural(2, "licence")``, ``plural(1, "business day")``, ``plural(3, "entry", "entries")``).
    Whole numbers get thousands separators; a fraction is shown as short as it is (1.5)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    number = f"{count:,}" if isinstance(count, int) else f"{count:,g}"
    return f"{number} {word}"


def minutes_or_hours(delta: timedelta) -> str:
    """A wait of minutes as minutes, of two hours or more as whole hours; under a minute, in
    seconds."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return plural(seconds, "second")
    minutes = seconds // 60
    return plural(minutes, "minute") if minutes < 120 else plural(minutes // 60, "hour")


def days_or_seconds(delta: timedelta) -> str:
    """A validity counted in days ("90 days", "1.5 days"); under a day, in seconds."""
    days = delta.total_seconds() / 86400
    return plural(days, "day") if days >= 1 else plural(int(delta.total_seconds()), "second")


def utc_time(value: datetime | None) -> str:
    """A moment as the CLI, the UI and tickets show it: ``2026-11-22 17:07:03 UTC`` (``-`` if
    none)."""
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "-"
