"""How cost results read: the JSON contract of every ``aimon cost`` command, and the
blocks (headings, figures, tables) drawn for table and Markdown output.

Money is USD; ``*_usd`` keys are dollars, ``*_mtok`` keys dollars per million tokens,
``*_share``/``*_rate`` fractions between 0 and 1. Keys are documented in docs/cost.md.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import polars as pl

from aimon.render import Block, Chart, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.cost.anomalies import Anomalies
    from aimon.analysis.cost.breakdown import Breakdown
    from aimon.analysis.cost.budget import BudgetCheck
    from aimon.analysis.cost.price_table import PricesResult
    from aimon.analysis.cost.reconcile import Reconciliation
    from aimon.analysis.cost.routing import Routing
    from aimon.analysis.forecast.spend import Forecast

USD = "usd"  # money columns: units.money's one rule
PCT = ".1%"
RATIO = ".2f"


# Dollars by units.money's one rule; an unknown cost is named as such (never shown as $0).
money = partial(units.money, missing="unpriced")


def gate_message(result: Any) -> str:
    """The message of a failed cost check (exit 1): the analysis's breaches."""
    return "cost check failed:\n" + "\n".join(result.breaches)


def _window(window: Any) -> dict:
    return {"start": window.start, "end": window.end}


# Short headers for table and Markdown output (JSON and CSV keep the documented keys).
HEADERS = {
    "input_tokens": "input tok", "output_tokens": "output tok", "cached_input_tokens": "cached tok",
    "cache_write_tokens": "cache-write tok", "logged_requests": "logged req", "compared": "compared",
    "mismatched": "mismatched", "logged_only": "logged, no price", "logged_cost_usd": "logged",
    "computed_cost_usd": "computed", "median_ratio": "median logged/computed",
    "difference_ratio": "difference", "forecast_usd": "forecast", "lo80_usd": "80% low",
    "hi80_usd": "80% high", "lo95_usd": "95% low", "hi95_usd": "95% high", "history_usd": "history",
    "month_end_projected_usd": "month-end", "cost_usd": "cost", "day_hourly_avg_usd": "day's hourly avg",
    "ratio_to_day_avg": "x day avg", "typical_same_hour_usd": "typical for the hour",
    "ratio_to_typical_hour": "x typical", "baseline_usd": "baseline", "spread_usd": "spread (MAD)",
    "baseline_days": "baseline days", "robust_z": "robust z", "ratio_to_baseline": "x baseline",
    "simple_requests": "simple req", "no_prompt_requests": "no prompt", "simple_cost_usd": "simple cost",
    "simple_cost_on_cheapest_usd": "on cheapest", "simple_share": "simple share", "saving_usd": "saving",
    "monthly_saving_usd": "monthly saving", "usd_per_mtok": "$ per M tok", "limit_usd": "limit",
    "value_usd": "value", "input_tokens_tier": "prompt tokens", "user_id": "user",
}


def _table(frame: Any, formats: dict[str, str], title: str | None = None) -> FrameBlock:
    """A FrameBlock under short headers, its formats following the renames."""
    if not isinstance(frame, pl.DataFrame):
        frame = pl.DataFrame(frame)
    names = {c: HEADERS[c] for c in frame.columns if c in HEADERS}
    return FrameBlock(frame.rename(names), title=title,
                      formats={names.get(c, c): spec for c, spec in formats.items()})


def _unpriced_blocks(frame: Any) -> list[Block]:
    if frame is None or frame.is_empty():
        return [Note("Unpriced: none — every request has a logged cost or a price.")]
    n = int(frame["requests"].sum())
    return [_table(frame.select(["provider", "model", "requests", "input_tokens", "output_tokens", "reason"]), {},
                   title=f"Unpriced requests ({n:,}): not in any cost figure, never counted as $0")]


# --------------------------------------------------------------------------- prices

