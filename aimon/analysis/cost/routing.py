"""``aimon cost routing``: simple prompts sent to expensive models, and what routing
them to the cheapest model in use would save."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import polars as pl

from aimon.analysis.cost.common import _frame
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

# Defaults from the routing heuristic users start with: short prompts without code
# or reasoning words are "simple".
DEFAULT_MAX_WORDS = 20
DEFAULT_CODE_PATTERN = r"```|\bdef |\bclass |\bfunction\b|\bimport |\bdebug|\bcode\b|=>|\{\s*$|;\s*$"
DEFAULT_REASONING_WORDS = ("analyze", "analyse", "compare", "explain why", "why", "step by step",
                           "reason", "prove", "evaluate")
DEFAULT_EXPENSIVE_RATIO = 3.0


@dataclass(frozen=True)
class RoutingSettings:
    """What counts as a simple request, and which models count as expensive."""

    max_words: int = DEFAULT_MAX_WORDS
    code_pattern: str = DEFAULT_CODE_PATTERN
    reasoning_words: tuple[str, ...] = DEFAULT_REASONING_WORDS
    expensive_ratio: float = DEFAULT_EXPENSIVE_RATIO
    min_share: float = 0.01

    def short_test(self) -> tuple[str, dict]:
        """SQL true when ``prompt`` has at most ``max_words`` words, and its parameters.

        The words are what ``string_split_regex(trim(prompt), '\\s+')`` gives (trim() drops
        spaces only; whitespace runs + 1 pieces); as a full match the count gives up at
        the first run too many instead of splitting the whole prompt. RE2 counts to 1000.
        """
        if self.max_words <= 1001:
            return ("regexp_full_match(prompt, $words)",
                    {"words": r" *\S*(?:\s+\S*){0," + str(self.max_words - 1) + r"} *"})
        return "len(string_split_regex(trim(prompt), '\\s+')) <= $max_words", {"max_words": self.max_words}

    def reasoning_pattern(self) -> str:
        words = [re.escape(w.strip().lower()) for w in self.reasoning_words if w.strip()]
        return r"\b(" + "|".join(words) + r")\b" if words else r"(?!x)x"


def routing_settings(config: dict, overrides: dict, *, source: str = "aimon.toml [cost.routing]"
                     ) -> RoutingSettings:
    """Settings from a [cost.routing] table, then command-line overrides; UsageError on bad values."""
    allowed = {"max_words", "reasoning_words", "code_pattern", "expensive_ratio", "min_share"}
    if not isinstance(config, dict):
        raise UsageError(f"{source} must be a table")
    unknown = set(config) - allowed
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"expected {', '.join(sorted(allowed))}")
    merged = {**config, **overrides}
    values: dict = {}
    try:
        if "max_words" in merged:
            values["max_words"] = int(merged["max_words"])
            if values["max_words"] < 1:
                raise ValueError("max_words must be at least 1")
        if "reasoning_words" in merged:
            words = merged["reasoning_words"]
            if isinstance(words, str):
                words = words.split(",")
            values["reasoning_words"] = tuple(str(w).strip() for w in words if str(w).strip())
        if "code_pattern" in merged:
            values["code_pattern"] = str(merged["code_pattern"])
            re.compile(values["code_pattern"])
        if "expensive_ratio" in merged:
            values["expensive_ratio"] = float(merged["expensive_ratio"])
            if values["expensive_ratio"] < 1:
                raise ValueError("expensive_ratio must be at least 1")
        if "min_share" in merged:
            values["min_share"] = float(merged["min_share"])
    except (TypeError, ValueError, re.error) as exc:
        raise UsageError(f"routing settings ({source} or options): {exc}") from None
    return RoutingSettings(**values)


# Each model's list price per token on its own token mix: its tokens priced at the
# standard (not batch) rates in force, response-cache hits aside. Logged costs do not
# enter, so a model whose logs carry odd costs still ranks by its price.
MODEL_RATES_SQL = """
SELECT model, count(*) AS requests,
       sum(token_cost_usd) AS cost_usd,
       sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::BIGINT AS tokens,
       sum(token_cost_usd) / nullif(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0) * 1e6
           AS usd_per_mtok
FROM costed_requests
WHERE ts >= $start AND ts < $end AND model IS NOT NULL AND token_cost_usd IS NOT NULL
  AND NOT coalesce(cache_hit, false) AND NOT batch
GROUP BY ALL
HAVING sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) > 0
ORDER BY usd_per_mtok, model
"""

CHEAPEST_PRICE_SQL = """
SELECT input_mtok, output_mtok, coalesce(cache_read_mtok, input_mtok), coalesce(cache_write_mtok, input_mtok)
FROM prices
WHERE model = $model AND input_mtok IS NOT NULL AND output_mtok IS NOT NULL
  AND coalesce(valid_from <= $at, true) AND coalesce(valid_to > $at, true) AND min_input_tokens = 0
