"""Highlights, concerns and recommendations: what a report's figures mean, by thresholds.

The thresholds are data (:class:`Thresholds`), read from the ``[report]`` table of
``aimon.toml``; the rules that apply them are plain functions over a report's figures,
each producing findings with a stable ``code`` for scripts and a sentence for people.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aimon.analysis.toolkit.intervals import wilson
from aimon.config import ReportSettings

if TYPE_CHECKING:
    from pathlib import Path

    from aimon.analysis.report.daily import Report


@dataclass(frozen=True)
class Thresholds(ReportSettings):
    """When a figure becomes a highlight, a concern or a recommendation: the ``[report]``
    table of aimon.toml (``aimon.config.ReportSettings`` holds the keys and defaults)."""

    @classmethod
    def read(cls, path: Path | None) -> Thresholds:
        """The ``[report]`` table of the aimon.toml at ``path``, validated as
        ``aimon.config.ReportConfig`` (so problems read as in ``aimon config validate``);
        every default without a file, which needs no pydantic (start-up)."""
        if path is None:
            return cls()
        from aimon.config import ReportConfig, section

        table = section(path, "report", ReportConfig)
        return cls(**{name: getattr(table, name) for name in type(table).model_fields})

    def is_premium(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.premium_models)


@dataclass(frozen=True)
class Finding:
    """One sentence about the period, with a stable code."""

    code: str
    text: str


@dataclass(frozen=True)
class Findings:
    highlights: tuple[Finding, ...] = ()
    concerns: tuple[Finding, ...] = ()
    recommendations: tuple[Finding, ...] = ()


def _pct(x: float) -> str:
    return f"{x:.1%}"


# What the most common error type suggests doing.
ERROR_ADVICE = {
    "rate_limit": "raise the provider rate limit or add client-side backoff and queueing",
    "timeout": "check provider status and lower max tokens or raise timeouts on slow endpoints",
    "context_length": "trim conversation history or summarise long contexts before the call",
    "validation": "tighten the output schema instructions or add a repair step",
    "content_filter": "review the prompts that trip the provider's content filter",
    "overloaded": "add a fallback model for overloaded periods",
}


@dataclass
class _Found:
    """The findings so far, in the order the rules below add them."""

    highlights: list[Finding] = field(default_factory=list)
    concerns: list[Finding] = field(default_factory=list)
    recs: list[Finding] = field(default_factory=list)


def findings(report: Report, t: Thresholds) -> Findings:
    """What stands out in ``report`` by the thresholds ``t``."""
    out = _Found()
    span = "yesterday" if report.kind == "daily" else "the previous week"
    baseline = "the 7-day baseline" if report.kind == "daily" else "the 4-week baseline"
    err = _value(report, "error_rate")
    _reliability(out, report, t, baseline)
    _cost_change(out, report, t, span)
    _traffic_drop(out, report, t, baseline)
    _feedback(out, report, t)
    _cache(out, report, t)
    _spend_advice(out, report, t)
    out.concerns.extend(_hotspots(report, t, err))
    _traffic_growth_and_gaps(out, report, t, baseline)
    if report.security_high.height:
        n = int(report.security_high["requests"].sum())
        which = ", ".join(f"{c} {r:,}" for c, r in report.security_high.iter_rows())
        out.concerns.append(Finding("security_high", f"{n:,} request(s) with high-severity security findings "
                                                     f"({which}): see aimon audit security"))
    if err is not None and err <= t.error_rate / 5 and (_value(report, "requests") or 0) >= 100:
        out.highlights.append(Finding("low_error_rate", f"Low error rate: {_pct(err)}"))
    return Findings(tuple(out.highlights), tuple(out.concerns), tuple(out.recs))


def _value(report: Report, name: str) -> float | None:
    f = report.figures.get(name)
    return None if f is None else f.value


def _reliability(out: _Found, report: Report, t: Thresholds, baseline: str) -> None:
    """The error rate and the P95 latency, against their thresholds and the baseline."""
    err = _value(report, "error_rate")
    if err is not None and err > t.error_rate:
        out.concerns.append(Finding("high_error_rate",
                                    f"High error rate: {_pct(err)} (threshold {_pct(t.error_rate)})"))
    p95 = report.figures.get("latency_p95_ms")
    if p95 is None or p95.value is None:
        return
    if p95.value > t.p95_latency_ms:
        out.concerns.append(Finding("slow_p95", f"Slow P95 latency: {p95.value:,.0f} ms "
                                                f"(threshold {t.p95_latency_ms:,.0f} ms)"))
    change = p95.change_baseline_pct
    if change is not None and change > t.latency_regression:
        out.concerns.append(Finding("latency_regression",
                                    f"P95 latency is {change:+.0%} against {baseline} "
                                    f"({p95.baseline:,.0f} ms to {p95.value:,.0f} ms)"))


def _cost_change(out: _Found, report: Report, t: Thresholds, span: str) -> None:
    """Spend against the previous period: a spike is a concern, a drop a highlight."""
    cost = report.figures.get("cost_usd")
    if cost is None or cost.value is None or cost.change_previous_pct is None:
        return
    if cost.change_previous_pct > t.cost_spike:
        out.concerns.append(Finding("cost_spike", f"Cost spike: {cost.change_previous_pct:+.1%} against {span} "
                                                  f"(${cost.previous:,.2f} to ${cost.value:,.2f})"))
    elif cost.change_previous_pct < -t.cost_drop:
        out.highlights.append(Finding("cost_reduction", f"Cost reduction: {-cost.change_previous_pct:.1%} "
                                                        f"against {span}"))


def _traffic_drop(out: _Found, report: Report, t: Thresholds, baseline: str) -> None:
    req = report.figures.get("requests")
    if req is not None and req.change_baseline_pct is not None and req.change_baseline_pct < -t.traffic_drop:
        out.concerns.append(Finding("traffic_drop", f"Traffic is {req.change_baseline_pct:+.0%} against "
                                                    f"{baseline} ({req.baseline:,.0f} to {req.value:,.0f} "
                                                    "requests)"))


def _feedback(out: _Found, report: Report, t: Thresholds) -> None:
    """Satisfaction and the thumbs-down rate, once there are enough votes to judge."""
    votes = report.votes
    if votes < t.min_votes:
        return
    sat = _value(report, "satisfaction")
    if sat is not None:
        if sat > t.satisfaction_high:
            out.highlights.append(Finding("high_satisfaction",
                                          f"High user satisfaction: {_pct(sat)} of {votes:,} votes"))
        elif sat < t.satisfaction_low:
            out.concerns.append(Finding("low_satisfaction", f"Low user satisfaction: {_pct(sat)} of {votes:,} votes"))
    down = _value(report, "thumbs_down_rate")
    if down is not None and down > t.thumbs_down_rate:
        out.concerns.append(Finding("thumbs_down",
                                    f"Thumbs-down rate {_pct(down)} is above {_pct(t.thumbs_down_rate)}"))


def _cache(out: _Found, report: Report, t: Thresholds) -> None:
    cache = _value(report, "cache_hit_rate")
    if cache is None:
        return
    if cache > t.cache_hit_high:
        out.highlights.append(Finding("cache_performance", f"Excellent cache performance ({_pct(cache)} hit rate)"))
    elif cache < t.cache_hit_low:
        out.recs.append(Finding("consider_caching", f"Cache hit rate is {_pct(cache)}: consider semantic caching "
                                                    "of repeated questions to cut cost and latency"))


def _spend_advice(out: _Found, report: Report, t: Thresholds) -> None:
    """Where spend goes unseen or could be cut: unpriced requests, premium models, the
    dominant error type, the dearest endpoint."""
    unpriced = _value(report, "unpriced_requests")
    requests = _value(report, "requests") or 0
    if unpriced and requests and unpriced / requests > t.unpriced_share:
        out.concerns.append(Finding("unpriced", f"{unpriced:,.0f} requests ({unpriced / requests:.1%}) have no "
                                                "price: their spend is not in the cost figures"))
        models = ", ".join(report.unpriced_models[:5]) or "unknown models"
        out.recs.append(Finding("add_prices", f"Add prices for {models} (a prices file) so all spend is counted"))
    mix = report.by_model
    if mix.height and requests:
        premium = sum(n for m, n in zip(mix["model"], mix["requests"], strict=True) if t.is_premium(m))
        if premium / requests > t.premium_share:
            out.recs.append(Finding("route_to_smaller_models",
                                    f"Premium models serve {premium / requests:.0%} of requests: review whether "
                                    "all need them and route simpler queries to a smaller model"))
    top = report.top_errors
    if top.height and top["errors"].sum() >= 10 and top["share"][0] > t.error_type_share:
        kind = top["error_type"][0]
        advice = ERROR_ADVICE.get(kind, "look at the failing requests in this period")
        out.recs.append(Finding("dominant_error", f"{kind} makes up {top['share'][0]:.0%} of errors: {advice}"))
    ends = report.top_endpoints
    total_cost = _value(report, "cost_usd")
    if (ends.height and total_cost and ends["cost_usd"][0] is not None
            and ends["cost_usd"][0] / total_cost > t.endpoint_cost_share):
        out.recs.append(Finding("endpoint_cost", f"{ends['endpoint'][0]} accounts for "
                                                 f"{ends['cost_usd'][0] / total_cost:.0%} of spend: review its "
                                                 "prompts, context size and model choice first"))


def _traffic_growth_and_gaps(out: _Found, report: Report, t: Thresholds, baseline: str) -> None:
    req = report.figures.get("requests")
    if req is not None and req.change_baseline_pct is not None and req.change_baseline_pct > t.traffic_growth:
        out.highlights.append(Finding("traffic_growth", f"Traffic is {req.change_baseline_pct:+.0%} against "
                                                        f"{baseline} ({req.baseline:,.0f} to {req.value:,.0f} "
                                                        "requests)"))
    if report.gaps.height:
        longest = report.gaps["minutes"].max()
        out.concerns.append(Finding("traffic_gaps", f"{report.gaps.height} stretch(es) of {t.gap_minutes:g}+ "
                                                    f"minutes with no traffic where the baseline expected "
                                                    f"{t.gap_min_expected:g}+ requests (longest {longest:,.0f} min)"))


def _hotspots(report: Report, t: Thresholds, overall: float | None) -> list[Finding]:
    """Where the errors and the spend sit: a model or an hour whose error rate is above
    the threshold with its whole 95% interval, and an hour that spent a large share of
    the day. (The hour with the worst P95 is not called out: with ~100 requests an
    hour, it is 2x the day's P95 on ordinary days too.)"""
    out: list[Finding] = []
    mix = report.by_model
    if mix.height:
        for row in mix.sort("errors", descending=True).iter_rows(named=True):
            n, k = row["requests"], row["errors"]
            if n < t.hotspot_min_requests:
                continue
            low, high = wilson(k, n)
            if low is not None and low > t.error_rate:
                out.append(Finding("model_error_rate", f"{row['model']} failed {k / n:.1%} of its {n:,} requests "
                                                       f"(95% CI {low:.1%} to {high:.1%}; all models "
                                                       f"{_pct(overall or 0)})"))
    series = report.series
    if series.height and report.bucket_hours == 1:
        busy = series.filter(series["requests"] >= t.hotspot_min_requests)
        if busy.height:
            worst = busy.sort("error_rate", descending=True, nulls_last=True).row(0, named=True)
            low, high = wilson(worst["errors"], worst["requests"])
            if low is not None and low > t.error_rate:
                out.append(Finding("error_hour", f"Errors peaked at {_hour(worst['start'], report.tz)}: "
                                                 f"{worst['error_rate']:.1%} of {worst['requests']:,} requests "
                                                 f"(95% CI {low:.1%} to {high:.1%})"))
        total = float(series["cost_usd"].sum())
        dear = series.sort("cost_usd", descending=True).row(0, named=True)
        if total > 0 and dear["cost_usd"] / total > t.hour_cost_share:
            out.append(Finding("cost_hour", f"Spend peaked at {_hour(dear['start'], report.tz)}: "
                                            f"${dear['cost_usd']:,.2f} in one hour, {dear['cost_usd'] / total:.0%} "
                                            "of the period's spend"))
    return out


def _hour(start: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return start.astimezone(ZoneInfo(tz)).strftime("%H:%M")