PRICE_HEADERS = {"matched_model": "priced as", "valid_from": "from", "valid_to": "until",
                 "time_of_day": "hours", "input_tokens_tier": "prompt tokens", "input_mtok": "input",
                 "cache_read_mtok": "cache read", "cache_write_mtok": "cache write", "output_mtok": "output",
                 "batch_input_mtok": "batch in", "batch_output_mtok": "batch out"}
PRICE_TABLE_COLUMNS = ["provider", "model", "matched_model", "valid_from", "valid_to", "time_of_day",
                       "input_tokens_tier", "input_mtok", "cache_read_mtok", "cache_write_mtok",
                       "output_mtok", "batch_input_mtok", "batch_output_mtok", "requests"]


def prices_data(r: PricesResult) -> dict[str, Any]:
    return {
        "snapshot": {"version": r.version, "taken_at": r.snapshot_at, "sources": r.sources,
                     "genai_prices_version": r.genai_prices_version},
        "prices": r.prices,
        "unpriced": r.unpriced,
        "missing_from_snapshot": r.missing_from_snapshot,
    }


def prices_blocks(r: PricesResult, tz: str = "UTC") -> list[Block]:
    blocks: list[Block] = [Heading(r.title)]
    blocks.append(Figures([("snapshot", f"{r.version}, taken {units.when(r.snapshot_at, tz)} {tz}" if r.snapshot_at
                            else "never taken (run: aimon cost prices --refresh)"),
                           ("sources", r.sources or ""),
                           ("genai-prices installed", r.genai_prices_version)]))
    if r.prices.is_empty():
        blocks.append(Note("No priced model in the database."))
    else:
        cols = [c for c in PRICE_TABLE_COLUMNS if c in r.prices.columns
                and (c in ("provider", "model", "input_mtok", "output_mtok", "requests")
                     or r.prices[c].null_count() < r.prices.height)]
        shown = r.prices.select(cols).with_columns(
            *(pl.col(c).dt.strftime("%Y-%m-%d").fill_null("") for c in ("valid_from", "valid_to") if c in cols))
        blocks.append(FrameBlock(shown.rename({c: PRICE_HEADERS.get(c, c) for c in cols}),
                                 formats={PRICE_HEADERS.get(c, c): USD for c in cols if c.endswith("_mtok")}))
        notes = r.prices.filter(r.prices["note"].is_not_null()).select(["model", "note"]).unique(maintain_order=True)
        if not notes.is_empty():
            blocks.append(FrameBlock(notes, title="Notes"))
    blocks.extend(_unpriced_blocks(r.unpriced))
    if not r.missing_from_snapshot.is_empty():
        blocks.append(Note(f"{r.missing_from_snapshot.height} model(s) are not in the price snapshot; "
                           "refresh it with: aimon cost prices --refresh", style="yellow"))
    return blocks


# --------------------------------------------------------------------------- breakdown

# The table and Markdown view of a breakdown: two tables of short headers, money first,
# then tokens and caching (JSON and CSV carry every column under its documented key).
BREAKDOWN_COST_TABLE = {"requests": "requests", "cost_usd": "cost", "source": "source",
                        "mean_cost_usd": "mean/req", "p95_cost_usd": "P95/req",
                        "cost_per_user_day_usd": "per user-day", "share_of_cost": "share"}
BREAKDOWN_TOKEN_TABLE = {"input_tokens": "input tok", "output_tokens": "output tok",
                         "token_efficiency": "out/in", "cached_input_share": "cached in",
                         "cache_hit_rate": "cache hits", "cache_read_saving_usd": "saved (cached)",
                         "cache_hit_saving_usd": "saved (hits)"}
BREAKDOWN_FORMATS = {"cost": USD, "mean/req": USD, "P95/req": USD, "per user-day": USD,
                     "out/in": RATIO, "cached in": PCT, "cache hits": PCT, "saved (cached)": USD,
                     "saved (hits)": USD, "share": PCT}
