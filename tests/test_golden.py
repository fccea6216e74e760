"""Golden files: every command in every format it accepts, on the one ingest of sample_logs.

Each case runs a command in-process through the CLI runner against the shared
database (``sample_logs_db`` in conftest.py) and compares what it printed, with its
exit code and stderr, to ``tests/golden/<case>.<ext>``. A format a command refuses is
recorded too (exit code and message), so that a change of that behaviour shows here.

Output is deterministic: the time zone is pinned, the terminal is 120 columns without
colour, and volatile values are normalised before comparing (temporary paths, the
ingest time, file sizes, durations, aimon's and the schema's versions, and the last
digits of floats, which a sum of doubles may change between thread schedules).

After an intended output change, rewrite the files and review the diff:

    python -m pytest tests/test_golden.py --update-goldens
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimon import __version__
from aimon.cli import app
from tests.conftest import GOLDEN_ENV, SampleDb

GOLDEN = Path(__file__).parent / "golden"
EXT = {"": "txt", "table": "txt", "markdown": "md", "json": "json", "csv": "csv", "html": "html", "toml": "toml"}
STANDARD = ("table", "markdown", "json", "csv")


@dataclass(frozen=True)
class Case:
    """One command line; it runs once per format in ``formats``."""

    name: str
    args: tuple[str, ...]
    formats: tuple[str, ...] = STANDARD
    writes: bool = False  # runs on a copy of the database
    database: bool = True  # False: a command that reads no database (no --db; --format only if formats)
    slow: bool = False  # needs the embedding model: CI runs it, the quick loop does not


CASES = (
    Case("db-info", ("db", "info")),
    Case("config-show", ("config", "show"), formats=("toml", "json"), database=False),
    Case("config-validate", ("config", "validate"), formats=("",), database=False),
    Case("sql", ("sql", "SELECT model, count(*) AS requests, sum(input_tokens) AS input_tokens "
                        "FROM requests GROUP BY ALL ORDER BY requests DESC, model")),
    Case("report-daily", ("report", "daily", "--date", "2026-11-10", "--tz", "UTC"),
         formats=(*STANDARD, "html")),
    Case("report-weekly", ("report", "weekly", "--tz", "UTC"), formats=(*STANDARD, "html")),
    Case("report-daily-berlin", ("report", "daily", "--date", "2026-11-12", "--tz", "Europe/Berlin"),
         formats=("table",)),
    Case("cost-prices", ("cost", "prices")),
    Case("cost-breakdown", ("cost", "breakdown", "--by", "model")),
    Case("cost-breakdown-endpoint-day", ("cost", "breakdown", "--by", "endpoint,day", "--since", "3d",
                                         "--limit", "10")),
    Case("cost-reconcile", ("cost", "reconcile", "--limit", "5")),
    Case("cost-forecast", ("cost", "forecast", "--horizon", "14d", "--budget", "500")),
    Case("cost-anomalies", ("cost", "anomalies", "--limit", "10")),
    Case("cost-check", ("cost", "check", "--daily-budget", "1000")),
    Case("cost-check-fails", ("cost", "check", "--daily-budget", "5", "--monthly-budget", "100",
                              "--fail-on-unpriced"), formats=("table", "json")),
    Case("cost-routing", ("cost", "routing")),
    Case("alerts-check", ("alerts", "check", "--no-state", "--at", "2026-11-10T14:30")),
    Case("alerts-check-fails", ("alerts", "check", "--no-state", "--at", "2026-11-10T14:30",
                                "--fail-on", "P1"), formats=("json",)),
    Case("alerts-check-state", ("alerts", "check", "--at", "2026-11-10T14:30", "--fail-on", "P1"),
         formats=("json",), writes=True),
    Case("alerts-scan", ("alerts", "scan", "--since", "2026-11-10T12:00", "--until", "2026-11-10T18:00")),
    Case("alerts-rules", ("alerts", "rules"), formats=(*STANDARD, "toml")),
    Case("incident-detect", ("incident", "detect", "--since", "2026-11-09", "--until", "2026-11-11")),
    Case("incident-postmortem", ("incident", "postmortem", "--start", "2026-11-10T14:00",
                                 "--end", "2026-11-10T15:00", "--history", "3d", "--samples", "3")),
    Case("incident-postmortem-berlin", ("incident", "postmortem", "--start", "2026-11-10T15:00",
                                        "--end", "2026-11-10T16:00", "--history", "1d", "--samples", "1",
                                        "--tz", "Europe/Berlin"), formats=("markdown",)),
    Case("abtest-list", ("abtest", "list")),
    Case("abtest-analyze", ("abtest", "analyze", "-e", "support-tone-2026-11", "-m",
                            "success,latency_ms,cost_usd", "--resamples", "200")),
    Case("abtest-analyze-by-user", ("abtest", "analyze", "-e", "support-tone-2026-11", "--by-user",
                                    "-m", "success,thumbs_down", "--resamples", "200"), formats=("json",)),
    # The audit stores what it scans: on the shared (read-only) file it would say so.
    Case("audit-pii", ("audit", "pii", "--since", "2026-11-12", "--samples", "3", "--top", "3"), writes=True),
    Case("audit-pii-gate", ("audit", "pii", "--since", "2026-11-12", "--samples", "0", "--fail-on",
                            "email"), formats=("json",), writes=True),
    Case("audit-compliance", ("audit", "compliance", "--as-of", "2026-12-01")),
    Case("redact", ("redact", "--out", "redacted", "--since", "2026-11-14")),
    # Two hours: the off-topic check embeds every response it checks.
    Case("validate", ("validate", "--since", "2026-11-14T21:00"), writes=True, slow=True),
    Case("audit-security", ("audit", "security", "--since", "2026-11-14"), writes=True),
    # drift and similarity need the embedding model: too slow for the golden pass (their own
    # tests run the real model); their help is under golden test.
    Case("drift-help", ("drift", "--help"), formats=("table",)),
    Case("similarity-help", ("similarity", "--help"), formats=("table",)),
    Case("similarity-consistency-help", ("similarity", "consistency", "--help"), formats=("table",)),
    Case("cost-cache-opportunity-help", ("cost", "cache-opportunity", "--help"), formats=("table",)),
    Case("forget-dry-run", ("forget", "--user", "usr_6d814dc2", "--dry-run")),
    Case("forget", ("forget", "--user", "usr_6d814dc2"), formats=("json",), writes=True),
    Case("purge-dry-run", ("purge", "--older-than", "30d", "--as-of", "2026-12-05", "--dry-run")),
    Case("purge", ("purge", "--older-than", "2026-11-03", "--tz", "UTC"), formats=("json",), writes=True),
)

# The commands taking -o write their file with the same blocks; stdout is the path
# every command shares, so the goldens read stdout.
PARAMS = [pytest.param(case, fmt, id=f"{case.name}-{fmt}", marks=[pytest.mark.slow] if case.slow else [])
          for case in CASES for fmt in case.formats]


# --------------------------------------------------------------------------- normalising

_FLOAT_RE = re.compile(r"(?<![\w.])(-?\d+\.\d{7,})(?:e(-?\d+))?(?![\w.])")
_ISO_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")  # summation order moves the last digits
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _volatile_key(k, _round(v)) for k, v in value.items()}
    return value


# Keys whose values change from run to run whatever the data.
VOLATILE_KEYS = {"size_bytes": 0, "bytes_before": 0, "bytes_after": 0, "seconds": 0.0,
                 "schema_version": 0}


def _volatile_key(key: str, value):
    if key in VOLATILE_KEYS and value is not None:
        return VOLATILE_KEYS[key]
    return value


class Normaliser:
    """Replaces what changes between runs (paths, ingest time, sizes, versions)."""

    def __init__(self, db: SampleDb, tmp: Path) -> None:
        prices = version("genai-prices")
        self.replacements = [(str(tmp), "<TMP>"), (str(db.folder / "sample_logs"), "<SAMPLE_LOGS>"),
                             (str(db.folder), "<DBDIR>"),
                             (f"aimon {__version__}", "aimon VERSION"),
                             (f"genai-prices {prices}", "genai-prices VERSION")]
        # The ingest and the commands stamp rows with the clock (ingested_at, the price
        # snapshot, alert state): any time from the session's start on is "now".
        self.since = (db.started - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")

    def text(self, fmt: str, text: str) -> str:
        for old, new in self.replacements:
            text = text.replace(old, new)
        # A replaced path leaves a padded title as long as the original: trailing blanks
        # would make a golden depend on the checkout's folder.
        text = re.sub(r"[ \t]+$", "", text, flags=re.M)
        text = _ISO_RE.sub(self._time, text)
        text = re.sub(r"\b\d[\d,.]* MB\b", "<SIZE> MB", text)
        text = re.sub(r"(?i)\b(\d+(?:\.\d+)?) ?s\b(?=[^\n]*(?:scan|took|elapsed|in ))", "<SECONDS>s", text)
        text = re.sub(r"(?<=\bin )\d+(?:\.\d+)? ?s\b", "<SECONDS>s", text)
        text = re.sub(r"(schema version\W*)\d+", r"\g<1><N>", text)
        if fmt == "json":
            try:
                return json.dumps(_round(json.loads(text)), indent=2, ensure_ascii=False) + "\n"
            except json.JSONDecodeError:
                return text
        if fmt == "html":
            pattern = re.compile(r'(<script id="aimon-data" type="application/json">)(.*?)(</script>)', re.S)
            match = pattern.search(text)
            if match:
                data = json.dumps(_round(json.loads(match.group(2).replace("<\\/", "</"))),
                                  ensure_ascii=False, indent=1).replace("</", "<\\/")
                text = text[:match.start(2)] + data + text[match.end(2):]
            return text
        if fmt == "markdown":
            # Mermaid chart data: sums in another order can flip a value's 6th digit.
            text = re.sub(r"^(\s*(?:line|bar) )\[(.*)\]$",
                          lambda m: m.group(1) + "[" + ", ".join(f"{float(v):.4g}" for v in m.group(2).split(","))
                          + "]", text, flags=re.M)
        if fmt == "csv":
            text = _FLOAT_RE.sub(lambda m: f"{float(m.group(0)):.6g}", text)
        return text

    def _time(self, m: re.Match) -> str:
        return "<NOW>" if f"{m.group(1)} {m.group(2)}" >= self.since else m.group(0)


def record(result, fmt: str, normaliser: Normaliser, args: list[str]) -> str:
    """The golden text of one run: the command, its exit code, its stderr, its output."""
    head = [normaliser.text("args", f"# aimon {' '.join(args)}"), f"# exit {result.exit_code}"]
    stderr = normaliser.text("stderr", result.stderr).rstrip("\n")
    head += [f"# stderr: {line}" for line in stderr.splitlines()]
    return "\n".join(head) + "\n" + normaliser.text(fmt, result.stdout)


def check(name: str, text: str, update: bool) -> None:
    golden = GOLDEN / name
    if update:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.exists(), f"no golden file {golden}; run pytest tests/test_golden.py --update-goldens"
    expected = golden.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; if intended, rerun with --update-goldens and review the diff"


# --------------------------------------------------------------------------- tests

@pytest.fixture
def update(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def quiet_terminal(monkeypatch):
    # err_console was made at import: drop a width it may have read from the developer's shell.
    from aimon.render import err_console

    monkeypatch.setattr(err_console, "_width", None)
    monkeypatch.setattr(err_console, "_height", None)


@pytest.mark.parametrize(("case", "fmt"), PARAMS)
def test_golden(case: Case, fmt: str, sample_logs_db: SampleDb, tmp_path: Path, update: bool,
                quiet_terminal) -> None:
    # The working directory is tmp_path (conftest): the database and any output get
    # short relative names, so that no column's width depends on where pytest runs.
    db = tmp_path / "sample.duckdb"
    if case.writes:
        shutil.copyfile(sample_logs_db.path, db)
    else:
        db.symlink_to(sample_logs_db.path)
    args = [*case.args, *(("--format", fmt) if fmt else ()), *(("--db", db.name) if case.database else ())]
    runs = [CliRunner().invoke(app, args, env=GOLDEN_ENV)]
    if case.name == "alerts-check-state":
        # The second check in the same incident reports it as ongoing and does not page again.
        runs.append(CliRunner().invoke(app, args, env=GOLDEN_ENV))
    normaliser = Normaliser(sample_logs_db, tmp_path)
    text = "".join(record(r, fmt, normaliser, args) for r in runs)
    for r in runs:
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    check(f"{case.name}.{EXT[fmt]}", text, update)


@pytest.mark.parametrize("name", ["ingest-requests.json", "ingest-feedback.txt", "ingest-again.md",
                                  "ingest-again.csv", "audit-pii-first-scan.json"])
def test_golden_of_the_ingest(name: str, sample_logs_db: SampleDb, tmp_path: Path, update: bool) -> None:
    """The runs that built the shared database (ingest, then the first PII scan)."""
    result = sample_logs_db.runs[name]
    fmt = {v: k for k, v in EXT.items()}[name.rsplit(".", 1)[1]]
    text = record(result, fmt, Normaliser(sample_logs_db, tmp_path), ["(see conftest.sample_logs_db)"])
    check(name, text, update)


def test_every_command_has_a_golden_case() -> None:
    """A new command gets golden files too: every leaf command appears in CASES."""
    import typer.main

    group = typer.main.get_command(app)
    ctx = typer.Context(group)

    def leaves(cmd, prefix=()):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                yield from leaves(cmd.get_command(ctx, name), (*prefix, name))
        else:
            yield " ".join(prefix)

    covered = {" ".join(a for a in case.args[:2] if not a.startswith("-")) for case in CASES}
    covered |= {" ".join(case.args[:1]) for case in CASES} | {"ingest"}
    missing = [name for name in leaves(group) if name not in covered]
    assert not missing, f"commands without golden files: {missing}"


# --------------------------------------------------------------------------- documented keys

# The command group -> the page that documents its JSON (README.md for the small ones).
DOC_PAGE = {"validate": "docs/validate.md", "drift": "docs/drift.md", "abtest": "docs/abtest.md", "alerts": "docs/alerts.md", "cost": "docs/cost.md",
            "incident": "docs/incident.md", "audit": "docs/pii.md",
            "audit-security": "docs/audit-security.md", "redact": "docs/pii.md",
            "forget": "docs/pii.md", "purge": "docs/pii.md", "report": "docs/report.md",
            "db": "README.md", "ingest": "README.md", "config": "docs/config.md"}
# Objects whose keys are data (shape names, reject reasons, figure names), not contract.
DATA_KEYED = {"by_shape", "reject_reasons", "figures"}
ROOT = Path(__file__).resolve().parents[1]


def _code_words(text: str) -> set[str]:
    """The words inside code spans and code blocks: where docs name JSON keys."""
    blocks = re.findall(r"```.*?```", text, re.S)
    spans = re.findall(r"`[^`]+`", re.sub(r"```.*?```", "", text, flags=re.S))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(blocks + spans)))


def _json_keys(value, parent: str | None = None):
    if isinstance(value, dict):
        for key, item in value.items():
            if parent not in DATA_KEYED:
                yield key
            yield from _json_keys(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _json_keys(item, parent)


def _json_goldens() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*.json") if not p.name.startswith("sql"))


@pytest.mark.parametrize("golden", _json_goldens(), ids=lambda p: p.stem)
def test_json_keys_are_documented(golden: Path) -> None:
    """Every key a command prints with --format json (every nesting level) is named in
    code in the command's page of docs/ or in README.md's JSON section."""
    page = _doc_page(golden.stem)
    words = _code_words((ROOT / page).read_text(encoding="utf-8"))
    words |= _code_words((ROOT / "README.md").read_text(encoding="utf-8"))
    text = golden.read_text(encoding="utf-8")
    runs = [part for part in re.split(r"^# aimon .*\n(?:# .*\n)*", text, flags=re.M) if part.strip()]
    assert runs, f"{golden.name} holds no JSON"
    missing = sorted({key for run in runs for key in _json_keys(json.loads(run)) if key not in words})
    assert not missing, f"{golden.name}: keys not documented in {page}: {missing}"


def _doc_page(stem: str) -> str:
    """The page for a golden: the longest command prefix DOC_PAGE names (audit-security
    before audit)."""
    prefixes = [key for key in DOC_PAGE if stem == key or stem.startswith(key + "-")]
    assert prefixes, f"no page in DOC_PAGE for {stem}"
    return DOC_PAGE[max(prefixes, key=len)]


def test_every_json_golden_has_a_page() -> None:
    for golden in _json_goldens():
        _doc_page(golden.stem)
