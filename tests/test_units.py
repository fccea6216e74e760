"""aimon.render.units: each unit's text, the one missing-value text, signs and zones."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from aimon.render import units
from aimon.render.units import MISSING


@pytest.mark.parametrize(("text", "expected"), [
    (units.count(1234.4), "1,234"),
    (units.count(7), "7"),
    (units.ms(15176.4), "15,176 ms"),
    (units.ms(12.2, signed=True), "+12 ms"),
    (units.tokens(1234), "1,234 tokens"),
    (units.number(126, 1), "126.0"),
    (units.pct(1 / 3), "33.3%"),
    (units.pct(0.6977, 2), "69.77%"),
    (units.pct(0.5, 0), "50%"),
    (units.pct(0.0004, None), "0.04%"),  # a small rate keeps a digit that is not zero
    (units.pct(0.25, None), "25.0%"),
    (units.pct(0.101, signed=True), "+10.1%"),
    (units.pp(0.0422, 2), "+4.22 pp"),
    (units.pp(0.05), "+5.0 pp"),
    (units.money(1234.567), "$1,234.57"),  # cents from a dollar up
    (units.money(1), "$1.00"),
    (units.money(0.4757), "$0.476"),  # three significant digits below
    (units.money(0.0005877), "$0.000588"),
    (units.money(0.075), "$0.075"),  # trailing zeros dropped...
    (units.money(0.5), "$0.50"),  # ...but never fewer than cents
    (units.money(0.00007792), "$0.0000779"),  # never an exponent
    (units.money(0.004), "$0.004"),  # a non-zero amount never reads as $0.00
    (units.money(0.9996), "$1.00"),
    (units.money(0), "$0.00"),
    (units.value("usd", 0.0006031), "$0.000603"),
    (units.spec(0.0006031, "usd"), "$0.000603"),  # a money column: the same rule
    (units.ratio(2.54), "x2.5"),
    (units.value("usd_per_hour", 1.5), "$1.50/h"),
    (units.value("per_minute", 12.25), "12.2/min"),
    (units.value("score", 0.5), "+0.50"),
    (units.value("ratio", 3), "3.0 : 1"),
    (units.value("rate", 0.0004), "0.04%"),
    (units.value(None, 1234.5678), "1,235"),
])
def test_each_unit_reads_as_people_write_it(text, expected):
    assert text == expected


UNIT_FUNCTIONS = [units.count, units.ms, units.tokens, units.number, units.pct, units.pp, units.money,
                  units.ratio, lambda x: units.value("ms", x), lambda x: units.value("usd_per_hour", x)]


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf, True, "12"])
@pytest.mark.parametrize("unit", UNIT_FUNCTIONS)
def test_a_missing_or_non_finite_value_reads_the_same_in_every_unit(unit, missing):
    # A rate of nothing (NaN) or an infinite ratio is not a number to print: one text for all.
    assert unit(missing) == MISSING


def test_a_command_may_name_why_a_value_is_missing():
    assert units.money(None, missing="unpriced") == "unpriced"
    assert units.pct(math.nan, missing="") == ""


@pytest.mark.parametrize(("text", "expected"), [
    (units.money(-1.5), "-$1.50"),  # the sign before the dollar
    (units.money(-0.00008123, signed=True), "-$0.0000812"),
    (units.money(0.00008123, signed=True), "+$0.0000812"),
    (units.money(-0.0, signed=True), "+$0.00"),  # no "-$0.00"
    (units.money(-0.0), "$0.00"),
    (units.ms(-12.4, signed=True), "-12 ms"),
    (units.ms(-0.3, signed=True), "+0 ms"),
    (units.count(-0.2), "0"),
    (units.count(-1234), "-1,234"),
    (units.pct(-0.05, signed=True), "-5.0%"),
    (units.pct(-0.00001), "0.0%"),
    (units.pp(-0.0422, 2), "-4.22 pp"),
    (units.pp(-0.00001, 2), "+0.00 pp"),
    (units.number(-1.25, 1, signed=True), "-1.2"),
    (units.ratio(-0.01), "x0.0"),
])
def test_negative_values_carry_one_sign_and_never_a_negative_zero(text, expected):
    assert text == expected


def test_a_column_spec_formats_numbers_money_and_times():
    assert units.spec(1234.5, ",.0f") == "1,234"
    assert units.spec(0.1234, ".1%") == "12.3%"
    assert units.spec(0.5, "usd") == "$0.50"
    with pytest.raises(ValueError, match="usd"):  # money has one rule: no column's own decimals
        units.spec(0.5, "$,.4f")
    assert units.spec(datetime(2026, 11, 10, 14, 5), "%Y-%m-%d %H:%M") == "2026-11-10 14:05"
    assert units.spec(math.nan, ".1%") == ""


def test_times_are_localised_in_the_zone_asked_for():
    t = datetime(2026, 11, 10, 14, 5, tzinfo=UTC)
    assert units.when(t, "Europe/Berlin") == "2026-11-10 15:05"
    assert units.when(t, None) == "2026-11-10 14:05"
    assert units.when(datetime(2026, 11, 10, 14, 5), "Europe/Berlin", "%H:%M") == "15:05"  # naive is UTC
    assert units.when(None, "UTC") == ""


def test_a_missing_cell_reads_the_same_in_table_and_markdown_and_is_empty_in_csv():
    from aimon.render import format_value, frame_csv, frame_markdown

    rows = [{"model": "m", "cost": None, "rate": math.nan}]
    assert format_value(None) == format_value(math.nan) == MISSING
    assert frame_markdown(rows).splitlines()[-1] == f"| m | {MISSING} | {MISSING} |"
    assert frame_csv(rows).splitlines()[-1] == "m,,"
