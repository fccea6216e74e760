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

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import duckdb
import numpy as np
import polars as pl

from aimon.analysis.feedback import INLINE_TYPE_SQL
from aimon.analysis.toolkit import cluster, stats
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError, UsageError

SRM_ALPHA = 0.001
# A winner needs at least this many units (users, or requests) in every compared arm:
# below it one unit can carry the whole difference ("3/3 vs 300/1000").
MIN_UNITS = 20
# Per-user p-values come from a permutation test up to this many users in an
# experiment; beyond, the CR1 t reference (the permutations would cost seconds, and
# with that many users the t reference holds).
PERMUTATION_MAX_USERS = 20_000
CONTROL_NAMES = ("control", "baseline", "a", "default", "off", "old")


class Metric(StrEnum):
    """What a comparison measures."""

    success = "success"
    thumbs_up = "thumbs_up"
    thumbs_down = "thumbs_down"
    error_rate = "error_rate"
    latency_ms = "latency_ms"
    ttft_ms = "ttft_ms"
    cost_usd = "cost_usd"
    output_tokens = "output_tokens"
    input_tokens = "input_tokens"


@dataclass(frozen=True)
class MetricSpec:
    kind: str  # "proportion" or "continuous"
    higher_is_better: bool
    sql: str  # a per-request value over the experiment rows ``x``; NULL = not measured
    meaning: str


SUCCESS_LOGGED_SQL = "x.success::DOUBLE"
SUCCESS_THUMBS_SQL = "CASE WHEN x.up OR x.down THEN (x.up AND NOT x.down)::DOUBLE END"

METRICS: dict[Metric, MetricSpec] = {
    Metric.success: MetricSpec("proportion", True, SUCCESS_LOGGED_SQL, "task success"),
    Metric.thumbs_up: MetricSpec("proportion", True, "x.up::DOUBLE", "requests with a thumbs-up"),
    Metric.thumbs_down: MetricSpec("proportion", False, "x.down::DOUBLE", "requests with a thumbs-down"),
    Metric.error_rate: MetricSpec("proportion", False, "(x.status = 'error')::DOUBLE", "requests that failed"),
    Metric.latency_ms: MetricSpec("continuous", False, "x.latency_ms", "total latency per request"),
    Metric.ttft_ms: MetricSpec("continuous", False, "x.ttft_ms", "time to first token"),
    Metric.cost_usd: MetricSpec("continuous", False, "x.cost_usd", "effective cost per priced request"),
    Metric.output_tokens: MetricSpec(
        "continuous", False, "CASE WHEN x.status = 'ok' THEN x.output_tokens::DOUBLE END",
        "output tokens per response"),
    Metric.input_tokens: MetricSpec("continuous", False, "x.input_tokens::DOUBLE", "input tokens per request"),
}


def parse_metrics(values: Sequence[str] | None) -> tuple[Metric, ...]:
    """'success,latency_ms' (or repeated options) -> metrics; UsageError when unknown."""
    out: list[Metric] = []
    for part in values or ():
        for name in part.split(","):
            name = name.strip()
            if not name:
                continue
            try:
                metric = Metric(name)
            except ValueError:
                known = ", ".join(m.value for m in Metric)
                raise UsageError(f"unknown --metric {name!r}; choose from {known}") from None
            if metric not in out:
                out.append(metric)
    return tuple(out)


# --------------------------------------------------------------------------- listing

EXPERIMENTS_SQL = """
SELECT r.experiment,
       coalesce(r.variant, '(none)') AS variant,
       count(*) AS requests,
       count(DISTINCT r.user_id) AS users,
       min(r.ts) AS first,
       max(r.ts) AS last,
       count(r.success) AS success_logged
FROM requests r
WHERE r.experiment IS NOT NULL AND r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY r.experiment, variant
"""


@dataclass(frozen=True)
class ExperimentList:
    """Every experiment in the window: one row per (experiment, variant)."""

    title: str
    window: Window
    table: pl.DataFrame


