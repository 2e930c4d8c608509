"""Time is passed into the domain, never read inside it; this is where it is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(tz=UTC)


class FixedClock(Clock):
    """A clock for tests and imports: it says what it is told and moves when told."""

    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