# Figures that would read as $0 for a group whose only priced requests cost nothing
# (response-cache hits of an unpriced model): blank in the table, never a false $0.
_NOT_ZERO = ("cost_usd", "mean_cost_usd", "p95_cost_usd", "cost_per_user_day_usd", "share_of_cost")


def breakdown_data(b: Breakdown) -> dict[str, Any]:
    return {"window": _window(b.window), "by": list(b.by), "prices_version": b.prices_version,
            "totals": b.totals, "groups": b.groups, "unpriced": b.unpriced, "notes": list(b.notes)}


def breakdown_blocks(b: Breakdown, limit: int | None = 50, tz: str = "UTC") -> list[Block]:
    t = b.totals
    blocks: list[Block] = [Heading(b.title)]
    if not t.get("requests"):
        return [*blocks, Note("No requests in the window.")]
    blocks.append(Figures([
        ("window", units.span(b.window.start, b.window.end, tz)
                   + (f" (prices {b.prices_version})" if b.prices_version else "")),
        ("requests", t["requests"]),
        ("total cost", f"{money(t['cost_usd'])} ({money(t['logged_cost_usd'])} logged, "
                       f"{money(t['computed_cost_usd'])} computed from tokens)"),
        ("unpriced", f"{t['unpriced_requests']:,} requests, {t['unpriced_input_tokens']:,} input and "
                     f"{t['unpriced_output_tokens']:,} output tokens (not in the total)"),
        ("mean / P95 cost per request", f"{money(t['mean_cost_usd'])} / {money(t['p95_cost_usd'])}"),
        ("cost per user per day", money(t["cost_per_user_day_usd"])),
        ("token efficiency (output/input)", units.number(t["token_efficiency"], 2)),
        ("response-cache hit rate", units.pct(t["cache_hit_rate"])),
        ("cached input tokens", units.pct(t["cached_input_share"])),
        ("saved by cached tokens / cache hits", f"{money(t['cache_read_saving_usd'])} / "
                                                f"{money(t['cache_hit_saving_usd'])}"),
    ]))
    unknown = (pl.col("unpriced_requests") > 0) & (pl.col("cost_usd").fill_null(0) == 0)
    frame = b.groups.with_columns(
        pl.when(unknown).then(pl.lit("unpriced"))
        .when(pl.col("unpriced_requests") > 0).then(pl.col("cost_source") + pl.lit(" + unpriced"))
        .otherwise(pl.col("cost_source")).alias("source"),
        *(pl.when(unknown).then(None).otherwise(pl.col(c)).alias(c) for c in _NOT_ZERO),
    )
    shown = frame if limit is None else frame.head(limit)
    blocks.append(FrameBlock(shown.select([*b.by, *BREAKDOWN_COST_TABLE]).rename(BREAKDOWN_COST_TABLE),
                             title="Cost", formats=BREAKDOWN_FORMATS))
    blocks.append(FrameBlock(shown.select([*b.by, *BREAKDOWN_TOKEN_TABLE]).rename(BREAKDOWN_TOKEN_TABLE),
                             title="Tokens and caching", formats=BREAKDOWN_FORMATS))
    if limit is not None and frame.height > limit:
        blocks.append(Note(f"{frame.height - limit:,} more group(s); --limit 0 shows all, "
                           "--format json or csv gives every row."))
    if (frame["unpriced_requests"] > 0).any():
        blocks.append(Note("A source '+ unpriced' marks groups with requests that have no price: their cost "
                           "is a lower bound. 'unpriced' groups have no known cost."))
    blocks.extend(_unpriced_blocks(b.unpriced))
    blocks.extend(Note(n) for n in b.notes)
    if b.by == ("day",) and frame.height > 1:
        blocks.append(Chart("Cost per day", list(frame["day"]), {"cost_usd": list(frame["cost_usd"])}, kind="bar"))
    return blocks


def breakdown_csv(b: Breakdown) -> Any:
    return b.groups


# --------------------------------------------------------------------------- reconcile