def list_experiments(con: duckdb.DuckDBPyConnection, window: Window) -> ExperimentList:
    """Experiments with their variants, sizes and date ranges."""
    con.complete()  # a caller's fetchone() (window.resolve) leaves a result open
    frame = con.sql(EXPERIMENTS_SQL, params=window.params()).pl()
    return ExperimentList("Experiments", window, frame)


# --------------------------------------------------------------------------- the data

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


VARIANTS_SQL = """
WITH {cte}
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
       avg(x.latency_ms) AS latency_mean_ms,
       median(x.latency_ms) AS latency_median_ms,
       quantile_cont(x.latency_ms, 0.95) AS latency_p95_ms,
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


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class VariantFigures:
    """What one variant did. ``n`` counts units (requests, or users with --by-user);
    ``successes`` of ``outcomes`` requests with a known outcome give ``success_rate``."""

    variant: str
    n: int
    requests: int
    users: int
    first: datetime | None
    last: datetime | None
    outcomes: int
    successes: int
    success_rate: float | None
    success_rate_low: float | None
    success_rate_high: float | None
    error_rate: float | None
    thumbs_up_rate: float | None
    latency_mean_ms: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    cost_mean_usd: float | None
    cost_priced_requests: int
    cost_total_usd: float | None


@dataclass(frozen=True)
class Comparison:
    """One variant against control on one metric. ``diff`` = variant - control."""

    variant: str
    control: str
    metric: str
    unit: str
    test: str
    ci_method: str
    n_variant: int
    n_control: int
    value_variant: float | None
    value_control: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None = None
    significant: bool = False
    direction: str | None = None  # better / worse / None (not significant)
    lift: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None
    prob_beat_control: float | None = None
    prob_method: str | None = None
    mann_whitney_u: float | None = None
    mann_whitney_p: float | None = None
    prob_superiority: float | None = None
    p95_variant: float | None = None
    p95_control: float | None = None
    p95_diff: float | None = None
    p95_ci_low: float | None = None
    p95_ci_high: float | None = None
    mde: float | None = None
    mde_relative: float | None = None
    power_observed: float | None = None
    n_needed_variant: int | None = None
    n_needed_control: int | None = None
    higher_is_better: bool = True


@dataclass(frozen=True)
class Srm:
    """The sample-ratio-mismatch check: units per variant against the intended split."""

    unit: str
    variants: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    split: tuple[float, ...]
    chi2: float | None
    p_value: float | None
    mismatch: bool
    threshold: float = SRM_ALPHA


@dataclass(frozen=True)
class Verdict:
    """The one-line answer. kind: winner, no_difference, inconclusive or invalid."""

    kind: str
    metric: str
    winner: str | None = None
    better: tuple[str, ...] = ()
    worse: tuple[str, ...] = ()
    guardrails: tuple[str, ...] = ()  # "variant:metric" significantly worse on a secondary metric
    reason: str = ""


@dataclass(frozen=True)
class AbTestResult:
    """Everything :func:`analyze` found about one experiment."""

    title: str
    experiment: str
    window: Window
    unit: str  # request or user
    assignment: str  # request or user: how the split looks to have been made
    control: str
    metrics: tuple[str, ...]
    success_source: str | None  # logged, thumbs, or None
    variants: tuple[VariantFigures, ...]
    comparisons: tuple[Comparison, ...]
    srm: Srm
    verdict: Verdict
    alpha: float
    power: float
    seed: int
    users_in_several_variants: int
    requests_without_variant: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    min_effect: float | None = None  # the margin of "no difference", when one was given


# --------------------------------------------------------------------------- analysis

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
    rows = con.sql(VARIANTS_SQL.format(cte=cte), params=params).pl()
    if rows.height == 0:
        known = list_experiments(con, window).table["experiment"].unique().sort().to_list()
        hint = f"experiments in the window: {', '.join(known)}" if known else "no experiments in the window"
        raise InputError(f"no requests for experiment {experiment!r} in the window; {hint}")
    variant_names = rows["variant"].to_list()
    if len(variant_names) < 2:
        raise InputError(f"experiment {experiment!r} has one variant ({variant_names[0]}); "
                         "a comparison needs two")
    control_name = _choose_control(variant_names, control)
    weights = _parse_split(split, variant_names)
    overlap = con.execute(OVERLAP_SQL.format(cte=cte), params).fetchall()[0]
    users_in_several, overlap_requests = int(overlap[0]), int(overlap[1])
    excluded = int(con.execute(EXCLUDED_SQL, params).fetchall()[0][0])
    merged = con.sql(MERGED_NAMES_SQL.format(names=NAMES_CTE.strip()), params=params).fetchall()

    users_total = int(rows["users"].sum())
    requests_total = int(rows["requests"].sum())
    without_user = int(rows["requests_without_user"].sum())
    per_user_assignment = (users_total >= 2 and without_user <= 0.01 * requests_total
                           and users_in_several <= 0.01 * users_total)
    assignment = "user" if per_user_assignment else "request"
    if by_user is None:
        by_user = per_user_assignment
    unit = "user" if by_user else "request"
    if by_user and users_total == 0:
        raise InputError(f"--by-user: the requests of experiment {experiment!r} carry no user_id")

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

    notes: list[str] = []
    # The split was made in the unit of assignment, so that is what the check counts,
    # whatever the unit of analysis.
    srm = _srm(rows, variant_names, weights, assignment)

    success_values = _unit_values(con, cte, params, Metric.success, source, by_user) if source else None
    variants = tuple(_variant_figures(r, success_values, by_user, alpha) for r in rows.iter_rows(named=True))

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
    comparisons = _adjusted(comparisons, chosen[0], alpha)

    repeats = int(rows["repeat_requests"].sum())
    if unit == "request" and assignment == "user" and repeats:
        notes.append(f"Every user saw one variant ({users_total:,} users): assignment looks per user, "
                     "but this analysis counts requests, and one user's requests are not independent, "
                     "so p-values are too small. Leave out --by-request for one unit per user.")
    if unit == "user" and primary_values is not None:
        notes.append(_users_note(primary_values, variant_names, chosen[0], users_total))
    if merged:
        spelled = "; ".join(f"{', '.join(repr(s) for s in spellings)} -> {name!r}" for name, spellings in merged)
        notes.append(f"Variant names that differ only in blanks or case are one variant: {spelled}.")
    if users_in_several:
        notes.append(f"{users_in_several:,} users saw more than one variant ({overlap_requests:,} "
                     "requests); with --by-user each (user, variant) pair is a unit.")
    if excluded:
        notes.append(f"{excluded:,} requests of the experiment carry no variant and are left out.")
    if by_user and without_user:
        notes.append(f"{without_user:,} requests without a user_id are left out of the per-user analysis.")
    if Metric.success in chosen or source:
        outcomes = sum(v.outcomes for v in variants)
        if source == "logged":
            notes.append(f"Success comes from the logged `success` field ({outcomes:,} of "
                         f"{requests_total:,} requests carry it; the others are left out of success).")
        elif source == "thumbs":
            notes.append(f"Success comes from thumbs feedback: `success` is not logged; {outcomes:,} of "
                         f"{requests_total:,} requests were rated (success = thumbs-up without thumbs-down).")
    if Metric.cost_usd in chosen:
        priced = sum(v.cost_priced_requests for v in variants)
        if priced < requests_total:
            notes.append(f"Cost: {requests_total - priced:,} requests have no logged cost and no price; "
                         "cost figures cover the priced ones.")

    verdict = _verdict(comparisons, chosen[0], srm, min_effect, min_units)
    return AbTestResult(
        title=f"Experiment {experiment}",
        experiment=experiment, window=window, unit=unit, assignment=assignment,
        control=control_name, metrics=tuple(m.value for m in chosen), success_source=source,
        variants=variants, comparisons=tuple(comparisons), srm=srm, verdict=verdict,
        alpha=alpha, power=power, seed=seed, users_in_several_variants=users_in_several,
        requests_without_variant=excluded, notes=tuple(notes), min_effect=min_effect,
    )


def _srm(rows: pl.DataFrame, names: list[str], weights: tuple[float, ...], unit: str) -> Srm:
    column = "users" if unit == "user" else "requests"
    observed = [int(v) for v in rows[column].to_list()]
    res = stats.sample_ratio(observed, weights)
    total = sum(weights)
    return Srm(unit=unit, variants=tuple(names), observed=res.observed, expected=res.expected,
               split=tuple(w / total for w in weights), chi2=res.chi2, p_value=res.p_value,
               mismatch=res.p_value is not None and res.p_value < SRM_ALPHA)


@dataclass(frozen=True)
class _Values:
    """A metric's values per variant: request values, and per-user sums when by user."""

    by_variant: dict[str, np.ndarray]
    user_of: dict[str, np.ndarray]  # integer user codes per request value (by user only)
    s: dict[str, np.ndarray]
    n: dict[str, np.ndarray]


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


