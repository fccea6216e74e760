"""aimon.toml: typed tables, one discovery order, `aimon config validate|show`."""

from __future__ import annotations

import json
import tomllib

import pytest

from aimon import config

TYPOS = """
[report]
error_rat = 0.1
min_votes = 2.5

[compliance]
retension_days = 30

[security.abuse]
requests_per_minut = 3

[validate.endpoints."/extract"]
min_wrds = 1

[models."acme"]
input_mtok = 1.0
output_mtok = 2.0
[[models."acme".periods]]
valid_from = 2025-06-01
inptu_mtok = 2
"""


@pytest.fixture(autouse=True)
def no_config(monkeypatch, tmp_path):
    """No aimon.toml of the developer's leaks in: an empty working directory, no env."""
    monkeypatch.delenv("AIMON_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_problem_names_its_key_path_and_the_nearest_key():
    found = config.problems(tomllib.loads(TYPOS))
    assert "report.error_rat: unknown key; did you mean 'error_rate'?" in found
    assert "report.min_votes: must be a whole number, not 2.5" in found
    assert "compliance.retension_days: unknown key; did you mean 'retention_days'?" in found
    assert "security.abuse.requests_per_minut: unknown key; did you mean 'requests_per_minute'?" in found
    assert "validate.endpoints.\"/extract\".min_wrds: unknown key; did you mean 'min_words'?" in found
    assert "models.acme.periods.0.inptu_mtok: unknown key; did you mean 'input_mtok'?" in found
    assert len(found) == 6


def test_an_unknown_table_lists_the_known_ones():
    assert config.problems({"reprot": {}}) == [
        "reprot: unknown key; did you mean 'report'?"]
    (only,) = config.problems({"zzz": 1})
    assert only.startswith("zzz: unknown key; known: report, compliance, cost")


@pytest.mark.parametrize(("text", "problem"), [
    ("[report]\nerror_rate = '0.05'", "report.error_rate: must be a number, not '0.05'"),
    ("[report]\nerror_rate = true", "report.error_rate: must be a number, not True"),
    ("[report]\nerror_rate = nan", "report.error_rate: Input should be a finite number"),
    ("[compliance]\nretention_days = 0", "compliance.retention_days: Input should be greater than 0"),
    ("[compliance]\nconsent_required = 'EU'", "compliance.consent_required: must be a list, not 'EU'"),
    ("[cost.routing]\ncode_pattern = '('", "cost.routing.code_pattern: not a regular expression"),
    ("[models.x]\ninput_mtok = -1", "models.x.input_mtok: Input should be greater than or equal to 0"),
    ("report = 3", "report: must be a table, not 3"),
])
def test_values_of_the_wrong_kind_are_refused_not_coerced(text, problem):
    (found,) = config.problems(tomllib.loads(text))
    assert found.startswith(problem)


def test_validate_exits_2_with_one_line_per_problem(cli, tmp_path):
    path = tmp_path / "ops.toml"
    path.write_text(TYPOS)
    result = cli("config", "validate", "--config", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith(f"{path}: ") for line in lines)
    assert result.stdout == ""


def test_validate_accepts_a_good_file_and_no_file(cli, tmp_path):
    (tmp_path / "aimon.toml").write_text("[report]\nerror_rate = 0.1\n[cost.routing]\nmax_words = 10\n")
    result = cli("config", "validate")
    assert result.exit_code == 0, result.output
    assert "aimon.toml: valid" in result.stderr
    (tmp_path / "aimon.toml").unlink()
    result = cli("config", "validate")
    assert result.exit_code == 0 and "every setting has its default" in result.stderr


def test_discovery_order_is_option_then_env_then_working_directory(cli, tmp_path, monkeypatch):
    (tmp_path / "aimon.toml").write_text("[report]\nerror_rate = 0.1\n")
    env = tmp_path / "env.toml"
    env.write_text("[report]\nerror_rate = 0.2\n")
    given = tmp_path / "given.toml"
    given.write_text("[report]\nerror_rate = 0.3\n")

    def effective(*args):
        result = cli("config", "show", "-f", "json", *args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        return data["source"], data["config"]["report"]["error_rate"]

    assert effective() == ("aimon.toml", 0.1)
    monkeypatch.setenv("AIMON_CONFIG", str(env))
    assert effective() == (str(env), 0.2)
    assert effective("--config", given) == (str(given), 0.3)
    monkeypatch.setenv("AIMON_CONFIG", str(tmp_path / "missing.toml"))
    result = cli("config", "show")
    assert result.exit_code == 2 and "$AIMON_CONFIG names" in result.stderr


def test_show_gives_every_default_and_the_toml_reads_back_as_the_json(cli, tmp_path):
    (tmp_path / "aimon.toml").write_text('[security]\nallowed_hosts = ["Acme.com."]\n'
                                         '[models."acme"]\ninput_mtok = 1\noutput_mtok = 2\n')
    data = json.loads(cli("config", "show", "-f", "json").stdout)["config"]
    assert data["report"]["min_votes"] == 20 and data["compliance"]["retention_days"] == 90
    assert data["security"]["allowed_hosts"] == ["acme.com"]
    assert data["validate"]["max_words"] == 1000
    assert data["cost"]["routing"]["max_words"] is None
    result = cli("config", "show")
    assert result.exit_code == 0 and result.stdout.startswith("# aimon configuration in effect: aimon.toml")
    back = tomllib.loads(result.stdout)

    def without_none(value):
        if isinstance(value, dict):
            return {k: without_none(v) for k, v in value.items() if v is not None}
        return value

    assert back == without_none(data)
    # What show prints is itself a valid aimon.toml.
    assert config.problems(back) == []


def test_show_refuses_an_invalid_file_in_one_line(cli, tmp_path):
    (tmp_path / "aimon.toml").write_text(TYPOS)
    result = cli("config", "show")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "(and 5 more: aimon config validate lists them)" in result.stderr


def test_report_refuses_a_misspelt_threshold_with_a_hint(cli, tmp_path):
    # Before: "unknown threshold 'error_rat'; known: ..." for the report only; min_votes = 2.5
    # was silently read as 2.
    (tmp_path / "aimon.toml").write_text("[report]\nmin_votes = 2.5\n")
    result = cli("report", "daily", "--db", tmp_path / "x.duckdb")
    assert result.exit_code == 2 and "report.min_votes: must be a whole number, not 2.5" in result.stderr


def test_compliance_refuses_an_unknown_key_and_reads_aimon_config(cli, tmp_path, monkeypatch):
    # Before: compliance read only its two keys and ignored the rest, so a misspelt
    # retention_days silently kept the 90-day default.
    path = tmp_path / "elsewhere.toml"
    path.write_text("[compliance]\nretension_days = 30\n")
    monkeypatch.setenv("AIMON_CONFIG", str(path))
    result = cli("audit", "compliance", "--db", tmp_path / "x.duckdb")
    assert result.exit_code == 2
    assert "compliance.retension_days: unknown key; did you mean 'retention_days'?" in result.stderr


@pytest.mark.parametrize(("ours", "theirs"), [
    ("SecurityConfig", "aimon.analysis.security.config"),
    ("AbuseLimits", "aimon.analysis.security.config"),
    ("ValidateConfig", "aimon.analysis.validate.config"),
    ("EndpointRules", "aimon.analysis.validate.config"),
    ("PiiConfig", "aimon.analysis.pii.config"),
])
def test_each_table_is_defined_once(ours, theirs):
    """The analyses read their tables through aimon.config: one model per table, so
    `aimon config validate` and the command that reads the table cannot disagree."""
    import importlib

    assert getattr(importlib.import_module(theirs), ours) is getattr(config, ours)


@pytest.mark.parametrize("name, model", [
    ("report", config.ReportConfig), ("compliance", config.ComplianceConfig),
    ("cost.routing", config.RoutingConfig), ("security", config.SecurityConfig),
    ("security.abuse", config.AbuseLimits), ("pii", config.PiiConfig), ("validate", config.ValidateConfig),
])
def test_a_table_left_out_reads_as_its_validated_defaults(name, model, tmp_path):
    """Without a file (or the table), section() skips validation: what it returns must be
    the validated defaults, field by field and dumped (checker versions hash the dump)."""
    validated = model.model_validate({})
    other = tmp_path / "aimon.toml"
    other.write_text('[models."acme"]\ninput_mtok = 1.0\n')
    for path in (None, other):
        got = config.section(path, name, model)
        assert got == validated
        assert got.model_dump_json() == validated.model_dump_json()
    assert config.load(None).model_dump() == config.AimonConfig.model_validate({}).model_dump()


def test_report_thresholds_are_the_report_table_whether_read_or_defaulted(tmp_path):
    """The report takes its thresholds as plain data (no pydantic without an aimon.toml);
    the [report] model is made from the same fields: one list of keys and defaults, and a
    file's table read through it arrives whole."""
    import dataclasses

    from aimon.analysis.report.findings import Thresholds

    fields = dataclasses.fields(config.ReportSettings)
    assert list(config.ReportConfig.model_fields) == [f.name for f in fields]
    assert config.ReportConfig.model_validate({}).model_dump() == dataclasses.asdict(config.ReportSettings())
    assert Thresholds.read(None) == Thresholds()
    path = tmp_path / "aimon.toml"
    path.write_text('[report]\nerror_rate = 0.1\nmin_votes = 5\npremium_models = ["big-*"]\n')
    assert Thresholds.read(path) == Thresholds(error_rate=0.1, min_votes=5, premium_models=("big-*",))
    path.write_text("[other]\nx = 1\n")
    assert Thresholds.read(path) == Thresholds()
