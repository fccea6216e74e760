"""What an experiment's variants are compared on: each metric's kind (proportion or
continuous), its better direction, its per-request value in SQL and its unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from aimon.errors import UsageError


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
    unit: str  # a unit of the metric catalogue (aimon.analysis.metrics.catalogue.UNITS)


SUCCESS_LOGGED_SQL = "x.success::DOUBLE"


SUCCESS_THUMBS_SQL = "CASE WHEN x.up OR x.down THEN (x.up AND NOT x.down)::DOUBLE END"


METRICS: dict[Metric, MetricSpec] = {
    Metric.success: MetricSpec("proportion", True, SUCCESS_LOGGED_SQL, "task success", "rate"),
    Metric.thumbs_up: MetricSpec("proportion", True, "x.up::DOUBLE", "requests with a thumbs-up", "rate"),
    Metric.thumbs_down: MetricSpec("proportion", False, "x.down::DOUBLE", "requests with a thumbs-down", "rate"),
    Metric.error_rate: MetricSpec("proportion", False, "(x.status = 'error')::DOUBLE", "requests that failed", "rate"),
    Metric.latency_ms: MetricSpec("continuous", False, "x.latency_ms", "total latency per request", "ms"),
    Metric.ttft_ms: MetricSpec("continuous", False, "x.ttft_ms", "time to first token", "ms"),
    Metric.cost_usd: MetricSpec("continuous", False, "x.cost_usd", "effective cost per priced request", "usd"),
    Metric.output_tokens: MetricSpec(
        "continuous", False, "CASE WHEN x.status = 'ok' THEN x.output_tokens::DOUBLE END",
        "output tokens per response", "tokens"),
    Metric.input_tokens: MetricSpec("continuous", False, "x.input_tokens::DOUBLE", "input tokens per request", "tokens"),
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
