"""What the drift tests read: the two windows, a seeded sample of each, one row per request.

Ranges are written ``START..END`` with each side as ``--since``/``--until`` take it (an
ISO date or time, or a span such as ``14d`` counted back from the newest request); an
empty end means "to the newest request", and a bare date means that whole day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, timedelta

import duckdb

from aimon.analysis.toolkit.window import Window, newest_request, parse_time, zone
from aimon.errors import InputError

DEFAULT_SPAN = timedelta(days=7)
_DATE_RE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def parse_range(con: duckdb.DuckDBPyConnection, text: str, *, tz: str, option: str) -> Window:
    """``START..END`` (or a bare date) -> the half-open window it names."""
    anchor = newest_request(con)
    raw = text.strip()
    if ".." not in raw:
        if not _DATE_RE.match(raw):
            raise InputError(f"{option} {text!r}: expected START..END (e.g. 2026-11-01..2026-11-08, "
                             "14d..7d, 7d..) or a date")
        start = parse_time(raw, anchor=anchor, tz=tz, option=option)
        return _checked(Window(start, parse_time(raw + "T00:00", anchor=anchor, tz=tz, option=option)
                               + timedelta(days=1)), option)
    left, right = (part.strip() for part in raw.split("..", 1))
    if not left:
        raise InputError(f"{option} {text!r}: the range needs a start")
    start = parse_time(left, anchor=anchor, tz=tz, option=option)
    if right:
        end = parse_time(right, anchor=anchor, tz=tz, option=option)
    elif anchor is not None:
        end = anchor + timedelta(microseconds=1)
    else:
        raise InputError(f"{option} {text!r}: the database holds no requests to end the range at")
    return _checked(Window(start, end), option)


def _checked(window: Window, option: str) -> Window:
    if window.start >= window.end:
        raise InputError(f"{option}: the range is empty ({window.start.isoformat()} is not before "
                         f"{window.end.isoformat()})")
    return window


def windows(con: duckdb.DuckDBPyConnection, baseline: str | None, current: str | None, *,
            tz: str) -> tuple[Window, Window]:
    """(baseline, current): by default the newest 7 days of data (whole days in ``tz``, the
    newest one partial) against the 7 days before them; a given current range is compared
    with the same span before it."""
    if current:
        cur = parse_range(con, current, tz=tz, option="--current")
    else:
        newest = newest_request(con)
        if newest is None:
            raise InputError("the database holds no requests; load logs with 'aimon ingest' first")
        # Whole days in --tz: the newest day and the six before it.
        local = newest.astimezone(zone(tz))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        cur = Window((day - DEFAULT_SPAN + timedelta(days=1)).astimezone(UTC), newest + timedelta(microseconds=1))
    base = parse_range(con, baseline, tz=tz, option="--baseline") if baseline else \
        Window(cur.start - DEFAULT_SPAN if not current else cur.start - cur.duration, cur.start)
    if base.start < cur.end and cur.start < base.end:
        raise InputError(f"--baseline {base.start:%Y-%m-%d %H:%M}..{base.end:%Y-%m-%d %H:%M} and --current "
                         f"{cur.start:%Y-%m-%d %H:%M}..{cur.end:%Y-%m-%d %H:%M} overlap; compare separate windows")
    return base, cur


# A refusal: the provider's filter withheld the answer, or the answer says it will not help.
REFUSAL_SQL = r"""CASE
    WHEN r.error_type = 'content_filter' THEN 1.0
    WHEN r.status = 'ok' AND r.response IS NOT NULL THEN CAST(regexp_matches(lower(left(r.response, 240)),
        '\b(i can''t|i cannot|i can not|i''m unable to|i am unable to|i won''t|i will not|i''m not able to|i am not able to)\s+(help|assist|provide|comply|share|do that|answer|fulfil|support|create|write|give)') AS DOUBLE)
