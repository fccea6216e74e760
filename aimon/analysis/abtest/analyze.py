"""A/B experiments: what each variant did, and whether a difference is real.

An experiment is the set of requests with the same ``experiment`` value; ``variant``
says which arm served each. :func:`analyze` compares every variant with a control:

- the unit is a request, or a user with ``by_user`` (one user, one unit: a heavy
  user's thousand requests are one piece of evidence, not a thousand). Per-user
  metrics are ratios sum(value)/sum(count) with delta-method variances;
- proportions (success, thumbs, errors) per request: Newcombe's interval for the
  difference, the pooled two-proportion z-test, the relative lift with the Katz
  log interval, and the beta-binomial probability to beat control;
- continuous metrics (latency, cost, tokens) per request: Welch's t-test and
  interval, Mann-Whitney U, and a seeded bootstrap interval for the P95 difference
  (per user: the delta method, Mann-Whitney on user means, and a cluster bootstrap);
- the sample-ratio-mismatch chi-square against the intended split, counted in the
  unit of assignment (users when every user saw one variant), flagged at p < 0.001;
- Holm's correction over every (variant, metric) comparison, and the power figures
  (MDE now, units needed for the observed effect).

The verdict never names the variant with the raw best figure: a winner must beat
control after the correction, on the first (primary) metric, with the split intact.

Success is the logged ``success`` field when the experiment's requests carry it;
else thumbs feedback (a rated request succeeded when it got a thumbs-up and no
thumbs-down). ``success_source`` says which.

Costs are the effective cost from the ``request_costs`` view (logged, else priced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import numpy as np
import polars as pl

from aimon.analysis.abtest.compare import (
    MIN_UNITS,
    _adjusted,
    _compare,
    _Values,
    _verdict,
)
from aimon.analysis.abtest.experiments import list_experiments
from aimon.analysis.abtest.metrics import METRICS, SUCCESS_LOGGED_SQL, SUCCESS_THUMBS_SQL, Metric
from aimon.analysis.abtest.notes import data_notes, unit_notes
from aimon.analysis.abtest.results import SRM_ALPHA, AbTestResult, Comparison, Srm, VariantFigures
from aimon.analysis.metrics import catalogue
from aimon.analysis.metrics.feedback import INLINE_TYPE_SQL
from aimon.analysis.toolkit import stats
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError, UsageError

CONTROL_NAMES = ("control", "baseline", "a", "default", "off", "old")


# Variant names as logged -> the variant they mean: blanks around a name and its case
# do not make another arm ("control " and "Control" are "control"). Each group takes
# its most frequent spelling (trimmed). A name that is blank is no variant.
NAMES_CTE = """
spellings AS (
    SELECT r.variant AS raw, trim(r.variant) AS spelled, count(*) AS n
    FROM requests r
    WHERE r.experiment = $experiment AND trim(r.variant) <> ''
      AND r.ts >= $start AND r.ts < $end
    GROUP BY ALL
), names AS (
    SELECT s.raw, c.variant
    FROM spellings s
    JOIN (SELECT lower(spelled) AS key, first(spelled ORDER BY n DESC, spelled) AS variant
          FROM spellings GROUP BY key) c ON c.key = lower(s.spelled)
)"""

# The experiment's requests with their thumbs (feedback table and inline column) and
# effective cost. Requests without a variant are not in any arm and are left out.
EXPERIMENT_CTE = """
{names}, req AS (
    SELECT r.request_id, r.ts, r.user_id, names.variant, r.status, r.success, r.feedback,
           r.latency_ms, r.ttft_ms, r.input_tokens, r.output_tokens
    FROM requests r
    JOIN names ON names.raw = r.variant
    WHERE r.experiment = $experiment AND r.ts >= $start AND r.ts < $end
), signals AS (
    SELECT f.request_id, f.feedback_type AS kind
    FROM feedback f SEMI JOIN req USING (request_id)
    UNION ALL
    SELECT r.request_id, {inline} AS kind
    FROM req AS r
    WHERE r.feedback IS NOT NULL
), votes AS (
    SELECT request_id,
           bool_or(kind = 'thumbs_up') AS up,
           bool_or(kind = 'thumbs_down') AS down
    FROM signals
    WHERE kind IS NOT NULL
    GROUP BY request_id
), x AS (
    SELECT req.*, coalesce(v.up, false) AS up, coalesce(v.down, false) AS down,
           c.cost_usd, c.cost_source
    FROM req
    LEFT JOIN votes v USING (request_id)
    LEFT JOIN request_costs c USING (request_id)
)
"""


def _cte() -> str:
    return EXPERIMENT_CTE.format(names=NAMES_CTE.strip(), inline=INLINE_TYPE_SQL.strip())


MERGED_NAMES_SQL = """
WITH {names}
SELECT variant, list(raw ORDER BY raw) AS spellings
FROM names
GROUP BY variant
HAVING count(*) > 1 OR bool_or(raw <> variant)
ORDER BY variant
"""


# A variant's latency is over every request it served, failures included (the
# catalogue's "all requests" figures): a failed call is still time a user waited.
VARIANTS_SQL = f"""
WITH {{cte}}
SELECT x.variant,
       count(*) AS requests,
       count(DISTINCT x.user_id) AS users,
       count(*) FILTER (WHERE x.user_id IS NULL) AS requests_without_user,
       count(x.user_id) - count(DISTINCT x.user_id) AS repeat_requests,
       min(x.ts) AS first,
       max(x.ts) AS last,
       count(x.success) AS success_logged,
       count(*) FILTER (WHERE x.up OR x.down) AS thumbs_rated,
       count(*) FILTER (WHERE x.up) AS thumbs_up,
       count(*) FILTER (WHERE x.status = 'error') AS errors,
       {catalogue.metric("latency_all_mean_ms").sql("x")} AS latency_mean_ms,
       {catalogue.metric("latency_all_p50_ms").sql("x")} AS latency_median_ms,
       {catalogue.metric("latency_all_p95_ms").sql("x")} AS latency_p95_ms,
       avg(x.cost_usd) AS cost_mean_usd,
       count(x.cost_usd) AS cost_priced,
       count(*) FILTER (WHERE x.cost_source = 'logged') AS cost_logged,
       sum(x.cost_usd) AS cost_total_usd