def _compare(metric: Metric, variant: str, control: str, values: _Values, by_user: bool,
             alpha: float, power: float, seed: int, n_resamples: int, users_total: int) -> Comparison:
    spec = METRICS[metric]
    x = values.by_variant.get(variant, np.empty(0))
    y = values.by_variant.get(control, np.empty(0))
    base = {"variant": variant, "control": control, "metric": metric.value,
            "unit": "user" if by_user else "request", "higher_is_better": spec.higher_is_better}
    if by_user:
        permute = users_total <= PERMUTATION_MAX_USERS
        return _compare_by_user(spec, base, values, variant, control, x, y, alpha, power, seed, n_resamples,
                                permute)
    if spec.kind == "proportion":
        k1, n1, k2, n2 = int(x.sum()), len(x), int(y.sum()), len(y)
        ci = stats.newcombe_diff(k1, n1, k2, n2, alpha)
        _, p = stats.two_proportion_z(k1, n1, k2, n2)
        rr = stats.risk_ratio(k1, n1, k2, n2, alpha) if k1 and k2 else stats.Interval(None, None, None)
        p_control = k2 / n2 if n2 else None
        se0 = math.sqrt(p_control * (1 - p_control) * (1 / n1 + 1 / n2)) if n1 and n2 else None
        pw = stats.power_figures(se0, n1, n2, ci.estimate, alpha, power)
        prob = stats.prob_beat_beta(k1, n1, k2, n2)
        if prob is not None and not spec.higher_is_better:
            prob = 1 - prob
        return Comparison(
            **base, test="two-proportion z-test", ci_method="newcombe",
            n_variant=n1, n_control=n2, value_variant=k1 / n1 if n1 else None, value_control=p_control,
            diff=ci.estimate, ci_low=ci.low, ci_high=ci.high, p_value=p,
            lift=None if rr.estimate is None else rr.estimate - 1,
            lift_low=None if rr.low is None else rr.low - 1,
            lift_high=None if rr.high is None else rr.high - 1,
            prob_beat_control=prob, prob_method="beta-binomial (uniform prior, exact)",
            mde=pw.mde, mde_relative=pw.mde / p_control if pw.mde is not None and p_control else None,
            power_observed=pw.power_observed,
            n_needed_variant=pw.n_needed_variant, n_needed_control=pw.n_needed_control,
        )
    w = stats.welch(x, y, alpha)
    u, p_mw, sup = stats.mann_whitney(x, y)
    lift = stats.ratio_of_means(float(x.mean()), float(np.var(x, ddof=1) / len(x)),
                                float(y.mean()), float(np.var(y, ddof=1) / len(y)), alpha) \
        if len(x) > 1 and len(y) > 1 else stats.Interval(None, None, None)
    boot = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=n_resamples, seed=seed, alpha=alpha)
    pw = stats.power_figures(w.se, len(x), len(y), w.diff, alpha, power)
    mean_c = float(y.mean()) if len(y) else None
    return Comparison(
        **base, test="welch t-test", ci_method="welch",
        n_variant=len(x), n_control=len(y), value_variant=float(x.mean()) if len(x) else None,
        value_control=mean_c, diff=w.diff, ci_low=w.low, ci_high=w.high, p_value=w.p_value,
        lift=lift.estimate, lift_low=lift.low, lift_high=lift.high,
        mann_whitney_u=u, mann_whitney_p=p_mw, prob_superiority=sup,
        p95_variant=float(np.quantile(x, 0.95)) if len(x) else None,
        p95_control=float(np.quantile(y, 0.95)) if len(y) else None,
        p95_diff=boot.estimate, p95_ci_low=boot.low, p95_ci_high=boot.high,
        mde=pw.mde, mde_relative=pw.mde / mean_c if pw.mde is not None and mean_c else None,
        power_observed=pw.power_observed,
        n_needed_variant=pw.n_needed_variant, n_needed_control=pw.n_needed_control,
    )


