"""Shared fixtures: a real DuckDB per test, log files written in the test, no leaks.

Tests never see the developer's machine: AIMON_DB and the working directory point
into tmp_path, and the time zone is pinned.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from filelock import FileLock
from typer.testing import CliRunner

from aimon.cli import app
from aimon.store.connection import connect

# Real records captured by public projects (SOURCES.md says where each came from).
REAL_SAMPLES = Path(__file__).resolve().parent / "data" / "real-samples"
SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
SAMPLE_REQUEST_FILES = ("requests.jsonl.gz", "batch_output.jsonl", "otel_spans.jsonl")


def _registrations(typer_app: typer.Typer) -> tuple:
    """What ``typer_app`` has registered so far, its sub-apps' included: the click
    command built from it holds exactly these."""
    return (id(typer_app), id(typer_app.registered_callback), len(typer_app.registered_commands),
            tuple(_registrations(g.typer_instance) for g in typer_app.registered_groups))


_built_commands: dict[tuple, Any] = {}


def _command_built_once(typer_app: typer.Typer) -> Any:
    """The click command typer builds from an app, built once per set of registrations.

    typer's CliRunner converts the whole app for every invoke: with every command loaded
    (as in a test process, not in one ``aimon`` run, which loads only its own) that is
    about 40 ms of CPU a run. A click command is made to be invoked many times: each run
    gets its own context."""
    key = _registrations(typer_app)
    if key not in _built_commands:
        _built_commands[key] = typer.main.get_command(typer_app)
    return _built_commands[key]


typer.testing._get_command = _command_built_once  # the name typer's CliRunner.invoke calls


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite tests/golden/ from the current output instead of comparing.")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The quick loop (``-m "not slow"``) runs the first case of every parametrized test;
    the other cases are marked slow here, before ``-m`` deselects, so CI (and any run
    without ``-m``, such as ``pytest tests/test_golden.py``) still runs every case.

    A test's cases share its code path and differ in the input: one case per test keeps
    every behaviour in the loop at a fifth of the suite's time."""
    seen: set[tuple[str, str]] = set()
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is None:
            continue
        function = (item.nodeid.split("::", 1)[0], item.originalname)
        if function in seen:
            item.add_marker(pytest.mark.slow)
        seen.add(function)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMON_DB", str(tmp_path / "aimon.duckdb"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("AIMON_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "aimon.duckdb"


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "empty.duckdb"
    connect(path, write=True).close()
    return path


@pytest.fixture
def con(_migrated: Path, tmp_path: Path):
    """A migrated database of the test's own: a copy of an empty one migrated once per
    session (running every migration on a new database costs three times the copy)."""
    connection = connect(copy_db(_migrated, tmp_path / "con.duckdb"), write=True)
    yield connection
    connection.close()


def request(**overrides: Any) -> dict[str, Any]:
    """A flat app-log request record with sensible values; override any field."""
    rec = {
        "timestamp": "2026-11-01T10:00:00.000Z",
        "request_id": "req-1",
        "user_id": "u1",
        "session_id": "s1",
        "endpoint": "/chat",
        "model": "gpt-4o",
        "prompt": "What is the refund policy?",
        "response": "You can ask for a refund within 30 days.",
        "prompt_tokens": 120,
        "completion_tokens": 40,
        "cost_usd": 0.0007,
        "latency_ms": 850.0,
        "ttft_ms": 210.0,
        "status": "ok",
    }
    rec.update(overrides)
    return {k: v for k, v in rec.items() if v is not ...}