ORDER BY (provider IS NULL), day_from_s
LIMIT 1
"""

ROUTING_SQL = """
WITH classified AS (
    SELECT model, cost_usd, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
           prompt IS NOT NULL AS known,
           -- Each test only on the prompts still in the running, the cheapest first: the
           -- word count (a pattern that stops reading after max_words words), code, then
           -- reasoning words (case-insensitive: lower() would copy the prompt).
           CASE WHEN prompt IS NULL THEN false
                WHEN NOT {short} THEN false
                WHEN regexp_matches(prompt, $code, 'm') THEN false
                ELSE NOT regexp_matches(prompt, $reasoning, 'i') END AS simple
    FROM costed_requests
    -- (a list, not IN (subquery): a filter the scan applies, not a join after it)
    WHERE ts >= $start AND ts < $end AND list_contains($expensive::VARCHAR[], model)
      AND cost_usd IS NOT NULL AND NOT coalesce(cache_hit, false)
)
SELECT model,
       count(*) AS requests,
       count(*) FILTER (WHERE simple) AS simple_requests,
       count(*) FILTER (WHERE NOT known) AS no_prompt_requests,
       sum(cost_usd) AS cost_usd,
       coalesce(sum(cost_usd) FILTER (WHERE simple), 0) AS simple_cost_usd,
       coalesce(sum((greatest(coalesce(input_tokens, 0) - coalesce(cached_input_tokens, 0)
                              - coalesce(cache_write_tokens, 0), 0) * $in_p
                     + coalesce(cached_input_tokens, 0) * $read_p
                     + coalesce(cache_write_tokens, 0) * $write_p
                     + coalesce(output_tokens, 0) * $out_p) / 1e6) FILTER (WHERE simple), 0)
           AS simple_cost_on_cheapest_usd
FROM classified
GROUP BY ALL
ORDER BY simple_cost_usd DESC
"""


ROUTING_SUMMARY_KEYS = ("cheapest_model", "cheapest_usd_per_mtok", "expensive_models", "expensive_requests",
                        "simple_requests", "simple_share", "no_prompt_requests", "window_days", "saving_usd",
                        "monthly_saving_usd", "cheapest_prices_mtok")


@dataclass(frozen=True)
class Routing:
    """Simple requests sent to expensive models, and what the cheapest model would save."""

    title: str
    window: Window
    settings: RoutingSettings
    model_rates: pl.DataFrame
    cheapest_model: str | None
    expensive_models: tuple[str, ...]
    by_model: pl.DataFrame
    summary: dict
    assumption: str


def routing(con: duckdb.DuckDBPyConnection, window: Window,
            settings: RoutingSettings = RoutingSettings()) -> Routing:
    """Share of expensive-model requests that look simple, and the monthly saving if the
    cheapest model in use answered them."""
    try:
        re.compile(settings.code_pattern)
    except re.error as exc:
        raise UsageError(f"--code-pattern is not a valid regular expression: {exc}") from None
    params = window.params()
    rates = _frame(con, MODEL_RATES_SQL, params)
    total_requests = int(rates["requests"].sum()) if not rates.is_empty() else 0
    in_use = rates.filter((pl.col("requests") >= settings.min_share * max(total_requests, 1))
                          & pl.col("usd_per_mtok").is_not_null() & (pl.col("tokens") > 0))
    days = max(window.duration / timedelta(days=1), 1e-9)
    assumption = (
        "Assumes every simple request would be answered as well by the cheapest model in use, "
        "with the same input and output token counts, at that model's list price in force at "
        "the end of the window; the monthly figure scales the window's saving to 30 days. "
        "Simple = prompt of at most {w} words, no code, none of the reasoning words ({r}). "
        "Expensive = list price per token (on its own token mix) at least {x:g}x the cheapest "
        "model's. Quality is not assessed."
    ).format(w=settings.max_words, r=", ".join(settings.reasoning_words), x=settings.expensive_ratio)
    # The same summary keys whether or not there is an opportunity (stable JSON).
    blank = dict.fromkeys(ROUTING_SUMMARY_KEYS)
    empty = Routing("Routing opportunity", window, settings, rates, None, (), pl.DataFrame(), blank, assumption)
    if in_use.height < 2:
        return empty
    cheapest = in_use.row(0, named=True)
    floor = cheapest["usd_per_mtok"]
    expensive = [m for m, r in zip(in_use["model"], in_use["usd_per_mtok"], strict=True)
                 if r >= settings.expensive_ratio * floor and m != cheapest["model"]]
    price = con.execute(CHEAPEST_PRICE_SQL, {"model": cheapest["model"],
                                              "at": window.end - timedelta(microseconds=1)}).fetchall()
    price = price[0] if price else None
    if not expensive or price is None:
        return Routing("Routing opportunity", window, settings, rates, cheapest["model"], tuple(expensive),
                       pl.DataFrame(), {**blank, "cheapest_model": cheapest["model"],
                                        "cheapest_usd_per_mtok": floor, "expensive_models": expensive,
                                        "window_days": days}, assumption)
    in_p, out_p, read_p, write_p = price
    short, short_params = settings.short_test()
    by_model = _frame(con, ROUTING_SQL.replace("{short}", short), {
        **params, **short_params, "expensive": expensive,
        "code": settings.code_pattern, "reasoning": settings.reasoning_pattern(),
        "in_p": in_p, "out_p": out_p, "read_p": read_p, "write_p": write_p})
    by_model = by_model.with_columns(
        (pl.col("simple_requests") / pl.col("requests")).alias("simple_share"),
        (pl.col("simple_cost_usd") - pl.col("simple_cost_on_cheapest_usd")).alias("saving_usd"),
    ).with_columns((pl.col("saving_usd") * 30 / days).alias("monthly_saving_usd"))
    req = int(by_model["requests"].sum())
    simple = int(by_model["simple_requests"].sum())
    saving = float(by_model["saving_usd"].sum())
    summary = {
        "cheapest_model": cheapest["model"],
        "cheapest_usd_per_mtok": floor,
        "expensive_models": expensive,
        "expensive_requests": req,
        "simple_requests": simple,
        "simple_share": simple / req if req else None,
        "no_prompt_requests": int(by_model["no_prompt_requests"].sum()),
        "window_days": days,
        "saving_usd": saving,
        "monthly_saving_usd": saving * 30 / days,
        "cheapest_prices_mtok": {"input": in_p, "output": out_p, "cache_read": read_p,
                                 "cache_write": write_p},
    }
    return Routing("Routing opportunity", window, settings, rates, cheapest["model"], tuple(expensive),
                   by_model, summary, assumption)
