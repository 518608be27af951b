"""Calendar periods of the business time zone, and the UTC instants that bound them in queries."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_api.core.clock import clock
from crm_api.core.errors import InvalidInput

MAX_PERIOD_MONTHS = 36
# The first year a report can ask for: a default period reaches a year back from it, which the calendar still holds.
FIRST_YEAR = 1900
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def month_start(day: date, shift: int) -> date:
    """The first day of the month `shift` months after (or before) `day`'s."""
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from `first`'s to `last`'s, both included."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [month_start(first, i) for i in range(count)]


def local_midnight(day: date, time_zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=time_zone).astimezone(UTC)


def local_period(start: date | None, end: date | None, time_zone: ZoneInfo) -> tuple[date, date]:
    """The inclusive business-calendar period asked for; by default the twelve months up to today."""
    end = end or clock.now().astimezone(time_zone).date()
    start = start or month_start(end, -11)
    if start > end:
        raise InvalidInput("from", "The period starts after it ends", code="report.bad_period")
    if len(months_between(start, end)) > MAX_PERIOD_MONTHS:
        raise InvalidInput("from", f"The period may span at most {MAX_PERIOD_MONTHS} months", code="report.bad_period")
    return start, end


def local_end(day: date, time_zone: ZoneInfo) -> datetime:
    """The instant `day` ends: the next day's midnight; the calendar's last day, which has no next, runs to the end of time."""
    return local_midnight(day + timedelta(days=1), time_zone) if day < date.max else END_OF_TIME


def utc_bounds(start: date, end: date, time_zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the business time zone, as UTC instants."""
    return local_midnight(start, time_zone), local_end(end, time_zone)