def injection_categories(text: str, use_model: bool = True) -> list[str]:
    """The categories ``aimon audit security`` finds in one prompt (``use_model=False``:
    the rules alone, so that a retrained model cannot hide a rule defect)."""
    from aimon.analysis.security import scan

    return sorted({f.category for f in scan.scan_texts(None, [text], use_model=use_model)[0]})


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records (dicts, or raw strings written as they are) as one line each."""

    def write(name: str, records: Iterable[Any], *, newline: str = "\n", bom: bool = False) -> Path:
        path = tmp_path / name
        lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
        data = (newline.join(lines) + newline).encode("utf-8")
        if bom:
            data = b"\xef\xbb\xbf" + data
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        return path

    return write


@pytest.fixture(scope="session")
def help_pages() -> dict[tuple[str, ...], Run]:
    """Every group's and command's --help at 200 columns, keyed by the command's words:
    rendered once for the tests that read them all (each page takes a typer render)."""
    import typer.main

    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    runner = CliRunner()

    def walk(cmd, prefix=()):
        yield prefix
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), (*prefix, name))

    pages = {}
    for words in walk(group):
        result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
        pages[words] = Run(result.exit_code, result.stdout, result.stderr)
    return pages


def ingested_template(factory: pytest.TempPathFactory, records: Iterable[Any]) -> Path:
    """A database of ``records`` ingested through the CLI, made once for a module
    (``scope="module"`` fixture) and copied by each test: copying a small file costs
    milliseconds, an ingest about half a second of CPU."""
    folder = factory.mktemp("template")
    logs, db = folder / "logs.jsonl", folder / "aimon.duckdb"
    logs.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(logs), "--db", str(db)], env={"AIMON_DEBUG": None})
    assert result.exit_code == 0, result.output
    return db


def copy_db(template: Path, path: Path) -> Path:
    """A test's own copy of a template database, mode included (aimon makes them 0600)."""
    shutil.copy(template, path)
    return path


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the aimon CLI in-process: cli("ingest", "x.jsonl") -> click Result."""
    runner = CliRunner()

    def run(*args: str, **kwargs: Any):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return run


@dataclass(frozen=True)
class Run:
    """What one CLI run printed: the part of click's Result the goldens read, in a form
    every xdist worker can load from the file the first one wrote."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class SampleDb:
    """The one ingest of sample_logs shared by the session: the database file, and the
    CLI runs that made it (their output is itself under golden test)."""

    path: Path
    folder: Path  # the working directory the ingest ran in
    runs: dict[str, Run]
    started: datetime  # when the ingest began (UTC): later times are the clock's


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every xdist worker of this session sees: each worker's own
    base folder sits in the controller's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def sample_logs_db(tmp_path_factory: pytest.TempPathFactory) -> SampleDb:
    """sample_logs ingested as the quickstart does it (requests, then feedback), and its
    PII findings cached for every text field, so later commands only read.

    The ingest takes most of a worker's set-up, so it runs once per session: the first
    xdist worker to ask builds it under a file lock and writes what the runs printed
    beside it; the others wait for the lock and load that. Treat the file as read-only: a
    test that writes copies it first. The ingest runs in a fixed working directory so
    that file names print the same wherever pytest runs.
    """
    missing = [f for f in (*SAMPLE_REQUEST_FILES, "feedback.jsonl") if not (SAMPLE_LOGS / f).exists()]
    if missing:
        pytest.skip(f"sample_logs not present: {', '.join(missing)}")
    root = _shared_root(tmp_path_factory)
    made = root / SAMPLE_DB_POINTER
    with FileLock(str(root / "sample-db.lock")):
        if not made.exists():
            built = _ingest_sample_logs()
            made.write_text(json.dumps({
                "path": str(built.path), "folder": str(built.folder), "started": built.started.isoformat(),
                "runs": {name: asdict(run) for name, run in built.runs.items()}}), encoding="utf-8")
    saved = json.loads(made.read_text(encoding="utf-8"))
    return SampleDb(Path(saved["path"]), Path(saved["folder"]),
                    {name: Run(**run) for name, run in saved["runs"].items()},
                    datetime.fromisoformat(saved["started"]))


# The file, in the session's shared temporary folder, naming the built sample database.
SAMPLE_DB_POINTER = "sample-db.json"


def _ingest_sample_logs() -> SampleDb:
    # A folder of one length wherever pytest and the checkout are, holding a copy of the
    # logs: ingest prints resolved paths, and a longer one would re-wrap the tables. It
    # outlives the worker that made it; pytest_sessionfinish removes it.
    folder = Path(tempfile.mkdtemp(prefix="aimon-golden-"))
    path = folder / "sample.duckdb"
    runner = CliRunner()
    (folder / "sample_logs").mkdir()
    for name in (*SAMPLE_REQUEST_FILES, "feedback.jsonl"):
        shutil.copyfile(SAMPLE_LOGS / name, folder / "sample_logs" / name)
    files = [f"sample_logs/{f}" for f in SAMPLE_REQUEST_FILES]
    feedback = "sample_logs/feedback.jsonl"
    plan = {
        "ingest-requests.json": ["ingest", *files, "-f", "json"],
        "ingest-feedback.txt": ["ingest", "--feedback", feedback, "-f", "table"],
        # Loading the same file again adds nothing: the other formats show duplicates.
        "ingest-again.md": ["ingest", "--feedback", feedback, "-f", "markdown"],
        "ingest-again.csv": ["ingest", "--feedback", feedback, "-f", "csv"],
        "audit-pii-first-scan.json": ["audit", "pii", "-f", "json"],
    }
    runs = {}
    started = datetime.now(UTC)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        for name, args in plan.items():
            result = runner.invoke(app, [*args, "--db", path.name], env=GOLDEN_ENV)
            assert result.exit_code == 0, result.output
            runs[name] = Run(result.exit_code, result.stdout, result.stderr)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        os.chdir(previous)
    # Shared by every test: a test that writes (caches, state) must work on a copy, and a
    # read-only file makes one that forgets fail at once instead of changing what later
    # tests and goldens see.
    path.chmod(0o444)
    return SampleDb(path, folder, runs, started)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the sample database's folder once, in the process that ends last (the
    controller under xdist, the only process without it)."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        made = factory.getbasetemp() / SAMPLE_DB_POINTER
        folder = json.loads(made.read_text(encoding="utf-8"))["folder"]
    except (OSError, ValueError, KeyError):
        return
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sample_db(sample_logs_db: SampleDb) -> Path:
    """The shared sample_logs database (read-only: copy it to write)."""
    return sample_logs_db.path


