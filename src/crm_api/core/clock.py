"""The one source of "now", so tests move time instead of sleeping."""

from datetime import UTC, datetime, timedelta


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
