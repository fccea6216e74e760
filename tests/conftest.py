"""Shared fixtures: a real DuckDB per test, log files written in the test, no leaks.

Tests never see the developer's machine: AIMON_DB and the working directory point
into tmp_path, and the time zone is pinned.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aimon.cli import app
from aimon.store.connection import connect

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real-samples"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMON_DB", str(tmp_path / "aimon.duckdb"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("AIMON_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "aimon.duckdb"


@pytest.fixture
def con():
    """A migrated in-memory database."""
    connection = connect(":memory:", write=True)
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


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the aimon CLI in-process: cli("ingest", "x.jsonl") -> click Result."""
    runner = CliRunner()

    def run(*args: str, **kwargs: Any):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return run


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
    path = REAL_SAMPLES / name
    if not path.exists():
        pytest.skip(f"real samples not present: {path}")
    return path


os.environ.setdefault("TZ", "UTC")


SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="session", autouse=True)
def _model_cache(request: pytest.FixtureRequest, tmp_path_factory):
    """Converted embedding models live in pytest's cache, so a model is converted once
    per checkout (tests never touch the developer's own ~/.cache/aimon)."""
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("aimon-models") if cache is not None else tmp_path_factory.mktemp("aimon-models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIMON_CACHE_DIR", str(where))
        yield


@pytest.fixture(scope="session")
def sample_logs_db(tmp_path_factory) -> Path:
    """sample_logs/ ingested once per test session (as the quickstart does it)."""
    files = ["requests.jsonl.gz", "batch_output.jsonl", "otel_spans.jsonl"]
    if not all((SAMPLE_LOGS / f).exists() for f in files):
        pytest.skip("sample_logs not present")
    path = tmp_path_factory.mktemp("sample_logs") / "sample.duckdb"
    runner = CliRunner()
    for args in ([str(SAMPLE_LOGS / f) for f in files], ["--feedback", str(SAMPLE_LOGS / "feedback.jsonl")]):
        result = runner.invoke(app, ["ingest", *args, "--db", str(path)])
        assert result.exit_code == 0, result.output
    return path
