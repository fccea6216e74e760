"""Time windows: what --since/--until mean.

Logs are analysed offline, often days after they were written, so relative times
(``7d``, ``24h``, ``90m``) count back from the newest request in the database rather
than from the clock: yesterday's export reads the same today and next month. Absolute
times are ISO dates or times; a time without a zone is in the session's zone (``--tz``,
UTC by default). A window includes its start and excludes its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from aimon.errors import InputError

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


NEWEST_SQL = "SELECT max(ts) FROM requests"


def newest_request(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest request in the database started, or None if there are none."""
    row = con.execute(NEWEST_SQL).fetchone()
    return row[0].astimezone(UTC) if row and row[0] is not None else None


def resolve(
    con: duckdb.DuckDBPyConnection,
    since: str | None,
    until: str | None,
    *,
    tz: str = "UTC",
    default_span: timedelta | None = None,
) -> Window:
    """The window that --since/--until name; the whole history when both are absent
    and no default span is given."""
    newest = newest_request(con)
    end = parse_time(until, anchor=newest, tz=tz, option="--until") if until else (
        newest + timedelta(microseconds=1) if newest else datetime.now(UTC))
    if since:
        start = parse_time(since, anchor=newest, tz=tz, option="--since")
    elif default_span is not None:
        start = end - default_span
    else:
        row = con.execute("SELECT min(ts) FROM requests").fetchone()
        start = row[0].astimezone(UTC) if row and row[0] is not None else end
    if start >= end:
        raise InputError(f"the window is empty: --since {start.isoformat()} is not before "
                         f"--until {end.isoformat()}")
    return Window(start, end)