def _compare_by_user(spec: MetricSpec, base: dict, values: _Values, variant: str, control: str,
                     x: np.ndarray, y: np.ndarray, alpha: float, power: float, seed: int,
                     n_resamples: int, permute: bool) -> Comparison:
    s1, n1 = values.s.get(variant, np.empty(0)), values.n.get(variant, np.empty(0))
    s2, n2 = values.s.get(control, np.empty(0)), values.n.get(control, np.empty(0))
    a, b = stats.delta_ratio(s1, n1), stats.delta_ratio(s2, n2)
    units_v, units_c = len(s1), len(s2)
    test = "studentized permutation (users)" if permute else "cluster-robust t (CR1)"
    d = cluster.cr1_diff(s1, n1, s2, n2, alpha)
    if a.ratio is None or b.ratio is None or units_v < 2 or units_c < 2 or d.diff is None:
        return Comparison(**base, test=test, ci_method="cr1-t",
                          n_variant=units_v, n_control=units_c, value_variant=a.ratio,
                          value_control=b.ratio, diff=None, ci_low=None, ci_high=None, p_value=None)
    p = cluster.permutation_p(s1, n1, s2, n2, max(n_resamples, 1000), seed) if permute else d.p_value
    lift = stats.ratio_of_means(a.ratio, a.var, b.ratio, b.var, alpha)
    pw = stats.power_figures(d.se, units_v, units_c, d.diff, alpha, power)
    prob = stats.prob_positive(d.diff, d.se)
    if prob is not None and not spec.higher_is_better:
        prob = 1 - prob
    extra: dict = {}
    if spec.kind == "continuous":
        u, p_mw, sup = stats.mann_whitney(s1 / n1, s2 / n2)
        boot = stats.cluster_bootstrap_quantile_diff(
            x, values.user_of[variant], y, values.user_of[control], 0.95,
            n_resamples=n_resamples, seed=seed, alpha=alpha)
        extra = {"mann_whitney_u": u, "mann_whitney_p": p_mw, "prob_superiority": sup,
                 "p95_variant": float(np.quantile(x, 0.95)), "p95_control": float(np.quantile(y, 0.95)),
                 "p95_diff": boot.estimate, "p95_ci_low": boot.low, "p95_ci_high": boot.high}
    return Comparison(
        **base, test=test, ci_method="cr1-t",
        n_variant=units_v, n_control=units_c, value_variant=a.ratio, value_control=b.ratio,
        diff=d.diff, ci_low=d.low, ci_high=d.high, p_value=p,
        lift=lift.estimate, lift_low=lift.low, lift_high=lift.high,
        prob_beat_control=prob, prob_method="normal approximation (CR1 standard error)",
        mde=pw.mde, mde_relative=pw.mde / b.ratio if pw.mde is not None and b.ratio else None,
        power_observed=pw.power_observed,
        n_needed_variant=pw.n_needed_variant, n_needed_control=pw.n_needed_control, **extra,
    )


