"""aimon cost: prices, breakdowns, reconciliation, forecasts, anomalies, budget gates, routing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import (
    DEFAULT_DB,
    DbOption,
    FormatOption,
    OutputOption,
    SinceOption,
    TzOption,
    UntilOption,
    finite,
)
from aimon.cli.output import ShowPiiOption, show
from aimon.errors import GateFailed, UsageError

cost_app = typer.Typer(
    help="What the logs cost: prices in effect, breakdowns, logged-vs-computed reconciliation, "
         "forecasts with intervals, spend anomalies, budget gates and routing opportunities. "
         "Unpriced requests are always their own bucket, never $0.",
    no_args_is_help=True,
)
app.add_typer(cost_app, name="cost")

PricesOption = Annotated[
    Path | None,
    typer.Option("--prices", help="A TOML prices file ([models.\"name\"] with input_mtok, output_mtok, "
                                  "cache_read_mtok, cache_write_mtok and optional [[...periods]] with "
                                  "valid_from) that overrides genai-prices; the price snapshot in the "
                                  "database is refreshed with it first.", dir_okay=False),
]


@contextmanager
def _costs(db: Path, tz: str, prices: Path | None) -> Iterator:
    """A read-only connection; with --prices, after the price snapshot is refreshed with them."""
    from aimon.render import err_console
    from aimon.store.connection import opened
    from aimon.store.prices import load_user_prices, refresh_database

    if prices is not None:
        summary = refresh_database(db, load_user_prices(prices), tz)
        err_console.print(f"prices refreshed from {summary.source}: {summary.priced} of "
                          f"{summary.models} model(s) priced, {summary.repriced:,} request(s) repriced",
                          style="dim")
    with opened(db, write=False, tz=tz) as con:
        yield con


def _window(con, since: str | None, until: str | None, tz: str):
    from aimon.analysis.toolkit.window import resolve

    return resolve(con, since, until, tz=tz)


def _warn_stale(con) -> None:
    from aimon.analysis.cost.common import missing_from_snapshot
    from aimon.render import err_console

    stale = missing_from_snapshot(con)
    if not stale.is_empty():
        err_console.print(f"{stale.height} model(s) were loaded after the last price snapshot and count as "
                          "unpriced; refresh with: aimon cost prices --refresh", style="yellow")


@cost_app.command("prices")
def prices_cmd(
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-resolve every model in the database from "
                                          "the installed genai-prices data and aimon.toml first (after "
                                          "upgrading aimon or editing prices).")] = False,
    all_periods: Annotated[bool, typer.Option("--all", help="Every price period, not only those in force "
                                              "while each model was used.")] = False,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """The prices in effect for the models in the database, and every model with no price.

    Prices come from the genai-prices data installed with aimon (never fetched at run
    time), overridden by a prices file: [bold]--prices FILE[/] or the [models] table of
    aimon.toml, for example:

        [models."acme-large"]
        input_mtok = 3.0
        output_mtok = 15.0
        cache_read_mtok = 0.3
        [[models."acme-large".periods]]
        valid_from = 2025-06-01
        input_mtok = 2.0

    Example: [bold]aimon cost prices --prices prices.toml[/]
    """
    from aimon.analysis.cost.price_table import prices_in_effect
    from aimon.store.prices import load_user_prices, refresh_database

    if refresh and prices is None:
        refresh_database(db, load_user_prices(None), tz)
    with _costs(db, tz, prices) as con:
        result = prices_in_effect(con, _window(con, None, None, tz), all_periods=all_periods)
    show(result, fmt, output, show_pii=show_pii, tz=tz)


@cost_app.command("breakdown")
def breakdown_cmd(
    by: Annotated[str, typer.Option("--by", help="One or several of model, provider, endpoint, user, day, "
                                    "hour, prompt_version, variant, experiment, user_tier, comma-separated.")
                  ] = "model",
    limit: Annotated[int, typer.Option("--limit", help="Groups shown in table and Markdown output "
                                       "(0: all); JSON and CSV carry every group.")] = 50,
    approx_p95: Annotated[bool, typer.Option("--approx-p95", help="Approximate P95 cost per request "
                                             "(faster on very large windows).")] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Cost per group: requests, tokens, total, mean and P95 per request, cost per user per
    day, token efficiency, cache hit rate and savings, share of total, and whether the
    figures came from logged or computed cost. Unpriced requests are listed apart.

    Example: [bold]aimon cost breakdown --by model,day --since 7d --format markdown[/]
    """
    from aimon.analysis.cost.breakdown import breakdown
    from aimon.analysis.cost.common import parse_by

    groups = parse_by(by)
    with _costs(db, tz, prices) as con:
        _warn_stale(con)
        result = breakdown(con, _window(con, since, until, tz), groups, approx_p95=approx_p95)
    show(result, fmt, output, show_pii=show_pii, tz=tz, limit=limit or None)


