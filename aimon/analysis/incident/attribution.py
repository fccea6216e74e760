"""Where the bad requests of an incident sit: error types against their baseline rate,
risk ratios per model, endpoint, prompt version and user tier, and the likely root
cause (the value whose risk ratio has the highest lower bound)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from aimon.analysis.incident.marked import _frame, _one, _rate
from aimon.analysis.toolkit import stats


class Dimension(StrEnum):
    """What bad requests are attributed to (fixed column names, never user text)."""

    model = "model"
    endpoint = "endpoint"
    prompt_version = "prompt_version"
    user_tier = "user_tier"


ERROR_TYPES_SQL = """
WITH {pm}
SELECT coalesce(r.error_type, 'unknown') AS error_type,
       count(*) FILTER (WHERE r.in_window) AS errors,
       count(*) FILTER (WHERE NOT r.in_window) AS baseline_errors
FROM x AS r
WHERE r.status = 'error'
GROUP BY ALL
ORDER BY errors DESC, error_type
"""


ATTRIBUTION_SQL = """
WITH {pm}
SELECT CASE WHEN grouping(model) = 0 THEN 'model'
            WHEN grouping(endpoint) = 0 THEN 'endpoint'
            WHEN grouping(prompt_version) = 0 THEN 'prompt_version'
            ELSE 'user_tier' END AS dimension,
       coalesce(model, endpoint, prompt_version, user_tier, '(none)') AS value,
       count(*) FILTER (WHERE in_window) AS requests,
       count(*) FILTER (WHERE in_window AND bad) AS bad,
       count(*) FILTER (WHERE in_window AND status = 'error') AS errors,
       count(*) FILTER (WHERE NOT in_window) AS baseline_requests,
       count(*) FILTER (WHERE NOT in_window AND bad) AS baseline_bad
FROM x
GROUP BY GROUPING SETS ((model), (endpoint), (prompt_version), (user_tier))
"""


SEGMENT_SQL = """
WITH {pm}
SELECT count(*) AS requests,
       count(*) FILTER (WHERE r.bad) AS bad,
       count(*) FILTER (WHERE r.status = 'error') AS errors
FROM x AS r
WHERE r.in_window AND r.{d1} IS NOT DISTINCT FROM $v1 AND r.{d2} IS NOT DISTINCT FROM $v2
"""


@dataclass(frozen=True)
class RootCause:
    """The likely root cause: the over-represented value(s) among bad requests."""

    dimension: str
    value: str
    risk_ratio: float
    ci_low: float
    ci_high: float
    bad: int
    requests: int
    # A second dimension when the bad requests of the first concentrate in one of its
    # values (model X *on* endpoint Y).
    segment: tuple[tuple[str, str], ...]
    segment_bad: int
    segment_requests: int
    segment_errors: int
    bad_total: int


def _error_types(con, params: dict, w: dict, b: dict) -> pl.DataFrame:
    frame = _frame(con, ERROR_TYPES_SQL, params)
    n_w, n_b = int(w.get("requests") or 0), int(b.get("requests") or 0)
    rows = []
    for r in frame.iter_rows(named=True):
        rr = stats.risk_ratio(r["errors"], n_w, r["baseline_errors"], n_b)
        rows.append({**r, "rate": _rate(r["errors"], n_w), "baseline_rate": _rate(r["baseline_errors"], n_b),
                     "risk_ratio": rr.estimate, "ci_low": rr.low, "ci_high": rr.high})
    return pl.DataFrame(rows, schema={"error_type": pl.String, "errors": pl.Int64, "baseline_errors": pl.Int64,
                                      "rate": pl.Float64, "baseline_rate": pl.Float64,
                                      "risk_ratio": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64})


def _attribution(con, params: dict) -> pl.DataFrame:
    frame = _frame(con, ATTRIBUTION_SQL, params).filter(pl.col("requests") > 0)
    total_n = frame.filter(pl.col("dimension") == "model")["requests"].sum() if frame.height else 0
    total_bad = frame.filter(pl.col("dimension") == "model")["bad"].sum() if frame.height else 0
    rows = []
    for r in frame.iter_rows(named=True):
        rest_n, rest_bad = total_n - r["requests"], total_bad - r["bad"]
        if not r["bad"]:
            rr = stats.Interval(0.0, None, None)  # nothing to attribute to this value
        elif rest_n:
            rr = stats.risk_ratio(r["bad"], r["requests"], rest_bad, rest_n)
        else:
            rr = stats.Interval(None, None, None)
        rows.append({**r, "bad_rate": _rate(r["bad"], r["requests"]), "rest_bad_rate": _rate(rest_bad, rest_n),
                     "baseline_bad_rate": _rate(r["baseline_bad"], r["baseline_requests"]),
                     "share_of_bad": _rate(r["bad"], total_bad),
                     "risk_ratio": rr.estimate, "ci_low": rr.low, "ci_high": rr.high})
    schema = {"dimension": pl.String, "value": pl.String, "requests": pl.Int64, "bad": pl.Int64,
              "errors": pl.Int64, "baseline_requests": pl.Int64, "baseline_bad": pl.Int64,
              "bad_rate": pl.Float64, "rest_bad_rate": pl.Float64, "baseline_bad_rate": pl.Float64,
              "share_of_bad": pl.Float64, "risk_ratio": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64}
    out = pl.DataFrame(rows, schema=schema)
    return out.sort(["ci_low", "bad", "requests"], descending=True, nulls_last=True)


def _root_cause(con, params: dict, attribution: pl.DataFrame) -> RootCause | None:
    candidates = attribution.filter(pl.col("ci_low") > 1).sort("ci_low", descending=True)
    if candidates.height == 0:
        return None
    top = candidates.row(0, named=True)
    total_bad = int(attribution.filter(pl.col("dimension") == top["dimension"])["bad"].sum())
    segment: tuple[tuple[str, str], ...] = ((top["dimension"], top["value"]),)
    seg_bad, seg_n, seg_err = top["bad"], top["requests"], top["errors"]
    for other in candidates.filter(pl.col("dimension") != top["dimension"]).iter_rows(named=True):
        d1, d2 = Dimension(top["dimension"]).value, Dimension(other["dimension"]).value
        v1 = None if top["value"] == "(none)" else top["value"]
        v2 = None if other["value"] == "(none)" else other["value"]
        n, bad, errors = _one(con, SEGMENT_SQL.replace("{d1}", d1).replace("{d2}", d2),
                              {**params, "v1": v1, "v2": v2})
        # The bad requests of the top value sit (almost all) in this value too.
        if bad and bad >= 0.8 * top["bad"]:
            segment = segment + ((other["dimension"], other["value"]),)
            seg_bad, seg_n, seg_err = int(bad), int(n), int(errors)
        break
    return RootCause(top["dimension"], top["value"], top["risk_ratio"], top["ci_low"], top["ci_high"],
                     int(top["bad"]), int(top["requests"]), segment, int(seg_bad), int(seg_n), int(seg_err),
                     total_bad)