def reconcile_data(r: Reconciliation) -> dict[str, Any]:
    return {"window": _window(r.window), "tolerance": r.tolerance, "summary": r.summary,
            "by_model": r.by_model, "rows": r.rows}


def reconcile_blocks(r: Reconciliation) -> list[Block]:
    s = r.summary
    blocks: list[Block] = [Heading(r.title), Figures([
        ("requests with a logged cost", s["logged_requests"]),
        ("compared with priced tokens", s["compared"]),
        ("differ by more than the tolerance", f"{s['mismatched']:,}"
         + (f" ({units.pct(s['mismatched_share'])})" if s["mismatched_share"] is not None else "")),
        ("logged cost but no price to compare", s["logged_only"]),
        ("logged vs computed (compared rows)", f"{money(s['logged_cost_usd'])} vs {money(s['computed_cost_usd'])}"),
    ])]
    if not r.by_model.is_empty():
        blocks.append(_table(r.by_model, {"logged_cost_usd": USD, "computed_cost_usd": USD, "median_ratio": ".4f"},
                             title="By model"))
    if r.rows.is_empty():
        blocks.append(Note("Every compared request's logged cost is within the tolerance of its priced tokens."))
    else:
        blocks.append(_table(r.rows.select(["request_id", "ts", "model", "input_tokens", "cached_input_tokens",
                                            "cache_write_tokens", "output_tokens", "logged_cost_usd",
                                            "computed_cost_usd", "difference_ratio"]),
                             {"logged_cost_usd": USD, "computed_cost_usd": USD, "difference_ratio": "+.1%"},
                             title=f"Largest differences ({r.rows.height})"))
    return blocks


# --------------------------------------------------------------------------- forecast

def forecast_data(f: Forecast) -> dict[str, Any]:
    bt = f.backtest
    return {
        "scope": f.scope, "method": f.method, "scale": f.scale, "horizon_days": f.horizon_days,
        "history": f.history, "daily": f.daily, "horizon_total": f.horizon_total,
        "month_end": f.month_end, "budget": f.budget,
        "backtest": {"available": bt.available, "reason": bt.reason, "horizon_days": bt.horizon_days,
                     "origins": bt.origins, "mape": bt.mape, "naive_mape": bt.naive_mape,
                     "beats_naive": bt.beats_naive, "daily_mape": bt.daily_mape,
                     "naive_daily_mape": bt.naive_daily_mape, "coverage80": bt.coverage80,
                     "coverage95": bt.coverage95},
        "outlier_days": f.outlier_days, "unpriced_requests": f.unpriced_requests,
        "notes": list(f.notes), "by_model": f.by_model,
    }


def _range(d: dict, level: int) -> str:
    return f"{money(d[f'lo{level}_usd'])} – {money(d[f'hi{level}_usd'])}"


BY_MODEL_COLUMNS = ["model", "history_usd", "forecast_usd", "lo80_usd", "hi80_usd", "lo95_usd", "hi95_usd",
                    "month_end_projected_usd"]


