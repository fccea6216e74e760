"""How a daily or weekly report reads: JSON data, terminal/Markdown blocks, HTML.

The JSON keys are a contract for scripts (documented in docs/report.md). Table and
Markdown share one list of blocks; ``--format html`` is drawn by
:mod:`aimon.render.html` from the same JSON data, so every format shows the same
numbers.
"""

from __future__ import annotations

from datetime import datetime
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
    units,
)
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.report.daily import Figure, Report


PANEL_TITLES = {"overview": "Overview", "quality": "Quality", "cost": "Cost", "performance": "Performance"}
DASH = units.MISSING


# --------------------------------------------------------------------------- values

def _arrow(shown: str) -> str:
    # From the rounded text, so "+0.0%" never wears an arrow.
    digits = shown.strip("+-%p ")
    if not digits.strip("0.,"):
        return "= " + shown.lstrip("+-")
    return ("▲ " if shown.startswith("+") else "▼ ") + shown


def change_text(unit: str, diff: float | None, pct: float | None) -> str:
    """A change: percentage points for rates and scores, a relative change otherwise."""
    if unit in ("rate", "score"):
        return DASH if not units.finite(diff) else _arrow(units.pp(diff))
    return DASH if not units.finite(pct) else _arrow(units.pct(pct, signed=True))


def trend(values: list[float | None]) -> str:
    """A sparkline of a figure's periods scaled from zero, so a flat series looks flat
    (the shared sparkline stretches min..max, which turns noise into mountains)."""
    present = [v for v in values if units.finite(v)]
    if not present:
        return ""
    if min(present) < 0:
        return sparkline(values)
    high = max(present) or 1.0
    out = []
    for v in values:
        if not units.finite(v):
            out.append(" ")
        else:
            out.append(SPARK[min(len(SPARK) - 1, int(v / high * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


def figure_text(f: Figure) -> str:
    """Value with its 95% interval when it has one."""
    text = units.value(f.unit, f.value)
    if units.finite(f.low) and units.finite(f.high) and f.value is not None:
        text += f" ({units.value(f.unit, f.low)} to {units.value(f.unit, f.high)})"
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
        where = (f" The database holds requests from {units.when(report.data_first, report.tz)} to "
                 f"{units.when(report.data_last, report.tz)}.")
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
    return units.when(start, tz, "%H" if bucket_hours == 1 else "%a %H")


def _clock(t: datetime, report: Report) -> str:
    """A time of the report's period: 14:05 in a daily report, Tue 14:05 in a weekly one."""
    return units.when(t, report.tz, "%H:%M" if report.kind == "daily" else "%a %d %H:%M")


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
        return units.money(cost if cost is not None else 0.0)
    known = units.money(cost) if cost is not None else "unknown"
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
                           f"{'DRIFTED' if q['drifted'] else 'no drift'} ({units.p_is(q['p_value'])}, semantic test on "
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
                 "per request (95% CI)": f"{units.pct(r['report_rate'], 2)} ({units.pct(r['report_rate_low'], 2)} to "
                                         f"{units.pct(r['report_rate_high'], 2)})"}
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
            ("logged by the source", units.money(c.logged_usd)),
            ("computed from prices", units.money(c.computed_usd)),
            ("requests without a price", f"{c.unpriced_requests:,} (their spend is unknown, not $0; "
                                         f"{c.unpriced_input_tokens:,} input / {c.unpriced_output_tokens:,} "
                                         "output tokens)" if c.unpriced_requests else "0"),
            ("daily run rate (last 7 days)", units.money(c.daily_run_rate_usd)),
            (f"projected {c.month} (cost forecast)",
             (units.money(c.projected_month_usd) + (f" (80%: {units.money(c.projected_month_low_usd)}–"
                                             f"{units.money(c.projected_month_high_usd)})"
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
            row["per priced request"] = units.money(r["cost_per_request_usd"])
        blocks.append(FrameBlock(rows, title="Most expensive endpoints"))
    return blocks


def report_figures_frame(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's headline figures as one table (what CSV can hold): one row per
    metric with its value, interval, the day before, the baseline and the changes."""
    return [{"metric": key, **fields} for key, fields in (data.get("figures") or {}).items()]


def _html(data: dict[str, Any]) -> str:
    from aimon.render.html import report_html

    return report_html(data)


register("Report", Presentation("a report", ("report daily", "report weekly"), report_data, report_blocks,
                                table=lambda report: report_figures_frame(report_data(report)),
                                writers={"html": _html}))
