"""One reading of values and times in every command (issue 11): each unit defined once
(the metric catalogue names it, aimon/render/units.py shows it), money by one rule
whatever the command, and every time a command prints in the zone its --tz names."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aimon.analysis.abtest.metrics import Metric as AbtestMetric
from aimon.analysis.alerts.rules import Metric as AlertMetric
from aimon.analysis.metrics.catalogue import METRICS, UNITS
from aimon.render import format_value, units

RENDER = Path(__file__).parent.parent / "aimon" / "render"
BERLIN = ZoneInfo("Europe/Berlin")
METRIC_NAMES = set(METRICS) | {m.value for m in AbtestMetric} | {m.value for m in AlertMetric}
# A column spec of money with decimals of its own ("$,.4f"): money has one rule.
MONEY_SPEC = re.compile(r"\$,?(?:\.\d+)?[fg]")


# --------------------------------------------------------------------------- one definition

def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _own_unit_tables(path: Path) -> list[str]:
    """Module-level tables that say which unit a metric is shown in: a name about units,
    a literal mapping to the catalogue's unit names, or a set or list of metric names
    (a set of "proportions" is a unit table too; a dict keyed by metric names is a
    header map); and money specs with their own decimals."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not isinstance(node.value, ast.Dict | ast.Set | ast.Tuple | ast.List):
            continue
        strings = _strings(node.value)
        if any("UNIT" in n.upper() for n in names):
            found.append(f"{path.name}:{node.lineno} {names[0]} (a unit table)")
        elif len(set(strings) & set(UNITS)) >= 2:
            found.append(f"{path.name}:{node.lineno} {names[0]} maps values to unit names")
        elif not isinstance(node.value, ast.Dict) and len(set(strings) & METRIC_NAMES) >= 2:
            found.append(f"{path.name}:{node.lineno} {names[0]} lists metric names")
    found += [f"{path.name}: money spec {s!r}" for s in _strings(tree) if MONEY_SPEC.fullmatch(s)]
    return found


@pytest.mark.slow
def test_no_render_module_defines_its_own_unit_table():
    modules = [p for p in RENDER.glob("*.py") if p.name != "units.py"]
    assert len(modules) > 10
    found = [hit for path in modules for hit in _own_unit_tables(path)]
    assert not found, ("take a metric's unit from its definition (the metric catalogue, the rule or "
                       "experiment metric) and show it with aimon.render.units:\n" + "\n".join(found))


def test_no_cli_module_formats_values_its_own_way():
    # The CLI's own lines (a gate's message) read values through aimon.render.units too.
    from tests.test_presentation import _own_formatters

    modules = list((RENDER.parent / "cli").glob("*.py"))
    found = [hit for path in modules for hit in _own_formatters(path) + _own_unit_tables(path)]
    assert not found, "format through aimon.render.units instead:\n" + "\n".join(found)


def test_the_unit_table_guard_sees_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('UNITS = {"a": "ms"}\nKINDS = {"latency_p95_ms": "ms", "error_rate": "rate"}\n'
                      'PROPORTIONS = {"success", "error_rate"}\nUSD = "$,.4f"\nOK = {"x": 1}\n', encoding="utf-8")
    assert len(_own_unit_tables(sample)) == 4


def test_every_catalogue_unit_is_shown_by_units():
    # A unit the catalogue names and units.value does not know would read as a bare number.
    for unit in UNITS:
        assert units.value(unit, 12.345) != units.value("no such unit", 12.345), unit


# --------------------------------------------------------------------------- p-values

P_VALUES = [0.2, 0.0504, 0.049, 0.0012, 0.00017, 1.6e-05, 3e-13, None, float("nan")]


def test_a_p_value_reads_the_same_in_every_command():
    # A/B verdicts, drift tables and the daily report's quality-drift line once read
    # 0.00017 as "0.00017", "<0.001" and "0.000"; one rule now, from aimon.render.units.
    assert [units.p_value(p) for p in P_VALUES] == [
        "0.200", "0.050", "0.049", "0.001", "0.00017", "1.6e-05", "< 1e-12", "—", "—"]
    assert units.p_is(0.034) == "p = 0.034" and units.p_is(1e-20) == "p < 1e-12"


def test_no_render_module_formats_p_values_its_own_way():
    # A function of its own whose name says p-value, or a p-value key put through a format spec.
    own = re.compile(r"def _?p(_text|_is|val\w*)?\(|\[['\"]p_(value|adjusted)['\"]\]:\.\d")
    found = [f"{path.name}: {m.group(0)}" for path in RENDER.glob("*.py") if path.name != "units.py"
             for m in own.finditer(path.read_text(encoding="utf-8"))]
    assert not found, "show p-values with aimon.render.units.p_value / p_is:\n" + "\n".join(found)


# --------------------------------------------------------------------------- money

AMOUNTS = [0.0005877, 0.00008311, 0.075, 0.3496, 0.9269, 1.0, 16.7453, 1234.567, 0.0]