@cost_app.command("reconcile")
def reconcile_cmd(
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, callback=finite, help="Relative difference that counts as a "
                                             "mismatch (0.01 = 1%).")] = 0.01,
    limit: Annotated[int, typer.Option("--limit", help="Mismatched requests to list.")] = 20,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Requests whose logged cost differs from their priced tokens by more than 1%.

    A model whose logged cost is consistently off (median ratio far from 1) usually
    means double-counted cached tokens, a missing batch discount, or a price change.

    Example: [bold]aimon cost reconcile --tolerance 0.05[/]
    """
    from aimon.analysis.cost.reconcile import reconcile

    if limit < 0:
        raise UsageError("--limit cannot be negative")
    with _costs(db, tz, prices) as con:
        result = reconcile(con, _window(con, since, until, tz), tolerance=tolerance, limit=limit)
    show(result, fmt, output, show_pii=show_pii, tz=tz)


@cost_app.command("forecast")
def forecast_cmd(
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead: days such as 30d, 4w or 30.")] = "30d",
    by: Annotated[str | None, typer.Option("--by", help="'model': also forecast each of the top models.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="A monthly budget in USD: the date the "
                                                 "month's spend would cross it.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Daily cost ahead with trend and weekly seasonality, 80% and 95% prediction
    intervals, the projected month-end total and the date a budget would be crossed.

    It backtests itself over the history (rolling origin) and prints its error (MAPE)
    beside the naive method (mean of the last 7 days x days ahead). Needs at least 14
    complete days of cost history.

    Example: [bold]aimon cost forecast --horizon 30d --budget 5000[/]
    """
    from aimon.analysis.forecast.spend import forecast
    from aimon.analysis.toolkit.window import parse_days

    days = parse_days(horizon, "--horizon")
    if by not in (None, "model"):
        raise UsageError("--by: only 'model' is supported for forecasts")
    _check_budget("--budget", budget)
    with _costs(db, tz, prices) as con:
        _warn_stale(con)
        result = forecast(con, _window(con, since, until, tz), horizon=days, monthly_budget=budget,
                          by_model=by == "model")
    show(result, fmt, output, show_pii=show_pii, tz=tz)


