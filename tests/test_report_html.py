"""The HTML report in a real browser: headless Chromium, with the network made unreachable,
draws every chart (checked in the DOM after the script ran, and in the screenshot's pixels).

Skips where Chromium is not installed (``apt-get install chromium``); the screenshot in
docs/ is made by ``benchmarks/screenshot.py`` from sample_logs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aimon.analysis.report.daily import build_report
from aimon.render.html import report_html
from aimon.render.report import report_data
from tests.pngread import count_colour, read_png
from tests.reportdata import add_requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (apt-get install chromium)")

BLUE, RED = (0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26)  # the requests bars, the error-rate line


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with every network request doomed to fail."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND", *args],
        capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def page(con, tmp_path) -> Path:
    from datetime import date

    add_requests(con, "2026-11-09 08:00:00+00", minutes=600, per_minute=2, prefix="y-", error_every=40)
    for hour in range(6, 22):
        add_requests(con, f"2026-11-10 {hour:02d}:00:00+00", minutes=60, per_minute=1 + hour % 5,
                     prefix=f"h{hour}-", error_every=8 if hour == 14 else 50, latency=600 + 40 * hour,
                     latency_step=30, cache_every=3)
    path = tmp_path / "daily.html"
    path.write_text(report_html(report_data(build_report(con, date(2026, 11, 10)))), encoding="utf-8")
    return path


def test_charts_are_drawn_without_network(page, tmp_path):
    result = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert 'data-rendered="true"' in dom, result.stderr[-2000:]
    bars = re.findall(r'<rect class="series-bar" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', dom)
    assert len(bars) >= 2 * 16  # requests and cost: one bar per busy hour
    assert all(float(h) > 0 for *_, h in bars)
    lines = re.findall(r'<path class="series-line" d="(M[^"]+)"', dom)
    assert len(lines) >= 6  # error rate, P50/P95/P99, tokens/s, cache hit rate
    assert all(d.count("L") >= 10 for d in lines)
    for chart in ("requests", "error_rate", "cost", "latency", "tokens_per_s", "cache_hit_rate"):
        assert f'data-chart="{chart}"' in dom
    assert dom.count('class="card"') == 11 + 9 + 3 + 4  # the figures of the four panels


def test_screenshot_shows_the_charts(page, tmp_path):
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1300", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    image = read_png(shot)
    assert image.shape[:2] == (1300, 1200)
    assert count_colour(image, BLUE) > 4000, "the requests bars are not drawn"
    assert count_colour(image, RED) > 300, "the error-rate line is not drawn"
