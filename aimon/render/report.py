"""How a daily or weekly report reads: JSON data, terminal/Markdown blocks, HTML.

The JSON keys are a contract for scripts (documented in docs/report.md). Table and
Markdown share one list of blocks; ``--format html`` is drawn by
:mod:`aimon.render.html` from the same JSON data, so every format shows the same
numbers.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aimon.render import (
    SPARK,
    Block,
    Chart,
    Figures,
    FrameBlock,
    Heading,
    Note,
    _jsonable,
    sparkline,
)

if TYPE_CHECKING:
    from aimon.analysis.report.daily import Figure, Report


class ReportFormat(StrEnum):
    """Formats of ``aimon report``: the shared ones (CSV holds the headline figures), plus a
    standalone HTML page."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"
    html = "html"


PANEL_TITLES = {"overview": "Overview", "quality": "Quality", "cost": "Cost", "performance": "Performance"}
DASH = "—"


# --------------------------------------------------------------------------- values

def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def money(x: float | None) -> str:
    """Dollars: cents for amounts of a dollar or more, four significant digits below."""
    if not _finite(x):
        return DASH
    if abs(x) >= 1 or x == 0:
        return f"${x:,.2f}"
    # Four significant digits, never in exponent form: $0.4757, $0.00007792.
    return f"${x:.{max(2, 3 - math.floor(math.log10(abs(x))))}f}"


def figure_value(unit: str, x: float | None) -> str:
    """A figure's value in its unit."""
    if not _finite(x):
        return DASH
    if unit == "count":
        return f"{x:,.0f}"
    if unit == "rate":
        return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.2%}"
    if unit == "ms":
        return f"{x:,.0f} ms"
    if unit == "usd":
        return money(x)
    if unit == "usd_per_hour":
        return money(x) + "/h"
    if unit == "per_minute":
        return f"{x:,.1f}/min"
    if unit == "per_second":
        return f"{x:,.1f} tok/s"
    if unit == "tokens":
        return f"{x:,.0f} tokens"
    if unit == "score":
        return f"{x:+.2f}"
    if unit == "ratio":
        return f"{x:,.1f} : 1"
    return f"{x:,.4g}"


def _arrow(shown: str) -> str:
    # From the rounded text, so "+0.0%" never wears an arrow.
    digits = shown.strip("+-%p ")
    if not digits.strip("0.,"):
        return "= " + shown.lstrip("+-")
    return ("▲ " if shown.startswith("+") else "▼ ") + shown


def change_text(unit: str, diff: float | None, pct: float | None) -> str:
    """A change: percentage points for rates and scores, a relative change otherwise."""
    if unit in ("rate", "score"):
        return DASH if not _finite(diff) else _arrow(f"{diff * 100:+.1f} pp")
    return DASH if not _finite(pct) else _arrow(f"{pct:+.1%}")


