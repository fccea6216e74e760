"""The one catalogue of metrics: what each figure means in SQL, its unit, which way is
better, and the label that says so.

Every command that shows a metric (report, alerts, abtest, incident) takes its
definition from here, so one name means one thing everywhere. Where two commands need
different things, they are two entries with two labels: latency over successful
requests only (a rate-limited call that fails in 20 ms is not a fast answer: the
report and the alerts) is not latency over every request (what an incident or a
variant made users wait, failures included).

An entry's SQL reads rows aliased ``{r}`` of its ``source`` table (``requests``, or a
relation with its columns: ``costed_requests``, an experiment's or incident's ``x``). A proportion is a count of
the rows its ``filter`` selects over its ``of`` count; a percentile is
``quantile_cont`` of one column over the rows its ``filter`` selects. Figures computed
from other scans (cost from ``request_costs``, feedback from one row per request and
signal) carry their definition in ``meaning`` and no SQL of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The units a value can be shown in (aimon.render formats each once).
UNITS = ("count", "per_minute", "per_second", "rate", "ms", "tokens", "usd", "usd_per_hour", "ratio", "score")
# Which way a change is good news: "up", "down", or None (neither: volume).
BETTER = ("up", "down", None)

OK = "{r}.status = 'ok'"


@dataclass(frozen=True)
class Metric:
    """One catalogued metric (see the module docstring)."""

    name: str
    label: str
    unit: str
    better: str | None
    meaning: str
    aggregate: str = ""  # SQL over rows aliased {r}: the value, or a proportion's numerator
    filter: str = ""  # SQL: the rows the aggregate reads ("" = every row)
    of: str = ""  # a proportion's denominator (SQL over the same rows)
    column: str = ""  # a percentile's column
    q: float | None = None  # a percentile's level
    source: str = "requests"  # the table (or view) whose rows the SQL reads

    def numerator(self, r: str = "r", where: str = "") -> str:
        """The aggregate (a proportion's numerator) with its filter, over rows aliased ``r``
        (and, with ``where``, only those the caller selects: a window, a baseline)."""
        agg = self.aggregate.format(r=r)
        conditions = [c for c in (self.filter.format(r=r), where) if c]
        return f"{agg} FILTER (WHERE {' AND '.join(conditions)})" if conditions else agg

    def denominator(self, r: str = "r") -> str:
        """A proportion's denominator over rows aliased ``r``."""
        return self.of.format(r=r)

    def sql(self, r: str = "r", where: str = "") -> str:
        """The metric as one SQL expression over rows aliased ``r`` (``where``: see numerator)."""
        if not self.aggregate:
            raise ValueError(f"{self.name} is computed from other scans: {self.meaning}")
        if self.of:
            if where:
                raise ValueError(f"{self.name}: a proportion takes no extra condition")
            return f"{self.numerator(r)} / nullif({self.denominator(r)}, 0)"
        return self.numerator(r, where)

    def rows(self, r: str = "r") -> str:
        """A percentile's rows: its filter, and a value to rank (SQL over rows aliased ``r``)."""
        present = f"{r}.{self.column} IS NOT NULL"
        return f"{self.filter.format(r=r)} AND {present}" if self.filter else present

    def quantile_of(self, values: str) -> str:
        """This percentile of ``values`` (an SQL expression already limited to :meth:`rows`)."""
        return f"quantile_cont({values}, {self.q})"


def _percentile(name: str, label: str, column: str, q: float, filter: str, meaning: str) -> Metric:
    return Metric(name, label, "ms", "down", meaning, f"quantile_cont({{r}}.{column}, {q})", filter,
                  column=column, q=q)


def _ok_latency(name: str, label: str, column: str, q: float) -> Metric:
    return _percentile(name, label, column, q, OK, f"P{q * 100:g} of {column} over successful requests")


def _all_latency(name: str, label: str, q: float) -> Metric:
    return _percentile(name, label, "latency_ms", q, "", f"P{q * 100:g} of latency_ms over every request, "
                                                         "failures included")


# Output tokens streamed after the first token (reasoning happens before it).
VISIBLE_TOKENS = "({r}.output_tokens - coalesce({r}.reasoning_tokens, 0))"
# A request whose generation speed can be measured.
GENERATING = (f"{{r}}.status = 'ok' AND {VISIBLE_TOKENS} > 0 AND {{r}}.ttft_ms IS NOT NULL "
              "AND {r}.latency_ms > {r}.ttft_ms")

_FEEDBACK = ("signals once per request and kind (feedback table and inline column), the request "
             "in the window")

CATALOGUE: tuple[Metric, ...] = (
    # Traffic
    Metric("requests", "Requests", "count", None, "requests in the window", "count(*)"),
    Metric("responses", "Successful responses", "count", None, "requests with status ok", "count(*)", OK),
    Metric("active_users", "Active users", "count", "up", "distinct user_id", "count(DISTINCT {r}.user_id)"),
    Metric("requests_per_minute", "Requests per minute (mean)", "per_minute", None,
           "requests / minutes of the window"),
    Metric("peak_requests_per_minute", "Requests per minute (peak)", "per_minute", None,
           "requests in the busiest whole minute"),
    # Errors
    Metric("error_rate", "Error rate", "rate", "down", "requests with status error / requests",
           "count(*)", "{r}.status = 'error'", of="count(*)"),
    # Latency of successful requests: the report and the alerts.
    _ok_latency("latency_p50_ms", "Latency P50 (ok requests)", "latency_ms", 0.5),
    _ok_latency("latency_p95_ms", "Latency P95 (ok requests)", "latency_ms", 0.95),
    _ok_latency("latency_p99_ms", "Latency P99 (ok requests)", "latency_ms", 0.99),
    _ok_latency("ttft_p50_ms", "Time to first token P50 (ok requests)", "ttft_ms", 0.5),
    _ok_latency("ttft_p95_ms", "Time to first token P95 (ok requests)", "ttft_ms", 0.95),
    # Latency of every request, failures included: incidents and experiments.
    _all_latency("latency_all_p50_ms", "Latency P50 (all requests)", 0.5),
    _all_latency("latency_all_p95_ms", "Latency P95 (all requests)", 0.95),
    _all_latency("latency_all_p99_ms", "Latency P99 (all requests)", 0.99),
    Metric("latency_all_mean_ms", "Latency mean (all requests)", "ms", "down",
           "mean latency_ms over every request, failures included", "avg({r}.latency_ms)"),
    Metric("tokens_per_s", "Output tokens per second", "per_second", "up",
           "visible output tokens / generation seconds (latency - TTFT) of successful requests that log both",
           f"sum({VISIBLE_TOKENS}) FILTER (WHERE {GENERATING}) / "
           f"nullif(sum({{r}}.latency_ms - {{r}}.ttft_ms) FILTER (WHERE {GENERATING}), 0) * 1000.0"),
    Metric("cache_hit_rate", "Cache hit rate", "rate", "up", "cache hits / requests that log cache_hit",
           "count(*)", "{r}.cache_hit", of="count({r}.cache_hit)"),
    Metric("mean_output_tokens", "Mean response length (output tokens)", "tokens", None,
           "mean output_tokens of successful requests", "avg({r}.output_tokens)", OK),
    # Cost (from request_costs: logged, else priced; unpriced requests apart)
    Metric("cost_usd", "Cost (priced requests)", "usd", "down", "effective cost of the priced requests"),
    Metric("cost_per_hour_usd", "Burn rate (mean per hour)", "usd_per_hour", "down",
           "priced spend / hours of the window"),
    Metric("peak_hour_cost_usd", "Burn rate (peak hour)", "usd_per_hour", "down",
           "priced spend of the costliest whole hour"),
    Metric("cost_per_request_usd", "Cost per priced request", "usd", "down", "priced spend / priced requests"),
    Metric("unpriced_requests", "Requests without a price", "count", "down",
           "requests neither logged with a cost nor priced"),
    # Feedback, per rated request (aimon.analysis.metrics.feedback)
    Metric("satisfaction", "Satisfaction (thumbs up share)", "rate", "up", f"up / (up + down); {_FEEDBACK}"),
    Metric("thumbs_down_rate", "Thumbs-down rate", "rate", "down", f"down / (up + down); {_FEEDBACK}"),
    Metric("thumbs_ratio", "Thumbs up : down", "ratio", "up", f"up / down; {_FEEDBACK}"),
    Metric("nps", "NPS-style score", "score", "up", f"(up - down) / (up + down), -1 to 1; {_FEEDBACK}"),
    Metric("report_rate", "Report rate", "rate", "down", f"reported requests / requests; {_FEEDBACK}"),
    Metric("regenerated_rate", "Regenerated rate", "rate", "down", f"regenerated requests / requests; {_FEEDBACK}"),
    Metric("copied_rate", "Copied rate", "rate", "up", f"copied responses / requests; {_FEEDBACK}"),
    Metric("edited_rate", "Edited rate", "rate", "down", f"edited outputs / requests; {_FEEDBACK}"),
    # Feedback as the alerts read it: every thumb logged in the window, by when it was given.
    Metric("thumbs_down_vote_rate", "Thumbs-down rate (votes by feedback time)", "rate", "down",
           "thumbs_down rows / thumbs rows of the feedback table, by feedback ts",
           "count(*)", "{r}.feedback_type = 'thumbs_down'",
           of="count(*) FILTER (WHERE {r}.feedback_type IN ('thumbs_up', 'thumbs_down'))", source="feedback"),
)

METRICS: dict[str, Metric] = {m.name: m for m in CATALOGUE}

# The feedback rates as shares of the signal counts (aimon.analysis.metrics.feedback: one
# count per request and kind): name -> (numerator, denominator) count; "votes" is
# thumbs_up + thumbs_down. The report and the feedback table both compute them from here.
FEEDBACK_SHARES: dict[str, tuple[str, str]] = {
    "satisfaction": ("thumbs_up", "votes"),
    "thumbs_down_rate": ("thumbs_down", "votes"),
    "report_rate": ("reports", "requests"),
    "regenerated_rate": ("regenerated", "requests"),
    "copied_rate": ("copied", "requests"),
    "edited_rate": ("edited", "requests"),
}


def metric(name: str) -> Metric:
    """The catalogue's entry ``name`` (KeyError when there is none)."""
    return METRICS[name]


def quantiles(names: Sequence[str], r: str = "r") -> str:
    """Several percentiles of one column and filter as one list aggregate (one sort for
    all of them); ``[i]`` of the list is ``names[i]``."""
    entries = [METRICS[n] for n in names]
    first = entries[0]
    if any(e.q is None or e.column != first.column or e.filter != first.filter for e in entries):
        raise ValueError(f"not percentiles of one column and filter: {', '.join(names)}")
    agg = f"quantile_cont({r}.{first.column}, [{', '.join(str(e.q) for e in entries)}])"
    return f"{agg} FILTER (WHERE {first.filter.format(r=r)})" if first.filter else agg


def latency_quantile(q: str, r: str = "r") -> str:
    """Latency over every request at a level given at run time (``$slow_q``): the slow
    threshold an incident's requests are held to."""
    return f"quantile_cont({r}.latency_ms, {q})"