END"""

# A truncation: the model stopped at its token limit, where the log says why it stopped.
FINISH_REASON_SQL = """lower(coalesce(
    json_extract_string(r.extra, '$.finish_reason'),
    json_extract_string(r.extra, '$.choices[0].finish_reason'),
    json_extract_string(r.extra, '$.response.body.choices[0].finish_reason'),
    json_extract_string(r.extra, '$.stop_reason'),
    json_extract_string(r.extra, '$.attributes."gen_ai.response.finish_reasons"[0]')))"""
TRUNCATED_SQL = f"""CASE WHEN {FINISH_REASON_SQL} IS NULL THEN NULL
    ELSE CAST({FINISH_REASON_SQL} IN ('length', 'max_tokens', 'max_output_tokens') AS DOUBLE) END"""

# Each window's requests (optionally one endpoint), a seeded sample of at most $n per
# window and group: md5 of the seed and request id orders them, so the same rows come
# back on any machine and run. unit_* are the candidate permutation units.
SAMPLE_SQL = f"""
WITH win AS (
    SELECT r.*, r.ts >= $cur_start AND r.ts < $cur_end AS is_current,
           {{group_sql}} AS grp
    FROM costed_requests r
    WHERE ((r.ts >= $base_start AND r.ts < $base_end) OR (r.ts >= $cur_start AND r.ts < $cur_end))
      {{filters}}
), ranked AS (
    SELECT *, count(*) OVER (PARTITION BY grp, is_current) AS window_requests,
           row_number() OVER (PARTITION BY grp, is_current ORDER BY md5($seed || request_id)) AS pick
    FROM win
)
SELECT r.request_id, r.grp, r.is_current, r.window_requests,
       coalesce(r.user_id, r.session_id, r.request_id) AS unit_user,
       coalesce(r.session_id, r.request_id) AS unit_session,
       r.request_id AS unit_request,
       r.prompt, r.response,
       CAST(length(r.response) AS DOUBLE) AS response_chars,
       CAST(length(r.prompt) AS DOUBLE) AS prompt_chars,
       r.latency_ms, r.ttft_ms,
       CAST(r.input_tokens AS DOUBLE) AS input_tokens,
       CAST(CASE WHEN r.status = 'ok' THEN r.output_tokens END AS DOUBLE) AS output_tokens,
       r.cost_usd,
       CAST(r.status = 'error' AS DOUBLE) AS error,
       {REFUSAL_SQL} AS refusal,
       {TRUNCATED_SQL} AS truncated,
       r.model, r.endpoint, r.prompt_version
FROM ranked r
WHERE r.pick <= $n
ORDER BY r.grp, r.is_current, r.pick
"""


class GroupBy:
    """What ``--by`` may split on (fixed SQL, never user text)."""

    COLUMNS = {"endpoint": "coalesce(r.endpoint, '(none)')", "model": "coalesce(r.model, '(none)')",
               "prompt_version": "coalesce(r.prompt_version, '(none)')"}


@dataclass(frozen=True)
class Scope:
    """The rows a drift run compares."""

    baseline: Window
    current: Window
    by: str | None = None
    endpoint: str | None = None
    sample: int = 5000
    seed: int = 0


def sample_rows(con: duckdb.DuckDBPyConnection, scope: Scope):
    """The sampled rows of both windows as a polars frame."""
    con.complete()  # window parsing leaves a fetchone() result open
    group_sql = GroupBy.COLUMNS[scope.by] if scope.by else "'all'"
    filters = "AND r.endpoint = $endpoint" if scope.endpoint is not None else ""
    params = {"base_start": scope.baseline.start, "base_end": scope.baseline.end,
              "cur_start": scope.current.start, "cur_end": scope.current.end,
              "seed": str(scope.seed), "n": scope.sample}
    if scope.endpoint is not None:
        params["endpoint"] = scope.endpoint
    return con.sql(SAMPLE_SQL.format(group_sql=group_sql, filters=filters), params=params).pl()
