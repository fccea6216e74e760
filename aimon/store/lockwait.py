"""How long a command waits for another process's lock on the database.

Kept apart from :mod:`aimon.store.connection` (which imports duckdb) so the command
line can set it while parsing options without loading the engine.
"""

from __future__ import annotations

import os
import re
import sys

from aimon.errors import InputError

# How long a command waits for another process's lock on the database before it gives
# up: long enough for a cron report to outlast an ingest of a day's logs on the same
# schedule, short enough that a stuck job is noticed. --wait or $AIMON_LOCK_TIMEOUT.
DEFAULT_LOCK_WAIT = 30.0
POLL_SECONDS = 0.2
_DURATION_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}


def parse_wait(text: str, *, option: str = "--wait") -> float:
    """Seconds from a duration such as 30s, 2m, 1h, 500ms or a plain number of seconds."""
    match = _DURATION_RE.fullmatch(str(text).strip())
    if match is None:
        raise InputError(f"{option} {text!r} is not a duration; use e.g. 0, 30s, 2m or 1h")
    return float(match["n"]) * _UNIT_SECONDS[match["unit"].lower()]


_wait_seconds: float | None = None


def _print_waiting(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The CLI swaps in its own printer (the dim stderr console); library callers get a line.
on_lock_wait = _print_waiting


def set_lock_wait(seconds: float | None) -> None:
    """Wait up to ``seconds`` for a lock held by another process (None: the default)."""
    global _wait_seconds
    _wait_seconds = seconds


def lock_wait() -> float:
    """The lock wait in force: --wait, else $AIMON_LOCK_TIMEOUT, else 30 s."""
    if _wait_seconds is not None:
        return _wait_seconds
    env = os.environ.get("AIMON_LOCK_TIMEOUT")
    return parse_wait(env, option="AIMON_LOCK_TIMEOUT") if env else DEFAULT_LOCK_WAIT


def format_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