def forecast_blocks(f: Forecast) -> list[Block]:
    h, m, bt = f.horizon_total, f.month_end, f.backtest
    items: list[tuple[str, Any]] = [
        ("history", f"{len(f.history)} complete days, {f.history[0]['day']} to {f.history[-1]['day']}"),
        ("method", f"{f.method} ({f.scale} scale)"),
        (f"next {f.horizon_days} days", f"{money(h['forecast_usd'])} (80%: {_range(h, 80)}; 95%: {_range(h, 95)})"),
        (f"month-end {m['month']}", f"{money(m['projected_total_usd'])} = {money(m['actual_to_date_usd'])} so far + "
                                   f"{m['forecast_days']} forecast days (80%: {_range(m, 80)})"),
    ]
    if f.budget:
        b = f.budget
        if b["already_crossed"]:
            when = f"already crossed on {b['crossing_date']}"
        elif b["crossing_date"]:
            when = f"crossed on {b['crossing_date']} (probability by month-end {units.pct(b['probability_by_month_end'], 0)})"
        else:
            when = f"not crossed this month (probability {units.pct(b['probability_by_month_end'], 0)})"
        items.append((f"monthly budget {money(b['monthly_budget_usd'])}", when))
    if bt.available:
        items.append((f"backtest MAPE, {bt.horizon_days}-day total",
                      f"{units.pct(bt.mape)} vs naive {units.pct(bt.naive_mape)} (mean of last 7 days x {bt.horizon_days}; "
                      f"{bt.origins} origins) — {'beats' if bt.beats_naive else 'does NOT beat'} naive"))
        items.append(("backtest interval coverage", f"80%: {units.pct(bt.coverage80, 0)}, 95%: {units.pct(bt.coverage95, 0)} of days"))
    else:
        items.append(("backtest", f"not run: {bt.reason}"))
    blocks: list[Block] = [Heading(f.title), Figures(items)]
    daily_cols = ["day", "forecast_usd", "lo80_usd", "hi80_usd", "lo95_usd", "hi95_usd"]
    blocks.append(_table([{k: r[k] for k in daily_cols} for r in f.daily], {k: USD for k in daily_cols[1:]},
                         title="Daily forecast"))
    if f.by_model:
        fitted = [{k: r[k] for k in BY_MODEL_COLUMNS} for r in f.by_model if r.get("forecast_usd") is not None]
        if fitted:
            blocks.append(_table(fitted, {k: USD for k in BY_MODEL_COLUMNS[1:]},
                                 title=f"By model, next {f.horizon_days} days (history: the same complete days)"))
        blocks.extend(Note(f"{r['model']}: no forecast ({r['reason']})") for r in f.by_model
                      if r.get("forecast_usd") is None)
    x = [r["day"] for r in f.history] + [r["day"] for r in f.daily]
    hist = [r["cost_usd"] for r in f.history] + [None] * len(f.daily)
    fut = [None] * len(f.history) + [r["forecast_usd"] for r in f.daily]
    blocks.append(Chart("Daily cost (USD)", x, {"actual": hist, "forecast": fut}))
    blocks.extend(Note(n) for n in f.notes)
    return blocks


# --------------------------------------------------------------------------- anomalies

HOURS_SHOWN = 15


def anomalies_data(a: Anomalies) -> dict[str, Any]:
    return {"window": _window(a.window), "settings": a.settings, "hours": a.hours, "jumps": a.jumps}


def anomalies_blocks(a: Anomalies) -> list[Block]:
    s = a.settings
    blocks: list[Block] = [Heading(a.title)]
    if a.hours.is_empty():
        blocks.append(Note(f"No hour cost more than {s.hour_factor:g}x its day's hourly average."))
    else:
        shown = a.hours.head(HOURS_SHOWN)
        blocks.append(_table(
            shown.select(["hour", "cost_usd", "requests", "day_hourly_avg_usd", "ratio_to_day_avg",
                          "typical_same_hour_usd", "ratio_to_typical_hour"]),
            title=f"Hours above {s.hour_factor:g}x the day's hourly average ({a.hours.height}), "
                  "most unusual for their hour of day first",
            formats={"cost_usd": USD, "day_hourly_avg_usd": USD, "typical_same_hour_usd": USD,
                     "ratio_to_day_avg": RATIO, "ratio_to_typical_hour": RATIO}))
        usual = a.hours.filter(pl.col("ratio_to_typical_hour").fill_null(0) < 2).height
        extra = f"{a.hours.height - shown.height:,} more in --format json or csv. " if a.hours.height > shown.height else ""
        blocks.append(Note(f"{extra}{usual:,} of the {a.hours.height:,} flagged hours cost less than twice the "
                           "median of their hour of day: the everyday peak, not a runaway."))
    for entity, frame in a.jumps.items():
        if frame.is_empty():
            blocks.append(Note(f"No {entity} whose daily cost jumped against its own baseline."))
            continue
        blocks.append(_table(
            frame.drop("spread_usd", "baseline_days"), title=f"Daily cost jumps by {entity} (robust z >= {s.z:g} against the median of the "
                         f"previous {s.baseline_days} days, at least {s.jump:g}x and +{units.money(s.min_usd)})",
            formats={"cost_usd": USD, "baseline_usd": USD, "spread_usd": USD, "robust_z": ".1f",
                     "ratio_to_baseline": ".1f"}))
    return blocks


