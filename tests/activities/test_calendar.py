"""Business-day deadlines with the dates the provider's calendar makes tricky."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import holidays
import pytest

from pbxops.activities.calendar import add_business_days, is_business_day

ROME = ZoneInfo("Europe/Rome")


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


@pytest.mark.parametrize(
    ("confirmed", "deadline", "why"),
    [
        (rome(2026, 12, 24, 10), rome(2026, 12, 29, 10), "25-26 Dec holidays, 27 Dec Sunday"),
        (rome(2026, 4, 3, 15), rome(2026, 4, 8, 15), "Easter Monday 6 Apr skipped"),
        (rome(2026, 11, 19, 9, 30), rome(2026, 11, 23, 9, 30), "Thursday → Monday over a weekend"),
        (rome(2026, 10, 1, 12), rome(2026, 10, 5, 12), "4 Oct 2026 is a Sunday holiday"),
        (rome(2026, 10, 2, 12), rome(2026, 10, 6, 12), "Friday → Tuesday"),
        (rome(2026, 11, 21, 11), rome(2026, 11, 24, 11), "from a Saturday: Monday, Tuesday"),
        (rome(2026, 3, 27, 10), rome(2026, 3, 31, 10), "across the DST change: still 10:00"),
    ],
)
def test_two_business_days(confirmed: datetime, deadline: datetime, why: str):
    result = add_business_days(confirmed.astimezone(UTC), 2)
    assert result == deadline, why
    assert result.tzinfo is not None and result.utcoffset().total_seconds() == 0


def test_italian_2026_calendar_includes_st_francis():
    # 4 Oct 2026 is a Sunday anyway, so check the calendar itself, not just the business day.
    assert date(2026, 10, 4) in holidays.country_holidays("IT", years=2026)
    assert date(2025, 10, 4) not in holidays.country_holidays("IT", years=2025)
    assert not is_business_day(datetime(2026, 12, 8).date())  # Immacolata, a Tuesday
    assert is_business_day(datetime(2026, 12, 9).date())


def test_another_country_uses_its_own_holidays():
    # 14 July is a holiday in France, not in Italy.
    start = datetime(2026, 7, 13, 10, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    fr = add_business_days(start, 1, country="FR", timezone="Europe/Paris")
    it = add_business_days(start, 1, country="IT", timezone="Europe/Paris")
    assert fr.astimezone(ZoneInfo("Europe/Paris")).day == 15
    assert it.astimezone(ZoneInfo("Europe/Paris")).day == 14


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_days(datetime(2026, 1, 1), 2)