def _users_note(values: _Values, names: Sequence[str], metric: Metric, users_total: int) -> str:
    # Kish's effective size of the request weights: a per-user ratio weighs users by
    # their requests, so a few heavy users count as few.
    parts = []
    for name in names:
        n = values.n.get(name, np.empty(0))
        effective = float(n.sum()) ** 2 / float(np.sum(n * n)) if len(n) and n.sum() else 0.0
        parts.append(f"{name} {len(n):,} users (as {effective:,.0f} equally weighted)")
    how = ("a studentized permutation test over users"
           if users_total <= PERMUTATION_MAX_USERS else "a cluster-robust (CR1) t test on users - 1 df")
    return (f"The unit is the user: {metric.value} is compared per user, by {how}, because a user's "
            f"requests are not independent. Effective users: {'; '.join(parts)}.")


def _adjusted(comparisons: list[Comparison], primary: Metric, alpha: float) -> list[Comparison]:
    # Two families: the primary metric decides the verdict, so its comparisons are
    # corrected among themselves; guardrails (every other metric) form their own
    # family, and adding guardrails never weakens the primary test.
    out = list(comparisons)
    for family in (True, False):
        idx = [i for i, c in enumerate(comparisons) if (c.metric == primary.value) == family]
        adjusted = stats.holm([comparisons[i].p_value for i in idx])
        for i, p in zip(idx, adjusted, strict=True):
            out[i] = _with_adjusted(comparisons[i], p, alpha)
    return out