def trend(values: list[float | None]) -> str:
    """A sparkline of a figure's periods scaled from zero, so a flat series looks flat
    (the shared sparkline stretches min..max, which turns noise into mountains)."""
    present = [v for v in values if _finite(v)]
    if not present:
        return ""
    if min(present) < 0:
        return sparkline(values)
    high = max(present) or 1.0
    out = []
    for v in values:
        if not _finite(v):
            out.append(" ")
        else:
            out.append(SPARK[min(len(SPARK) - 1, int(v / high * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


def figure_text(f: Figure) -> str:
    """Value with its 95% interval when it has one."""
    text = figure_value(f.unit, f.value)
    if _finite(f.low) and _finite(f.high) and f.value is not None:
        text += f" ({figure_value(f.unit, f.low)} to {figure_value(f.unit, f.high)})"
    return text


def figures_rows(report: Report, names: tuple[str, ...]) -> list[dict[str, str]]:
    """One table row per figure: value, change against the previous period and the baseline, trend."""
    prev = "vs yesterday" if report.kind == "daily" else "vs last week"
    base = "vs 7-day baseline" if report.kind == "daily" else "vs 4-week baseline"
    rows = []
    for name in names:
        f = report.figures[name]
        rows.append({
            "figure": f.label,
            "value": figure_text(f),
            prev: change_text(f.unit, f.change_previous, f.change_previous_pct),
            base: change_text(f.unit, f.change_baseline, f.change_baseline_pct),
            "trend": trend(list(f.history)),
        })
    return rows


# --------------------------------------------------------------------------- JSON

def _period(p) -> dict[str, Any]:
    return {"label": p.label, "first_day": p.first_day, "last_day": p.last_day, "days": p.days,
            "start": p.start, "end": p.end}


def figure_data(f: Figure) -> dict[str, Any]:
    return {
        "label": f.label, "unit": f.unit, "better": f.better,
        "value": f.value, "low": f.low, "high": f.high,
        "previous": f.previous, "baseline": f.baseline,
        "change_previous": f.change_previous, "change_previous_pct": f.change_previous_pct,
        "change_baseline": f.change_baseline, "change_baseline_pct": f.change_baseline_pct,
        "history": list(f.history),
    }


def empty_message(report: Report) -> str:
    where = ""
    if report.data_first is not None:
        from zoneinfo import ZoneInfo

        def clock(t: datetime) -> str:
            return t.astimezone(ZoneInfo(report.tz)).strftime("%Y-%m-%d %H:%M")

        where = f" The database holds requests from {clock(report.data_first)} to {clock(report.data_last)}."
    else:
        where = " The database holds no requests."
    return f"No requests on {report.period.label} ({report.tz}).{where}"


def report_data(report: Report) -> dict[str, Any]:
    """The JSON contract of ``aimon report daily|weekly --format json``."""
    base = report.baseline_periods
    data: dict[str, Any] = {
        "kind": report.kind,
        "title": report.title,
        "tz": report.tz,
        "period": _period(report.period),
        "previous": _period(report.previous),
        "baseline": {"method": "median", "periods": len(base),
                     "with_data": sum(1 for i in range(len(base))
                                      if report.figures["requests"].history[-2 - i] is not None),
                     "start": min(p.start for p in base), "end": max(p.end for p in base)},
        "has_data": report.has_data,
        "message": None if report.has_data else empty_message(report),
        "data_span": {"first": report.data_first, "last": report.data_last},
        "figures": {name: figure_data(f) for name, f in report.figures.items()},
        "panels": {k: list(v) for k, v in report.panels.items()},
        "highlights": [{"code": f.code, "text": f.text} for f in report.findings.highlights],
        "concerns": [{"code": f.code, "text": f.text} for f in report.findings.concerns],
        "recommendations": [{"code": f.code, "text": f.text} for f in report.findings.recommendations],
        "votes": report.votes,
        "series": {"bucket_hours": report.bucket_hours, "rows": report.series},
        "top_errors": report.top_errors,
        "report_categories": report.report_categories,
        "by_model": report.by_model,
        "by_endpoint": report.by_endpoint,
        "top_endpoints": report.top_endpoints,
        "cost": report.cost,
        "gaps": report.gaps,
        "thresholds": report.thresholds,
        "quality_drift": report.quality_drift,
    }
    return _jsonable(data)


# --------------------------------------------------------------------------- blocks

def _bucket_label(start: datetime, tz: str, bucket_hours: int) -> str:
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo(tz))
    return local.strftime("%H") if bucket_hours == 1 else local.strftime("%a %H")


def _pct(x: float | None) -> str:
    return DASH if not _finite(x) else f"{x:.2%}"


def _clock(t: datetime, report: Report) -> str:
    """A time of the report's period: 14:05 in a daily report, Tue 14:05 in a weekly one."""
    from zoneinfo import ZoneInfo

    local = t.astimezone(ZoneInfo(report.tz))
    return local.strftime("%H:%M") if report.kind == "daily" else local.strftime("%a %d %H:%M")


def _findings_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = []
    for title, items in (("Highlights", report.findings.highlights), ("Concerns", report.findings.concerns),
                         ("Recommendations", report.findings.recommendations)):
        blocks.append(Heading(title, 2))
        blocks.append(Note(items=[f.text for f in items] or ["none"]))
    return blocks


def cost_text(cost: float | None, unpriced: int) -> str:
    """Known spend, with the requests whose spend is unknown named beside it (never as $0)."""
    if not unpriced:
        return money(cost if cost is not None else 0.0)
    known = money(cost) if cost is not None else "unknown"
    return f"{known} + {unpriced:,} unpriced"


def _with_cost_text(frame, before: tuple[str, ...], after: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = []
    for row in frame.iter_rows(named=True):
        out = {k: row[k] for k in before}
        out["cost"] = cost_text(row["cost_usd"], row["unpriced_requests"])
        out.update({k: row[k] for k in after})
        rows.append(out)
    return rows


def report_blocks(report: Report) -> list[Block]:
    """What table and Markdown draw."""
    panels = report.panels
    blocks: list[Block] = [Heading(report.title)]
    if not report.has_data:
        blocks.append(Note(empty_message(report)))
        return blocks
    p, prev, base = report.period, report.previous, report.baseline_periods
    blocks.append(Note(
        f"{p.start.isoformat()} to {p.end.isoformat()}; compared with {prev.label} and with the median of "
        f"{min(b.first_day for b in base).isoformat()} to {max(b.last_day for b in base).isoformat()} "
        f"({report.kind} baseline). Intervals are 95% (Wilson)."))
    blocks.extend(_findings_blocks(report))

    series = report.series
    labels = [_bucket_label(s, report.tz, report.bucket_hours) for s in series["start"]]
    per = "hour" if report.bucket_hours == 1 else f"{report.bucket_hours} hours"

    blocks.append(Heading(PANEL_TITLES["overview"], 2))
    blocks.append(FrameBlock(figures_rows(report, panels["overview"])))
    blocks.append(Chart(f"Per {per} ({report.tz})", labels, {
        "requests": series["requests"].to_list(),
        "P95 latency (ms)": series["latency_p95_ms"].to_list(),
        "cost (USD)": series["cost_usd"].to_list(),
    }, kind="line"))

    blocks.append(Heading(PANEL_TITLES["quality"], 2))
    blocks.append(FrameBlock(figures_rows(report, panels["quality"])))
    if report.quality_drift:
        q = report.quality_drift
        blocks.append(Note(f"Quality drift: responses against the baseline: "
                           f"{'DRIFTED' if q['drifted'] else 'no drift'} (p={q['p_value']:.3f}, semantic test on "
                           f"{q['n_current']:,} / {q['n_baseline']:,} cached embeddings; aimon drift --field "
                           "response names the topics)"))
    if report.votes == 0:
        blocks.append(Note("No thumbs up or down on these requests."))
    prev_label = "yesterday" if report.kind == "daily" else "last week"
    if report.top_errors.height:
        rows = [{"error type": r["error_type"], "errors": r["errors"], "share of errors": r["share"],
                 "of requests": r["rate"], prev_label: r["previous_errors"]}
                for r in report.top_errors.iter_rows(named=True)]
        blocks.append(FrameBlock(rows, title="Top errors",
                                 formats={"share of errors": ".1%", "of requests": ".2%"}))
    if report.report_categories.height:
        rows = [{"category": r["category"], "reports": r["reports"],
                 "per request (95% CI)": f"{_pct(r['report_rate'])} ({_pct(r['report_rate_low'])} to "
                                         f"{_pct(r['report_rate_high'])})"}
                for r in report.report_categories.iter_rows(named=True)]
        blocks.append(FrameBlock(rows, title="Reports by category"))

    blocks += _cost_blocks(report)

    blocks.append(Heading(PANEL_TITLES["performance"], 2))
    blocks.append(FrameBlock(figures_rows(report, panels["performance"])))
    blocks.append(Chart(f"Latency per {per} (ms)", labels, {
        "P50": series["latency_p50_ms"].to_list(),
        "P95": series["latency_p95_ms"].to_list(),
        "P99": series["latency_p99_ms"].to_list(),
    }, shared_axis=True))
    if report.by_model.height:
        import polars as pl  # not at module level: `aimon --help` must not import polars

        blocks.append(FrameBlock(report.by_model.select(
            "model", "share", pl.col("error_rate").alias("errors"), pl.col("latency_p95_ms").alias("P95 ms"),
            pl.col("tokens_per_s").alias("tokens/s")),
            title="Model mix", formats={"share": ".1%", "errors": ".2%", "P95 ms": ",.0f", "tokens/s": ",.1f"}))
    if report.by_endpoint.height:
        rows = [{"endpoint": r["endpoint"], "requests": r["requests"], "errors": r["error_rate"],
                 "P95 ms": r["latency_p95_ms"], "cost": cost_text(r["cost_usd"], r["unpriced_requests"])}
                for r in report.by_endpoint.iter_rows(named=True)]
        blocks.append(FrameBlock(rows, title="Endpoints", formats={"errors": ".2%", "P95 ms": ",.0f"}))
    if report.gaps.height:
        rows = [{"from": _clock(r["gap_start"], report), "to": _clock(r["gap_end"], report),
                 "minutes": r["minutes"], "requests expected": r["expected_requests"]}
                for r in report.gaps.iter_rows(named=True)]
        blocks.append(FrameBlock(rows, title=f"Zero-traffic gaps ({report.thresholds.gap_minutes:g}+ min, "
                                             f"{report.tz})", formats={"minutes": ",.1f",
                                                                       "requests expected": ",.0f"}))
    return blocks


def _cost_blocks(report: Report) -> list[Block]:
    """The cost panel: spend by how it was known, the month's projection, the costliest
    models and endpoints."""
    blocks: list[Block] = [Heading(PANEL_TITLES["cost"], 2), FrameBlock(figures_rows(report, report.panels["cost"]))]
    c = report.cost
    if c is not None:
        blocks.append(Figures([
            ("logged by the source", money(c.logged_usd)),
            ("computed from prices", money(c.computed_usd)),
            ("requests without a price", f"{c.unpriced_requests:,} (their spend is unknown, not $0; "
                                         f"{c.unpriced_input_tokens:,} input / {c.unpriced_output_tokens:,} "
                                         "output tokens)" if c.unpriced_requests else "0"),
            ("daily run rate (last 7 days)", money(c.daily_run_rate_usd)),
            (f"projected {c.month} (cost forecast)",
             (money(c.projected_month_usd) + (f" (80%: {money(c.projected_month_low_usd)}–"
                                             f"{money(c.projected_month_high_usd)})"
                                             if c.projected_month_low_usd != c.projected_month_high_usd else "")
              + (" + unpriced" if c.unpriced_requests else ""))
             if c.projected_month_usd is not None else (c.projection_note or "no forecast")),
        ], title="Spend"))
    if report.by_model.height:
        blocks.append(FrameBlock(_with_cost_text(report.by_model, ("model", "requests", "share")),
                                 title="Cost by model", formats={"share": ".1%"}))
    if report.top_endpoints.height:
        rows = _with_cost_text(report.top_endpoints, ("endpoint", "requests"))
        for row, r in zip(rows, report.top_endpoints.iter_rows(named=True), strict=True):
            row["per priced request"] = money(r["cost_per_request_usd"])
        blocks.append(FrameBlock(rows, title="Most expensive endpoints"))
    return blocks


def report_figures_frame(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's headline figures as one table (what CSV can hold): one row per
    metric with its value, interval, the day before, the baseline and the changes."""
    return [{"metric": key, **fields} for key, fields in (data.get("figures") or {}).items()]