@cost_app.command("anomalies")
def anomalies_cmd(
    by: Annotated[str, typer.Option("--by", help="Whose daily cost to watch: user, endpoint, model "
                                    "(comma-separated).")] = "user,endpoint",
    hour_factor: Annotated[float, typer.Option("--hour-factor", min=1.0, callback=finite, help="Flag hours costing more than this "
                                               "times their day's hourly average.")] = 1.5,
    hour_min_usd: Annotated[float, typer.Option("--hour-min-usd", min=0.0, callback=finite, help="Ignore flagged hours cheaper than "
                                                "this.")] = 0.0,
    z: Annotated[float, typer.Option("--z", min=0.0, callback=finite, help="Robust z-score (against the median and MAD of the "
                                     "previous days) a daily jump must reach.")] = 3.5,
    jump: Annotated[float, typer.Option("--jump", min=1.0, callback=finite, help="...and at least this multiple of the baseline.")] = 2.0,
    min_usd: Annotated[float, typer.Option("--min-usd", min=0.0, callback=finite, help="...and at least this many USD above it.")] = 1.0,
    baseline_days: Annotated[int, typer.Option("--baseline-days", help="Days in the trailing baseline.")] = 7,
    limit: Annotated[int, typer.Option("--limit", help="Jumps listed per kind.")] = 50,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Spend anomalies: hours whose cost exceeds 150% of their day's hourly average, and
    users or endpoints whose daily cost jumped against their own robust baseline.

    Hours are listed most unusual for their hour of day first, so a runaway at night
    stands out from the everyday afternoon peak.

    Example: [bold]aimon cost anomalies --since 14d --by user[/]
    """
    from aimon.analysis.cost.anomalies import AnomalySettings, anomalies

    entities = [e.strip() for e in by.split(",") if e.strip()]
    settings = AnomalySettings(hour_factor=hour_factor, hour_min_usd=hour_min_usd, z=z, jump=jump,
                               min_usd=min_usd, baseline_days=baseline_days, limit=limit)
    with _costs(db, tz, prices) as con:
        result = anomalies(con, _window(con, since, until, tz), entities=entities, settings=settings)
    show(result, fmt, output, show_pii=show_pii, tz=tz)


def _check_budget(flag: str, value: float | None) -> None:
    # "nan" and "inf" parse as floats, and every comparison with NaN is false: a NaN
    # budget would pass every gate.
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{flag} must be a positive, finite amount of USD (got {value})")


@cost_app.command("check")
def check_cmd(
    daily_budget: Annotated[float | None, typer.Option("--daily-budget", help="USD per day (actual days in "
                                                       "the window, and forecast days to month-end).")] = None,
    monthly_budget: Annotated[float | None, typer.Option("--monthly-budget", help="USD per calendar month "
                                                         "(month to date, and the projected month-end).")] = None,
    fail_on_unpriced: Annotated[bool, typer.Option("--fail-on-unpriced", help="Fail when any request in the "
                                                   "window cannot be priced.")] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Budget gates for cron and CI: exit 1 when actual or forecast spend crosses a
    budget (or, with --fail-on-unpriced, when unpriced requests exist), one line per
    breach on stderr. The window defaults to the month of the newest request.

    Example: [bold]aimon cost check --daily-budget 50 --monthly-budget 1200 --fail-on-unpriced[/]
    """
    _check_budget("--daily-budget", daily_budget)
    _check_budget("--monthly-budget", monthly_budget)
    from aimon.analysis.cost.budget import check_budgets, month_to_date

    with _costs(db, tz, prices) as con:
        window = _window(con, since, until, tz)
        if since is None:
            window = month_to_date(con, window)
        result = check_budgets(con, window, daily_budget=daily_budget, monthly_budget=monthly_budget,
                               fail_on_unpriced=fail_on_unpriced)
    show(result, fmt, output, show_pii=show_pii, tz=tz)
    if result.breaches:
        from aimon.render.cost import gate_message

        raise GateFailed(gate_message(result))


@cost_app.command("routing")
def routing_cmd(
    max_words: Annotated[int | None, typer.Option("--max-words", help="A simple prompt has at most this "
                                                  "many words [default: 20].", show_default=False)] = None,
    reasoning_words: Annotated[str | None, typer.Option(
        "--reasoning-words", help="Comma-separated words or phrases that mark a prompt as needing reasoning "
                                  "[default: analyze, analyse, compare, explain why, why, step by step, reason, "
                                  "prove, evaluate].", show_default=False)] = None,
    code_pattern: Annotated[str | None, typer.Option(
        "--code-pattern", help="Regular expression that marks a prompt as containing code.",
        show_default=False)] = None,
    expensive_ratio: Annotated[float | None, typer.Option(
        "--expensive-ratio", min=1.0, callback=finite, help="A model is expensive when its cost per token is at least this multiple "
                                  "of the cheapest model in use [default: 3].", show_default=False)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    prices: PricesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Routing opportunity: the share of requests to the most expensive models that look
    simple (short, no code, no reasoning words), and the monthly saving if the cheapest
    model in use answered them, with the assumption stated.

    Defaults can also be set in aimon.toml under [cost.routing] (max_words,
    reasoning_words = [...], code_pattern, expensive_ratio).

    Example: [bold]aimon cost routing --max-words 30[/]
    """
    from aimon.analysis.cost.routing import routing, routing_settings
    from aimon.config import RoutingConfig, discover, section
    from aimon.render.progress import delayed_progress

    path = discover(None)
    # Typed first (unknown keys named with a hint); routing_settings then merges the options.
    # (iterating the fields, not model_dump: no serializer built for an absent table)
    table = {k: v for k, v in section(path, "cost.routing", RoutingConfig) if v is not None}
    overrides = {"max_words": max_words, "expensive_ratio": expensive_ratio, "code_pattern": code_pattern,
                 "reasoning_words": reasoning_words.split(",") if reasoning_words is not None else None}
    settings = routing_settings(table, {k: v for k, v in overrides.items() if v is not None},
                                source=f"{path} [cost.routing]")
    with _costs(db, tz, prices) as con, delayed_progress("classifying prompts"):
        result = routing(con, _window(con, since, until, tz), settings)
    show(result, fmt, output, show_pii=show_pii, tz=tz)