@pytest.fixture(scope="module")
def sample_db_copy(sample_logs_db: SampleDb, tmp_path_factory) -> Path:
    """A copy of the sample_logs database for one test module that writes to it (caches
    such as embeddings), so the shared file, and every golden made from it, stays the
    same whatever order the tests run in."""
    path = tmp_path_factory.mktemp("sample-copy") / "sample.duckdb"
    shutil.copyfile(sample_logs_db.path, path)
    return path


# Output that must not depend on the developer's terminal: rich reads COLUMNS when a
# console is made, and colour only when forced.
GOLDEN_ENV = {"COLUMNS": "120", "LINES": "50", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
              "NO_COLOR": "1", "TZ": "UTC", "AIMON_CONFIG": None, "AIMON_DEBUG": None}


def load(con, path, **kw):
    """Ingest one file and check that the summary accounts for every record."""
    from aimon.store.ingest import ingest

    summary = ingest(con, [path], **kw)
    assert summary.records == summary.loaded + summary.duplicates + summary.rejected
    return summary


def request_row(con, request_id: str) -> dict:
    """The one requests row with this id, as a dict."""
    cur = con.execute("SELECT * FROM requests WHERE request_id = ?", [request_id])
    names = [d[0] for d in cur.description]
    found = cur.fetchall()
    assert len(found) == 1, found
    return dict(zip(names, found[0], strict=True))


def rows(connection, sql: str, params: dict | None = None) -> list[tuple]:
    return connection.execute(sql, params or {}).fetchall()


def real_sample(name: str) -> Path:
    """A file of tests/data/real-samples; every clone has them, so a missing one fails."""
    path = REAL_SAMPLES / name
    assert path.is_file(), f"no real sample {path}"
    return path


def otlp_lines(tmp_path: Path, lines: int, spans_per_line: int = 1) -> Path:
    """``lines`` OTLP/JSON export lines (tests/data/real-samples' protobufjs ones), each
    span under a new id; ``spans_per_line`` spans gathered in each line, as an exporter
    that batches spans writes them."""
    docs = real_sample("otel_genai_otlp_protobufjs.jsonl").read_text().splitlines()
    out = []
    for i in range(lines):
        gathered = None
        for j in range(spans_per_line):
            n = i * spans_per_line + j
            doc = json.loads(docs[n % len(docs)])
            for scope in doc["scopeSpans"]:
                for span in scope["spans"]:
                    span["spanId"]["data"] = list((n + 1).to_bytes(8, "big"))
                    for attribute in span["attributes"]:
                        if attribute["key"] == "gen_ai.response.id":
                            attribute["value"]["stringValue"] += f"-{n}"
            if gathered is None:
                gathered = doc
            else:
                gathered["scopeSpans"][0]["spans"] += [sp for scope in doc["scopeSpans"] for sp in scope["spans"]]
        out.append(json.dumps(gathered))
    path = tmp_path / "otlp.jsonl"
    path.write_text("\n".join(out) + "\n")
    return path


os.environ.setdefault("TZ", "UTC")


@pytest.fixture(scope="session", autouse=True)
def _model_cache(request: pytest.FixtureRequest, tmp_path_factory):
    """Converted embedding models live in pytest's cache, so a model is converted once
    per checkout (tests never touch the developer's own ~/.cache/aimon)."""
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("aimon-models") if cache is not None else tmp_path_factory.mktemp("aimon-models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIMON_CACHE_DIR", str(where))
        yield
