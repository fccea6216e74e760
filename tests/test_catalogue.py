"""The metric catalogue: one definition per metric, a label that says which, and the
commands that show a metric take it from there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aimon.analysis.metrics import catalogue
from aimon.analysis.metrics.catalogue import BETTER, CATALOGUE, UNITS, metric
from tests.reportdata import add_requests

PACKAGE = Path(__file__).resolve().parents[1] / "aimon"


def test_every_metric_has_a_unit_a_direction_a_label_and_a_meaning():
    for m in CATALOGUE:
        assert m.unit in UNITS, m.name
        assert m.better in BETTER, m.name
        assert m.label.strip() and m.meaning.strip(), m.name
        assert bool(m.column) == (m.q is not None), m.name


def test_one_name_and_one_label_per_meaning():
    names = [m.name for m in CATALOGUE]
    labels = [m.label.lower() for m in CATALOGUE]
    assert len(set(names)) == len(names)
    assert len(set(labels)) == len(labels), "two meanings under one label"
    # The latency of every request says so; the report's (successful requests) has its own.
    for q in (50, 95, 99):
        ok, every = metric(f"latency_p{q}_ms"), metric(f"latency_all_p{q}_ms")
        assert ok.filter and not every.filter
        assert "all requests" in every.label and "ok requests" in ok.label


def test_every_sql_definition_runs(con):
    add_requests(con, "2026-11-10T10:00:00Z", 5)
    for m in CATALOGUE:
        if m.aggregate:
            con.sql(f"SELECT {m.sql()} FROM {m.source} r").fetchall()
    con.sql(f"SELECT {catalogue.quantiles(('latency_p50_ms', 'latency_p95_ms'))} FROM requests r").fetchall()
    with pytest.raises(ValueError):
        catalogue.quantiles(("latency_p50_ms", "latency_all_p95_ms"))
    with pytest.raises(ValueError):
        metric("cost_usd").sql()


def test_ok_and_all_request_latency_differ_where_failures_are_fast(con):
    add_requests(con, "2026-11-10T10:00:00Z", 10, latency=1000.0)  # 60 successes at 1 s
    add_requests(con, "2026-11-10T10:00:00Z", 10, prefix="e", error_every=1, latency=20.0)  # 60 errors at 20 ms
    ok, every = con.execute(f"SELECT {metric('latency_p50_ms').sql()}, {metric('latency_all_p50_ms').sql()} "
                            "FROM requests r").fetchall()[0]
    assert ok == 1000.0
    assert every == pytest.approx(510.0)


def test_report_figures_are_the_catalogues():
    from aimon.analysis.report import daily, scans

    for name, m in daily.FIGURES.items():
        assert m is metric(name)
    assert catalogue.quantiles(("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")) in scans.PERIOD_FIGURES_SQL
    assert metric("latency_p95_ms").sql() in scans.BY_MODEL_ENDPOINT_SQL


def test_alert_metrics_are_catalogued():
    from aimon.analysis.alerts import evaluate
    from aimon.analysis.alerts.rules import CATALOGUED, QUANTILES, Metric

    assert set(CATALOGUED) == set(Metric)
    # A rule's latency is the report's (successful requests); its thumbs-down rate is
    # counted by feedback time, which the label says.
    assert QUANTILES[Metric.latency_p95_ms] is metric("latency_p95_ms")
    assert CATALOGUED[Metric.thumbs_down_rate] is metric("thumbs_down_vote_rate")
    assert CATALOGUED[Metric.error_rate].numerator() in evaluate.MINUTE_COUNTS_SQL


def test_incident_and_abtest_latency_is_over_every_request():
    from aimon.analysis.abtest import analyze
    from aimon.analysis.incident import detect, marked, postmortem

    p95 = metric("latency_all_p95_ms")
    assert p95.sql("x") in analyze.VARIANTS_SQL and p95.sql("x") in postmortem.IMPACT_SQL
    assert p95.sql(where="r.ts >= $start") in detect.WINDOW_STATS_SQL
    assert metric("latency_all_p99_ms").sql() in marked.PM_CTE


# A percentile or median of a latency column, written anywhere but the catalogue.
_HAND_WRITTEN = re.compile(r"(?:quantile_cont|quantile_disc|median)\(\s*(?:\w+\.)?(?:latency_ms|ttft_ms)\b")


def hand_written_latency(root: Path) -> list[str]:
    """Lines of analysis modules under ``root`` that define a latency percentile themselves."""
    out = []
    for path in sorted((root / "analysis").rglob("*.py")):
        if path.relative_to(root).as_posix() == "analysis/metrics/catalogue.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _HAND_WRITTEN.search(line):
                out.append(f"{path.relative_to(root.parent)}:{n}: {line.strip()}")
    return out


def test_no_analysis_module_writes_its_own_latency_percentile():
    """Latency percentiles come from the catalogue: one definition each, named by its label."""
    bad = hand_written_latency(PACKAGE)
    assert not bad, "\n".join(bad)


def test_feedback_rates_have_one_definition_for_the_report_and_the_feedback_table(con):
    import polars as pl

    from aimon.analysis.metrics.feedback import with_rates

    for name, (k, n) in catalogue.FEEDBACK_SHARES.items():
        assert metric(name).unit == "rate", name
        assert k in ("thumbs_up", "thumbs_down", "reports", "regenerated", "copied", "edited")
        assert n in ("votes", "requests")
    counts = pl.DataFrame({"requests": [10], "thumbs_up": [3], "thumbs_down": [1], "reports": [2],
                           "regenerated": [0], "copied": [5], "edited": [1], "with_feedback": [7],
                           "voted": [4]})
    row = with_rates(counts).row(0, named=True)
    assert row["satisfaction"] == 3 / 4 and row["thumbs_down_rate"] == 1 / 4 and row["copied_rate"] == 5 / 10