# --------------------------------------------------------------------------- check

def check_data(c: BudgetCheck) -> dict[str, Any]:
    return {"window": _window(c.window), "passed": not c.breaches, "checks": c.checks,
            "breaches": list(c.breaches), "notes": list(c.notes)}


def check_blocks(c: BudgetCheck) -> list[Block]:
    blocks: list[Block] = [Heading("Budget check"), _table(c.checks, {"limit_usd": USD, "value_usd": USD})]
    blocks.extend(Note(n) for n in c.notes)
    blocks.append(Note("PASSED" if not c.breaches else f"FAILED: {len(c.breaches)} breach(es)",
                       style="bold green" if not c.breaches else "bold red"))
    return blocks


# --------------------------------------------------------------------------- routing

def routing_data(r: Routing) -> dict[str, Any]:
    return {"window": _window(r.window), "settings": r.settings, "summary": r.summary,
            "by_model": r.by_model, "model_rates": r.model_rates, "assumption": r.assumption}


def routing_blocks(r: Routing) -> list[Block]:
    s = r.summary
    blocks: list[Block] = [Heading(r.title)]
    if not r.expensive_models:
        blocks.append(Note("No routing opportunity: fewer than two priced models in use, or none costs "
                           f"{r.settings.expensive_ratio:g}x the cheapest per token."))
    else:
        blocks.append(Figures([
            ("cheapest model in use", f"{s['cheapest_model']} ({money(s['cheapest_usd_per_mtok'])} per million tokens)"),
            ("expensive models", ", ".join(s["expensive_models"])),
            ("simple requests to them", f"{s['simple_requests']:,} of {s['expensive_requests']:,}"
             + (f" ({units.pct(s['simple_share'])})" if s["simple_share"] is not None else "")),
            ("saving in the window", money(s["saving_usd"])),
            ("monthly saving (30 days)", money(s["monthly_saving_usd"])),
        ]))
        blocks.append(_table(r.by_model, title="By expensive model",
                             formats={"cost_usd": USD, "simple_cost_usd": USD, "simple_cost_on_cheapest_usd": USD,
                                          "saving_usd": USD, "monthly_saving_usd": USD, "simple_share": PCT}))
    if not r.model_rates.is_empty():
        blocks.append(_table(r.model_rates, title="Models in use by cost per million tokens",
                             formats={"cost_usd": USD, "usd_per_mtok": USD}))
    blocks.append(Note("Assumption: " + r.assumption))
    return blocks


register("PricesResult", Presentation("a price table", ("cost prices",), prices_data, prices_blocks,
                                      table=lambda result: result.prices))
register("Breakdown", Presentation("a cost breakdown", ("cost breakdown",), breakdown_data, breakdown_blocks,
                                   table=breakdown_csv))
register("Reconciliation", Presentation("a cost reconciliation", ("cost reconcile",), reconcile_data,
                                        reconcile_blocks, table=lambda result: result.rows))
register("Forecast", Presentation("a cost forecast", ("cost forecast",), forecast_data, forecast_blocks,
                                  table=lambda result: result.daily))
register("Anomalies", Presentation("a cost anomaly list", ("cost anomalies",), anomalies_data, anomalies_blocks,
                                   table=lambda result: result.hours))
register("BudgetCheck", Presentation("a budget check", ("cost check",), check_data, check_blocks,
                                     table=lambda result: result.checks))
register("Routing", Presentation("a routing analysis", ("cost routing",), routing_data, routing_blocks,
                                 table=lambda result: result.by_model))