FROM x
GROUP BY x.variant
ORDER BY x.variant
"""


OVERLAP_SQL = """
WITH {cte}
SELECT count(*) AS users_in_several_variants,
       coalesce(sum(requests), 0)::BIGINT AS their_requests
FROM (
    SELECT x.user_id, count(*) AS requests
    FROM x
    WHERE x.user_id IS NOT NULL
    GROUP BY x.user_id
    HAVING count(DISTINCT x.variant) > 1
)
"""


EXCLUDED_SQL = """
SELECT count(*) FROM requests r
WHERE r.experiment = $experiment AND coalesce(trim(r.variant), '') = ''
  AND r.ts >= $start AND r.ts < $end
"""


# One row per request that has a value for the metric.
REQUEST_VALUES_SQL = """
WITH {cte}
SELECT variant, value, user_id
FROM (SELECT x.variant, x.user_id, {value} AS value FROM x)
WHERE value IS NOT NULL
"""


# One row per (variant, user): the sum and count of the metric's values. fsum sums
# exactly rounded, so equal user means are equal floats (Mann-Whitney's ties).
USER_VALUES_SQL = """
WITH {cte}
SELECT variant, user_id, fsum(value) AS s, count(value) AS n
FROM (SELECT x.variant, x.user_id, {value} AS value FROM x)
WHERE value IS NOT NULL AND user_id IS NOT NULL
GROUP BY ALL
ORDER BY variant, user_id
"""


def _comparisons(con, cte, params, chosen: Sequence[Metric], variant_names: Sequence[str], control_name: str,
                 source: str | None, by_user: bool, success_values: _Values | None, *, alpha: float,
                 power: float, seed: int, n_resamples: int,
                 users_total: int) -> tuple[list[Comparison], _Values | None]:
    """Every variant against control on every chosen metric, Holm-adjusted per family; and
    the primary metric's values (for the note on users)."""
    comparisons: list[Comparison] = []
    primary_values = None
    for metric in chosen:
        values = success_values if metric is Metric.success and success_values is not None else \
            _unit_values(con, cte, params, metric, source, by_user)
        primary_values = primary_values or values
        for name in variant_names:
            if name == control_name:
                continue
            comparisons.append(_compare(metric, name, control_name, values, by_user, alpha, power,
                                        seed, n_resamples, users_total))
    return _adjusted(comparisons, chosen[0], alpha), primary_values


