"""Calendar periods for reports: a day or a week in the user's time zone, the periods
before it, and the hour buckets they are made of.

Days follow the session zone (``--tz``): a day in Europe/Berlin starts at local
midnight and may have 23 or 25 hours. SQL buckets rows by whole hours elapsed since
the earliest period's start (integer arithmetic on epoch microseconds, far cheaper
than a zone-aware ``date_trunc``); the hour -> period map computed here makes that
correct across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aimon.analysis.toolkit.window import Window, zone

HOUR = timedelta(hours=1)
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class Period:
    """Whole local days [first_day, first_day + days) as a UTC window."""

    first_day: date
    days: int
    start: datetime
    end: datetime

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)

    @property
    def label(self) -> str:
        if self.days == 1:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    @property
    def hours(self) -> int:
        return round((self.end - self.start) / HOUR)


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)


def period(first_day: date, days: int, tz: str) -> Period:
    """The period of ``days`` local days starting on ``first_day``."""
    return Period(first_day, days, local_midnight(first_day, tz),
                  local_midnight(first_day + timedelta(days=days), tz))


def periods_back(last_day: date, days: int, count: int, tz: str) -> list[Period]:
    """The period of ``days`` days ending on ``last_day``, then ``count`` periods before it,
    newest first."""
    first = last_day - timedelta(days=days - 1)
    return [period(first - timedelta(days=days * i), days, tz) for i in range(count + 1)]


def local_day(instant: datetime, tz: str) -> date:
    """The local calendar day of a UTC instant."""
    return instant.astimezone(zone(tz)).date()


@dataclass(frozen=True)
class HourGrid:
    """Whole hours from ``origin``; ``period_of[h]`` is the index (in the list given) of
    the period holding hour h, or -1 for hours in none."""

    origin: datetime
    hours: int
    period_of: list[int]

    @property
    def origin_us(self) -> int:
        return int(self.origin.timestamp() * 1_000_000)

    def params(self) -> dict:
        return {"origin_us": self.origin_us, "period_of": self.period_of}


def hour_grid(periods: list[Period]) -> HourGrid:
    """The hour grid covering ``periods`` (which must start on whole hours of UTC offset)."""
    origin = min(p.start for p in periods)
    end = max(p.end for p in periods)
    hours = round((end - origin) / HOUR)
    period_of = [-1] * hours
    for index, p in enumerate(periods):
        first = round((p.start - origin) / HOUR)
        for h in range(first, first + p.hours):
            period_of[h] = index
    return HourGrid(origin, hours, period_of)


def days_in_month(day: date) -> int:
    """How many days the month of ``day`` has."""
    nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return (nxt - date(day.year, day.month, 1)).days
