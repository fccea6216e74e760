"""Progress for long analyses: drawn on a terminal once the work has taken a moment,
never for quick work, never in pipes and CI."""

from __future__ import annotations

import io
import time

from rich.console import Console

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

