"""One variant against control on one metric (per request, or per user with cluster-robust
standard errors and a permutation test over users), Holm's adjustment in two families
(primary, guardrails), and the verdict over all comparisons."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aimon.analysis.abtest.metrics import METRICS, Metric, MetricSpec
from aimon.analysis.abtest.results import Comparison, Srm, Verdict
from aimon.analysis.toolkit import cluster, stats

# A winner needs at least this many units (users, or requests) in every compared arm:
# below it one unit can carry the whole difference ("3/3 vs 300/1000").
MIN_UNITS = 20
# Per-user p-values come from a permutation test up to this many users in an
# experiment; beyond, the CR1 t reference (the permutations would cost seconds, and
# with that many users the t reference holds).
PERMUTATION_MAX_USERS = 20_000


@dataclass(frozen=True)
class _Values:
    """A metric's values per variant: request values, and per-user sums when by user."""

    by_variant: dict[str, np.ndarray]
    user_of: dict[str, np.ndarray]  # integer user codes per request value (by user only)
    s: dict[str, np.ndarray]
    n: dict[str, np.ndarray]


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