@pytest.mark.parametrize("amount", AMOUNTS)
def test_an_amount_reads_the_same_in_every_command(amount):
    from aimon.render import abtest, alerts, cost

    shown = units.money(amount)
    assert cost.money(amount) == shown  # cost tables' figures
    assert format_value(amount, cost.USD) == shown  # cost tables' columns
    assert abtest.value_text("cost_usd", amount) == shown  # experiments
    assert units.value("usd", amount) == shown  # report figures and incident impact
    assert alerts.metric_value("cost_per_hour_usd", amount) == shown + "/h"


def test_money_is_cents_from_a_dollar_and_three_significant_digits_below():
    assert [units.money(a) for a in AMOUNTS] == [
        "$0.000588", "$0.0000831", "$0.075", "$0.35", "$0.927", "$1.00", "$16.75", "$1,234.57", "$0.00"]


@pytest.mark.slow
def test_the_cost_breakdown_and_the_post_mortem_show_json_amounts_by_the_one_rule(cli, sample_logs_db):
    db = sample_logs_db.path
    args = ("cost", "breakdown", "--by", "model", "--db", db)
    data = json.loads(cli(*args, "--format", "json").stdout)
    table = cli(*args, "--format", "markdown").stdout
    for group in data["groups"]:
        if group["cost_usd"] is not None:
            assert f"| {units.money(group['cost_usd'])} |" in table, group["model"]
    args = ("incident", "postmortem", "--start", "2026-11-10T14:00", "--end", "2026-11-10T15:00", "--history",
            "1d", "--samples", "0", "--db", db)
    pm = json.loads(cli(*args, "--format", "json").stdout)
    impact = {r["metric"]: r for r in pm["impact"] if r["unit"] == "usd"}
    assert impact
    text = cli(*args, "--format", "markdown").stdout
    for row in impact.values():
        assert f"| {units.money(row['window'])} |" in text


# --------------------------------------------------------------------------- times

def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")


def test_incident_detect_prints_its_times_in_the_zone_tz_names(cli, sample_logs_db):
    args = ("incident", "detect", "--since", "2026-11-09", "--until", "2026-11-11", "--tz", "Europe/Berlin",
            "--db", sample_logs_db.path)
    data = json.loads(cli(*args, "--format", "json").stdout)
    first = data["incidents"][0]
    start, end = _local(first["start"]), _local(first["end"])
    assert start != first["start"][:16].replace("T", " ")  # Berlin is not UTC in November
    text = cli(*args, "--format", "markdown").stdout
    assert f"{start}–{end[11:]}" in text
    assert f"{_local(data['window']['start'])} to {_local(data['window']['end'])} Europe/Berlin" in text
    assert "UTC" not in text
    # The hint's times are read back in the same zone.
    assert f"--start {start.replace(' ', 'T')} --end {end.replace(' ', 'T')} --tz Europe/Berlin" in text
    row = next(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert (row["start"][:16].replace("T", " "), row["end"][:16].replace("T", " ")) == (start, end)
    assert row["start"].endswith("+01:00")  # an instant: the zone's offset with it


@pytest.mark.slow
def test_abtest_list_and_analyze_print_their_times_in_the_zone_tz_names(cli, sample_logs_db):
    db = sample_logs_db.path
    args = ("abtest", "list", "--tz", "Europe/Berlin", "--db", db)
    data = json.loads(cli(*args, "--format", "json").stdout)
    variant = data["experiments"][0]["variants"][0]
    text = cli(*args, "--format", "markdown").stdout
    assert "first (Europe/Berlin)" in text
    assert f"| {_local(variant['first'])} | {_local(variant['last'])} |" in text
    args = ("abtest", "analyze", "-e", "support-tone-2026-11", "-m", "success", "--resamples", "100",
            "--tz", "Europe/Berlin", "--db", db)
    data = json.loads(cli(*args, "--format", "json").stdout)
    text = cli(*args, "--format", "markdown").stdout
    assert f"{_local(data['window']['start'])} to {_local(data['window']['end'])} Europe/Berlin" in text


def test_the_post_mortem_title_is_in_the_zone_tz_names(cli, sample_logs_db):
    text = cli("incident", "postmortem", "--start", "2026-11-10T15:00", "--end", "2026-11-10T16:00",
               "--history", "1d", "--samples", "0", "--tz", "Europe/Berlin", "--db", sample_logs_db.path,
               "--format", "markdown").stdout
    assert text.splitlines()[0] == "# Post-mortem: P1 incident 2026-11-10 15:00–16:00 Europe/Berlin"


def test_a_window_refused_by_alerts_scan_reads_in_the_zone_it_was_typed_in(cli, sample_logs_db):
    res = cli("alerts", "scan", "--since", "2026-11-10T18:00", "--until", "2026-11-10T12:00", "--tz",
              "Europe/Berlin", "--db", sample_logs_db.path)
    assert res.exit_code == 2
    assert "--since 2026-11-10 18:00 is not before --until 2026-11-10 12:00 (Europe/Berlin)" in res.stderr


def test_the_price_snapshot_time_reads_in_the_zone_tz_names(cli, sample_logs_db):
    args = ("cost", "prices", "--tz", "Asia/Tokyo", "--db", sample_logs_db.path)
    taken = json.loads(cli(*args, "--format", "json").stdout)["snapshot"]["taken_at"]
    local = datetime.fromisoformat(taken).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    assert f"taken {local} Asia/Tokyo" in cli(*args, "--format", "markdown").stdout