def _with_adjusted(c: Comparison, p_adjusted: float | None, alpha: float) -> Comparison:
    significant = p_adjusted is not None and p_adjusted < alpha and c.diff is not None and c.diff != 0
    direction = None
    if significant:
        direction = "better" if (c.diff > 0) == c.higher_is_better else "worse"
    return dataclasses.replace(c, p_adjusted=p_adjusted, significant=significant, direction=direction)


def _verdict(comparisons: Sequence[Comparison], primary: Metric, srm: Srm,
             min_effect: float | None, min_units: int = MIN_UNITS) -> Verdict:
    main = [c for c in comparisons if c.metric == primary.value]
    better = tuple(c.variant for c in main if c.direction == "better")
    worse = tuple(c.variant for c in main if c.direction == "worse")
    guardrails = tuple(f"{c.variant}:{c.metric}" for c in comparisons
                       if c.metric != primary.value and c.direction == "worse")
    common = {"metric": primary.value, "better": better, "worse": worse, "guardrails": guardrails}
    if srm.mismatch:
        return Verdict("invalid", reason="sample ratio mismatch", **common)
    if any(c.p_value is None for c in main):
        return Verdict("inconclusive", reason="too little data", **common)
    smallest = min(min(c.n_variant, c.n_control) for c in main)
    if (better or worse) and smallest < min_units:
        unit = main[0].unit
        return Verdict("inconclusive", reason=f"too few {unit}s for a verdict ({smallest} in an arm; "
                       f"a winner needs {min_units} per arm)", **common)
    if len(better) == 1:
        return Verdict("winner", winner=better[0], reason="beats control", **common)
    if len(better) > 1:
        return Verdict("inconclusive", reason="several variants beat control", **common)
    if worse and len(worse) == len(main):
        return Verdict("winner", winner=main[0].control, reason="every variant is worse than control",
                       **common)
    if worse:
        return Verdict("inconclusive", reason="some variants are worse, none better", **common)
    # Nothing significant. The absence of a difference is shown only against a margin
    # the user chose: against the current MDE it would be certified at any size.
    if min_effect is None:
        return Verdict("inconclusive", reason="not significant; give --min-effect to test for no difference",
                       **common)
    def ruled_out(c: Comparison) -> bool:
        return c.ci_low is not None and c.ci_high is not None \
            and -min_effect < c.ci_low and c.ci_high < min_effect
    if all(ruled_out(c) for c in main):
        return Verdict("no_difference", reason="effects beyond the threshold are ruled out", **common)
    return Verdict("inconclusive", reason="not significant, and the interval is still wide", **common)
