"""The one source of "now", so tests move time instead of sleeping."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo


class Clock:
    """System time unless frozen; frozen time only moves when told to."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("frozen time must be timezone-aware")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        if self._frozen is None:
            raise RuntimeError("advance() needs a frozen clock")
        self._frozen += delta

    def unfreeze(self) -> None:
        self._frozen = None


clock = Clock()


def local_today(time_zone: tzinfo) -> date:
    """Today on the business calendar."""
    return clock.now().astimezone(time_zone).date()


def start_of_local_day(day: date, time_zone: tzinfo) -> datetime:
    """Midnight of a business-calendar day, as a UTC instant."""
    return datetime.combine(day, time.min, tzinfo=time_zone).astimezone(UTC)
