"""What ``aimon abtest analyze`` returns: figures per variant, comparisons with control,
the sample-ratio check and the verdict (no formatting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aimon.analysis.toolkit.window import Window

SRM_ALPHA = 0.001  # a sample ratio mismatch is flagged below this p-value


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
