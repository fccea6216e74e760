"""Values in their units, as people read them: the one place a number becomes text.

One function per unit (:func:`count`, :func:`ms`, :func:`pct`, :func:`pp`, :func:`money`,
:func:`tokens`, :func:`ratio`, :func:`p_value`) and :func:`value` to pick one by a unit's name, so that
"33.3%", "1,234 ms" and "$0.476" read the same in every command. A value that is
missing (None), or not a finite number (NaN, infinity: a rate of nothing), shows as
:data:`MISSING` in every unit; JSON keeps null and CSV an empty cell.

Money has one rule in every command and text format (JSON and CSV keep the full
number): **cents from a dollar up, three significant digits below a dollar**. A reader
of a cost table reads totals, budgets and forecasts as a bill, in cents ($1,234.57);
amounts under a dollar (a request's cost, a price per million tokens, an hour's spend, a
difference between variants) are compared by their leading digits, so they keep three
of them, enough to rank and to see a 1% change, and short enough for a column, and
drop trailing zeros ($0.476, $0.075, $0.0000779). A non-zero amount never reads as
$0.00, and fixed decimals would either do that or print noise digits for large ones.
Table columns name the unit ("usd") instead of a format spec of their own.

Times are localised here too (:func:`local`, :func:`when`): a result keeps UTC instants
and a command's ``--tz`` decides how they read.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aimon.analysis.metrics.catalogue import UNITS

MISSING = "—"


def finite(x: Any) -> bool:
    """A number that can be shown: not None, NaN or infinite."""
    if x is None or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except TypeError:
        return False


def _plus(x: float, places: int | None = None) -> float:
    # A tiny negative rounded away would print as "-0" (or "-0.0"); one zero reads as no change.
    return (x if places is None else round(x, places)) + 0.0


def count(x: Any, missing: str = MISSING) -> str:
    """A whole number with thousands separators: 1,234."""
    return f"{_plus(x, 0):,.0f}" if finite(x) else missing


def plain(x: Any, missing: str = MISSING) -> str:
    """A number whose unit no one declared (a table cell): whole numbers with separators
    (1,234), 1,234.5 from a hundred up, 12.35 from one, 0.1235 below (four significant digits)."""
    if not finite(x):
        return missing
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def number(x: Any, places: int = 1, *, signed: bool = False, missing: str = MISSING) -> str:
    """A plain number with ``places`` decimals: 126.0, +1.50."""
    if not finite(x):
        return missing
    return f"{_plus(x, places):{'+' if signed else ''},.{places}f}"


def ms(x: Any, *, signed: bool = False, missing: str = MISSING) -> str:
    """Milliseconds, whole: 1,234 ms (+12 ms as a difference)."""
    if not finite(x):
        return missing
    return f"{_plus(x, 0):{'+' if signed else ''},.0f} ms"


def tokens(x: Any, missing: str = MISSING) -> str:
    """Tokens, whole: 1,234 tokens."""
    return f"{_plus(x, 0):,.0f} tokens" if finite(x) else missing


def pct(x: Any, places: int | None = 1, *, signed: bool = False, missing: str = MISSING) -> str:
    """A fraction as a percentage: 0.333 -> 33.3%. ``places=None`` keeps a small rate
    readable: one decimal, two below 0.1% (0.04%, not 0.0%)."""
    if not finite(x):
        return missing
    if places is None:
        places = 1 if abs(x) >= 0.001 or x == 0 else 2
    return f"{_plus(x, places + 2):{'+' if signed else ''}.{places}%}"


def pp(x: Any, places: int = 1, *, missing: str = MISSING) -> str:
    """A difference of two fractions in percentage points, signed: +4.2 pp."""
    if not finite(x):
        return missing
    return f"{_plus(x * 100, places):+.{places}f} pp"


# Significant digits of an amount under a dollar (see the module docstring).
MONEY_DIGITS = 3


def money(x: Any, *, signed: bool = False, missing: str = MISSING) -> str:
    """Dollars, by the one rule of the module docstring: cents from a dollar up
    ($1,234.57), three significant digits below ($0.476, $0.075, $0.0000779; never an
    exponent, never fewer than cents). A signed amount puts the sign before the dollar:
    -$0.0000812, +$0.50."""
    if not finite(x):
        return missing
    size = abs(x)
    places = 2 if size >= 1 or size == 0 else max(2, MONEY_DIGITS - 1 - math.floor(math.log10(size)))
    shown = _plus(x, places)
    text = f"{abs(shown):,.{places}f}"
    if places > 2:
        # Significant digits, not printed ones: $0.075, not $0.0750.
        whole, _, cents = text.partition(".")
        text = f"{whole}.{cents.rstrip('0').ljust(2, '0')}"
    sign = ("+" if shown >= 0 else "-") if signed else ("-" if shown < 0 else "")
    return f"{sign}${text}"


def ratio(x: Any, places: int = 1, missing: str = MISSING) -> str:
    """How many times another value: x2.5."""
    return f"x{_plus(x, places):,.{places}f}" if finite(x) else missing


def p_value(p: Any, missing: str = MISSING) -> str:
    """A p-value: 0.034, 0.00017, or "< 1e-12" below what the tests' arithmetic resolves.

    Three decimals from 0.001 up, two significant digits below, so that a p-value next to
    a threshold of 0.05 or 0.01 is never rounded across it and a tiny one is not 0.000."""
    if not finite(p):
        return missing
    if p < 1e-12:
        return "< 1e-12"
    if p < 0.001:
        return f"{p:.2g}"
    return f"{p:.3f}"


def p_is(p: Any) -> str:
    """A p-value in a sentence: 'p = 0.034', 'p < 1e-12'."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


