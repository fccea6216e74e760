"""Time text and windows: what --since/--until, --at, --date, --horizon, --older-than mean.

Logs are analysed offline, often days after they were written, so relative times
(``7d``, ``24h``, ``90m``) count back from the newest request in the database rather
than from the clock: yesterday's export reads the same today and next month. Absolute
times are ISO dates or times; a time without a zone is in the session's zone (``--tz``,
UTC by default). A window includes its start and excludes its end. Every option that
takes a time, a day, a span or a duration parses it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aimon.errors import InputError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

_SPAN_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end), in UTC."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def params(self) -> dict[str, datetime]:
        """DuckDB parameters $start and $end for ``ts >= $start AND ts < $end``."""
        return {"start": self.start, "end": self.end}


def parse_span(text: str) -> timedelta | None:
    """'7d' -> 7 days; None when the text is not a span."""
    m = _SPAN_RE.match(text)
    if not m:
        return None
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


def zone(tz: str) -> ZoneInfo:
    """The IANA zone called ``tz``; InputError when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {tz!r}; use an IANA name such as UTC or Europe/Berlin") from None


def parse_time(text: str, *, anchor: datetime | None, tz: str = "UTC", option: str = "time") -> datetime:
    """An absolute UTC instant from ISO text or a span counted back from ``anchor``."""
    span = parse_span(text)
    if span is not None:
        if anchor is None:
            raise InputError(f"{option} {text}: the database holds no requests to count back from")
        return anchor - span
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise InputError(
            f"{option} {text!r}: expected an ISO date or time (2026-11-01, 2026-11-01T09:30) "
            "or a span such as 7d, 24h, 90m"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(UTC)


def parse_days(text: str, option: str) -> int:
    """Whole days from '30d', '4w' or '30' (a --horizon)."""
    raw = text.strip()
    if raw.isdigit():
        return int(raw)
    span = parse_span(raw)
    if span is None or span < timedelta(days=1) or span % timedelta(days=1):
        raise UsageError(f"{option} {text!r}: give whole days such as 30d, 4w or 30")
    return span // timedelta(days=1)


def parse_duration(value: Any, where: str) -> timedelta:
    """A positive duration from a config value: a span ('5m', '1h', '7d') or whole minutes."""
    span = parse_span(str(value)) if isinstance(value, (str, int)) else None
    if isinstance(value, int) and not isinstance(value, bool):
        span = timedelta(minutes=value)
    if span is None or span <= timedelta(0):
        raise InputError(f"{where}: expected a duration such as 5m, 1h or 7d, not {value!r}")
    return span


def parse_day(text: str | None, newest: date | None | Callable[[], date | None], *,
              option: str = "--date") -> date | None:
    """A calendar day: ISO, 'latest' (the newest request's day, also the default) or days
    back from it ('1d'). ``newest`` may be a function giving that day, called only when
    the text needs it (an ISO date does not: one query less at start-up)."""
    if callable(newest):
        if text is not None and _iso_day(text) is not None:
            return _iso_day(text)
        newest = newest()
    if text is None:
        return newest
    raw = text.strip()
    if raw.lower() in ("latest", "newest"):
        return newest
    if raw.endswith("d") and raw[:-1].isdigit():
        if newest is None:
            raise InputError(f"{option} {text}: the database holds no requests to count back from")
        return newest - timedelta(days=int(raw[:-1]))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{option} {text!r}: expected an ISO date (2026-11-10), 'latest', or days "
                         "back from the newest request's day (1d)") from None


def _iso_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def cutoff(text: str, anchor: datetime, *, tz: str = "UTC", option: str) -> datetime:
    """A span counted back from ``anchor`` (the clock, for retention), or an ISO time."""
    span = parse_span(text)
    return anchor - span if span is not None else parse_time(text, anchor=None, tz=tz, option=option)


def ceil_minute(t: datetime) -> datetime:
    """``t`` rounded up to a whole minute (14:04:16 -> 14:05; 14:05 stays)."""
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(minutes=1)


NEWEST_SQL = "SELECT max(ts) FROM requests"
OLDEST_SQL = "SELECT min(ts) FROM requests"


def newest_request(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest request in the database started, or None if there are none.

    Fetches the whole result: DuckDB 2.0 refuses new work on a connection whose last
    result was only partly fetched."""
    value = con.execute(NEWEST_SQL).fetchall()[0][0]
    return None if value is None else value.astimezone(UTC)


def just_after(instant: datetime) -> datetime:
    """The exclusive end that still covers ``instant`` (a window's default end)."""
    return instant + timedelta(microseconds=1)


def time_or_newest(con: duckdb.DuckDBPyConnection, text: str | None, *, tz: str, option: str,
                   newest: datetime | None = None) -> datetime:
    """``text`` as a time (spans count back from the newest request), or just after the
    newest request when it is None. InputError when the database holds no request."""
    newest = newest if newest is not None else newest_request(con)
    if newest is None:
        raise InputError("the database holds no requests; load logs first with 'aimon ingest FILE'")
    return just_after(newest) if text is None else parse_time(text, anchor=newest, tz=tz, option=option)


def resolve(
    con: duckdb.DuckDBPyConnection,
    since: str | None,
    until: str | None,
    *,
    tz: str = "UTC",
    default_span: timedelta | None = None,
    allow_empty: bool = False,
) -> Window:
    """The window that --since/--until name; the whole history when both are absent
    and no default span is given. ``allow_empty``: a database with no request gives an
    empty window ending now instead of an error (for audits that report nothing found)."""
    newest = newest_request(con)
    if allow_empty and newest is None and not since and not until:
        now = datetime.now(UTC)
        return Window(now - timedelta(microseconds=1), now)
    end = parse_time(until, anchor=newest, tz=tz, option="--until") if until else (
        just_after(newest) if newest else datetime.now(UTC))
    if since:
        start = parse_time(since, anchor=newest, tz=tz, option="--since")
    elif default_span is not None:
        start = end - default_span
    else:
        row = con.execute(OLDEST_SQL).fetchall()
        start = row[0][0].astimezone(UTC) if row and row[0][0] is not None else end
    if start >= end:
        raise InputError(f"the window is empty: --since {start.isoformat()} is not before "
                         f"--until {end.isoformat()}")
    return Window(start, end)