def _params(experiment: str, window: Window) -> dict:
    return {"experiment": experiment, **window.params()}


def _parse_split(split: str | None, variants: Sequence[str]) -> tuple[float, ...]:
    if not split:
        return tuple(1.0 for _ in variants)
    parts = [p.strip() for p in split.split(",") if p.strip()]
    if all("=" in p for p in parts):
        weights: dict[str, float] = {}
        for p in parts:
            name, _, value = p.partition("=")
            weights[_named(name, variants)] = _weight(value, split)
        unknown = sorted(set(weights) - set(variants))
        missing = [v for v in variants if v not in weights]
        if unknown or missing:
            raise UsageError(f"--split {split!r} must name every variant ({', '.join(variants)}) once")
        return tuple(weights[v] for v in variants)
    if len(parts) != len(variants):
        raise UsageError(f"--split {split!r} has {len(parts)} numbers but the experiment has "
                         f"{len(variants)} variants ({', '.join(variants)}, in this order)")
    return tuple(_weight(p, split) for p in parts)


def _named(text: str, variants: Sequence[str]) -> str:
    """The variant a user-typed name means: names match ignoring blanks and case."""
    key = text.strip().lower()
    return next((v for v in variants if v.lower() == key), text.strip())


def _weight(text: str, split: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise UsageError(f"--split {split!r}: {text!r} is not a number") from None
    if value <= 0 or not math.isfinite(value):
        raise UsageError(f"--split {split!r}: every share must be positive")
    return value


def _choose_control(variants: Sequence[str], control: str | None) -> str:
    if control is not None:
        control = _named(control, variants)
        if control not in variants:
            raise InputError(f"--control {control!r} is not a variant of this experiment; "
                             f"variants: {', '.join(variants)}")
        return control
    for name in CONTROL_NAMES:
        for v in variants:
            if v.lower() == name:
                return v
    return variants[0]


def _success_source(rows: pl.DataFrame, wanted: str) -> str | None:
    logged = int(rows["success_logged"].sum())
    rated = int(rows["thumbs_rated"].sum())
    if wanted == "logged":
        return "logged" if logged else None
    if wanted == "thumbs":
        return "thumbs" if rated else None
    if logged:
        return "logged"
    return "thumbs" if rated else None


def _metric_sql(metric: Metric, success_source: str | None) -> str:
    if metric is Metric.success:
        return SUCCESS_THUMBS_SQL if success_source == "thumbs" else SUCCESS_LOGGED_SQL
    return METRICS[metric].sql


def analyze(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    experiment: str,
    *,
    metrics: Sequence[Metric] = (),
    control: str | None = None,
    by_user: bool | None = None,
    split: str | None = None,
    success_from: str = "auto",
    alpha: float = stats.ALPHA,
    power: float = stats.POWER,
    seed: int = 0,
    n_resamples: int = 2000,
    min_effect: float | None = None,
    min_units: int = MIN_UNITS,
) -> AbTestResult:
    """Compare each variant of ``experiment`` with control; see the module docstring.

    ``by_user`` None follows the unit of assignment (users when every user saw one
    variant); True or False forces users or requests.
    """
    con.complete()  # a caller's fetchone() (window.resolve) leaves a result open
    params = _params(experiment, window)
    cte = _cte()
    rows = _variant_rows(con, window, experiment, cte, params)
    variant_names = rows["variant"].to_list()
    control_name = _choose_control(variant_names, control)
    weights = _parse_split(split, variant_names)
    users_in_several, overlap_requests = map(int, con.execute(OVERLAP_SQL.format(cte=cte), params).fetchall()[0])
    excluded = int(con.execute(EXCLUDED_SQL, params).fetchall()[0][0])
    merged = con.sql(MERGED_NAMES_SQL.format(names=NAMES_CTE.strip()), params=params).fetchall()

    users_total = int(rows["users"].sum())
    assignment = _assignment(rows, users_in_several)
    by_user = assignment == "user" if by_user is None else by_user
    unit = "user" if by_user else "request"
    if by_user and users_total == 0:
        raise InputError(f"--by-user: the requests of experiment {experiment!r} carry no user_id")

    source, chosen = _chosen_metrics(rows, metrics, success_from, experiment)
    # The split was made in the unit of assignment, so that is what the check counts,
    # whatever the unit of analysis.
    srm = _srm(rows, variant_names, weights, assignment)

    success_values = _unit_values(con, cte, params, Metric.success, source, by_user) if source else None
    variants = tuple(_variant_figures(r, success_values, by_user, alpha) for r in rows.iter_rows(named=True))

    comparisons, primary_values = _comparisons(
        con, cte, params, chosen, variant_names, control_name, source, by_user, success_values,
        alpha=alpha, power=power, seed=seed, n_resamples=n_resamples, users_total=users_total)
    notes = unit_notes(rows, unit, assignment, chosen, source, variants, primary_values)
    notes += data_notes(merged, users_in_several, overlap_requests, excluded,
                         int(rows["requests_without_user"].sum()) if by_user else 0)
    verdict = _verdict(comparisons, chosen[0], srm, min_effect, min_units)
    return AbTestResult(
        title=f"Experiment {experiment}",
        experiment=experiment, window=window, unit=unit, assignment=assignment,
        control=control_name, metrics=tuple(m.value for m in chosen), success_source=source,
        variants=variants, comparisons=tuple(comparisons), srm=srm, verdict=verdict,
        alpha=alpha, power=power, seed=seed, users_in_several_variants=users_in_several,
        requests_without_variant=excluded, notes=tuple(notes), min_effect=min_effect,
    )


def _variant_rows(con: duckdb.DuckDBPyConnection, window: Window, experiment: str, cte: str,
                  params: dict) -> pl.DataFrame:
    """One row per variant of ``experiment`` (its units, requests and sums); at least two."""
    rows = con.sql(VARIANTS_SQL.format(cte=cte), params=params).pl()
    if rows.height == 0:
        known = list_experiments(con, window).table["experiment"].unique().sort().to_list()
        hint = f"experiments in the window: {', '.join(known)}" if known else "no experiments in the window"
        raise InputError(f"no requests for experiment {experiment!r} in the window; {hint}")
    if rows.height < 2:
        raise InputError(f"experiment {experiment!r} has one variant ({rows['variant'][0]}); "
                         "a comparison needs two")
    return rows


def _assignment(rows: pl.DataFrame, users_in_several: int) -> str:
    """'user' when variants were assigned per user: every request (but 1%) names its user
    and every user (but 1%) saw one variant; 'request' otherwise."""
    users_total = int(rows["users"].sum())
    requests_total = int(rows["requests"].sum())
    without_user = int(rows["requests_without_user"].sum())
    per_user = (users_total >= 2 and without_user <= 0.01 * requests_total
                and users_in_several <= 0.01 * users_total)
    return "user" if per_user else "request"


def _chosen_metrics(rows: pl.DataFrame, metrics: Sequence[Metric], success_from: str,
                    experiment: str) -> tuple[str | None, tuple[Metric, ...]]:
    """Where success comes from, and the metrics to compare (success when known, else
    the error rate); InputError when success is asked for and nothing logs it."""
    source = _success_source(rows, success_from)
    chosen = tuple(metrics)
    if not chosen:
        chosen = (Metric.success,) if source else (Metric.error_rate,)
    if source is None and (Metric.success in chosen or success_from != "auto"):
        wanted = {"logged": "no request logs `success`",
                  "thumbs": "no request has thumbs feedback"}.get(
            success_from, "no request logs `success` and none has thumbs feedback")
        raise InputError(f"--metric success: {wanted} in experiment {experiment!r}; "
                         "choose another --metric (thumbs_up, error_rate, latency_ms, cost_usd, ...)")
    return source, chosen


def _srm(rows: pl.DataFrame, names: list[str], weights: tuple[float, ...], unit: str) -> Srm:
    column = "users" if unit == "user" else "requests"
    observed = [int(v) for v in rows[column].to_list()]
    res = stats.sample_ratio(observed, weights)
    total = sum(weights)
    return Srm(unit=unit, variants=tuple(names), observed=res.observed, expected=res.expected,
               split=tuple(w / total for w in weights), chi2=res.chi2, p_value=res.p_value,
               mismatch=res.p_value is not None and res.p_value < SRM_ALPHA)


def _unit_values(con, cte, params, metric: Metric, source: str | None, by_user: bool) -> _Values:
    value = _metric_sql(metric, source)
    by_variant: dict[str, np.ndarray] = {}
    user_of: dict[str, np.ndarray] = {}
    s: dict[str, np.ndarray] = {}
    n: dict[str, np.ndarray] = {}
    if by_user:
        users = con.sql(USER_VALUES_SQL.format(cte=cte, value=value), params=params).pl()
        for (name,), part in users.partition_by("variant", as_dict=True, maintain_order=True).items():
            s[name] = part["s"].to_numpy().astype(float)
            n[name] = part["n"].to_numpy().astype(float)
        if METRICS[metric].kind == "proportion":
            # A proportion per user needs only the sums; the request values (for the P95
            # bootstrap of continuous metrics) would be one more pass over the experiment.
            return _Values(by_variant, user_of, s, n)
    frame = con.sql(REQUEST_VALUES_SQL.format(cte=cte, value=value), params=params).pl()
    if by_user:
        frame = frame.filter(pl.col("user_id").is_not_null())
    for (name,), part in frame.partition_by("variant", as_dict=True, maintain_order=True).items():
        by_variant[name] = part["value"].to_numpy().astype(float)
        if by_user:
            # Each value's user as a code 0..U-1 within the variant (for the cluster bootstrap).
            _, user_of[name] = np.unique(part["user_id"].to_numpy(), return_inverse=True)
    return _Values(by_variant, user_of, s, n)


def _variant_figures(row: dict, success: _Values | None, by_user: bool, alpha: float) -> VariantFigures:
    name = row["variant"]
    requests = int(row["requests"])
    outcomes = successes = 0
    rate = low = high = None
    if success is not None:
        values = success.by_variant.get(name, np.empty(0))
        outcomes, successes = len(values), int(values.sum())
        if by_user:
            outcomes = int(success.n.get(name, np.empty(0)).sum())
            successes = int(round(success.s.get(name, np.empty(0)).sum()))
            est = stats.delta_ratio(success.s.get(name, np.empty(0)), success.n.get(name, np.empty(0)))
            if est.ratio is not None:
                half = stats.z_crit(alpha) * math.sqrt(est.var)
                rate, low, high = est.ratio, max(0.0, est.ratio - half), min(1.0, est.ratio + half)
        elif outcomes:
            rate = successes / outcomes
            low, high = stats.wilson(successes, outcomes, stats.z_crit(alpha))
    return VariantFigures(
        variant=name,
        n=int(row["users"]) if by_user else requests,
        requests=requests, users=int(row["users"]),
        first=row["first"], last=row["last"],
        outcomes=outcomes, successes=successes, success_rate=rate,
        success_rate_low=low, success_rate_high=high,
        error_rate=row["errors"] / requests if requests else None,
        thumbs_up_rate=row["thumbs_up"] / requests if requests else None,
        latency_mean_ms=row["latency_mean_ms"], latency_median_ms=row["latency_median_ms"],
        latency_p95_ms=row["latency_p95_ms"], cost_mean_usd=row["cost_mean_usd"],
        cost_priced_requests=int(row["cost_priced"]), cost_total_usd=row["cost_total_usd"],
    )
