"""Progress for long analyses: drawn on a terminal once the work has taken a moment,
never for quick work, never in pipes and CI."""

from __future__ import annotations

import io
import time

from rich.console import Console

from aimon.render import progress as progress_module
from aimon.render.progress import delayed_progress


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=80), out


def test_slow_work_shows_progress_on_a_terminal():
    console, out = terminal()
    with delayed_progress("replaying the rules", total=3, delay=0.05, console=console) as step:
        step("replaying latency_p95_high", 1)
        time.sleep(0.4)
    assert "replaying latency_p95_high" in out.getvalue()


def test_quick_work_shows_nothing():
    console, out = terminal()
    with delayed_progress("replaying the rules", total=3, delay=5, console=console) as step:
        step("replaying latency_p95_high", 1)
    time.sleep(0.1)
    assert out.getvalue() == ""


def test_nothing_in_a_pipe():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with delayed_progress("classifying prompts", delay=0.01, console=console):
        time.sleep(0.2)
    assert out.getvalue() == ""


def _terminal(monkeypatch, terminal: bool = True) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(progress_module, "err_console", Console(file=out, force_terminal=terminal, width=120,
                                                                color_system=None))
    return out


def test_texts_progress_shows_what_is_busy_then_the_texts_counted(monkeypatch):
    out = _terminal(monkeypatch)
    shown = progress_module.TextsProgress("reading prompts", busy="scanning")
    on_texts = shown.on_texts  # handed out before the work starts
    with shown:
        shown.progress.refresh()
        assert "scanning" in out.getvalue() and "texts" not in out.getvalue()
        on_texts(32, 100)
        shown.progress.refresh()
        assert "reading prompts" in out.getvalue() and "32/100 texts" in out.getvalue()
        on_texts(100, 100)
    assert "100/100 texts" in out.getvalue()


def test_texts_progress_without_a_busy_line_starts_with_the_first_count(monkeypatch):
    out = _terminal(monkeypatch)
    with progress_module.embed_progress("embedding answers") as on_texts:
        on_texts(1_000, 5_000)
    assert "embedding answers" in out.getvalue() and "1,000/5,000 texts" in out.getvalue()


def test_texts_progress_draws_nothing_in_a_pipe(monkeypatch):
    out = _terminal(monkeypatch, terminal=False)
    with progress_module.TextsProgress("reading prompts", busy="scanning") as shown:
        shown.on_texts(5, 10)
    assert out.getvalue() == ""