# Units by name, as analyses declare them (a figure's or a metric's ``unit``): the
# metric catalogue names them, :func:`value` shows each with one function above.
VALUE_UNITS = UNITS


def value(unit: str | None, x: Any) -> str:
    """A value in the unit named: 'count', 'rate', 'ms', 'usd', 'usd_per_hour',
    'per_minute', 'per_second', 'tokens', 'score', 'ratio'; other names read as a number."""
    if not finite(x):
        return MISSING
    if unit == "count":
        return count(x)
    if unit == "rate":
        return pct(x, None)
    if unit == "ms":
        return ms(x)
    if unit == "usd":
        return money(x)
    if unit == "usd_per_hour":
        return money(x) + "/h"
    if unit == "per_minute":
        return number(x, 1) + "/min"
    if unit == "per_second":
        return number(x, 1) + " tok/s"
    if unit == "tokens":
        return tokens(x)
    if unit == "score":
        return f"{_plus(x):+.2f}"
    if unit == "ratio":
        return number(x, 1) + " : 1"
    return f"{_plus(x):,.4g}"


def spec(x: Any, fmt: str) -> str:
    """A value under a column's format spec (",.0f", ".1%", strftime's for a time, or a
    unit's name for :func:`value`: "usd", "ms"): the specs FrameBlock columns declare."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    if fmt in VALUE_UNITS:
        return value(fmt, x)
    if fmt.startswith("$"):
        # Money has one rule (money()); a column naming its own decimals would bypass it.
        raise ValueError(f"format spec {fmt!r}: a money column takes the unit 'usd'")
    return format(x, fmt)


# --------------------------------------------------------------------------- time

def zone(tz: str | tzinfo | None) -> tzinfo:
    """A time zone from its IANA name (UTC for None)."""
    if tz is None:
        return ZoneInfo("UTC")
    return tz if isinstance(tz, tzinfo) else ZoneInfo(tz)


def local(t: datetime, tz: str | tzinfo | None) -> datetime:
    """An instant in the zone the user asked for (naive times are UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo("UTC"))
    return t.astimezone(zone(tz))


def when(t: datetime | None, tz: str | tzinfo | None, pattern: str = "%Y-%m-%d %H:%M",
         missing: str = "") -> str:
    """An instant as local text: 2026-11-10 14:05 (``pattern`` is strftime's)."""
    return missing if t is None else local(t, tz).strftime(pattern)


def in_zone(frame: Any, tz: str | tzinfo | None) -> Any:
    """A polars frame's instants (zone-aware datetime columns) in ``tz``: a CSV keeps ISO
    instants, with the offset of the zone the command's ``--tz`` names."""
    import polars as pl

    name = str(zone(tz))
    return frame.with_columns(pl.col(pl.Datetime("us", "*")).dt.convert_time_zone(name))


def span(start: datetime, end: datetime, tz: str | tzinfo | None, sep: str = " to ") -> str:
    """A window as local text that names its zone: 2026-11-09 01:00 to 2026-11-11 01:00 Europe/Berlin."""
    return f"{when(start, tz)}{sep}{when(end, tz)} {tz or 'UTC'}"
