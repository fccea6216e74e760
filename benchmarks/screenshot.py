"""The daily report of sample_logs as HTML, opened in headless Chromium: writes the
screenshot docs/daily-report.png (and checks the page drew its charts).

    python benchmarks/screenshot.py [--out docs/daily-report.png] [--date 2026-11-10]

Needs Chromium (Debian: apt-get install chromium). The browser runs with every network
request doomed to fail, so the picture also shows the page needs no network.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"


def aimon(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "aimon", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"aimon {' '.join(args)} failed: {result.stderr.strip()}")


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         *args], capture_output=True, text=True, timeout=120, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "daily-report.png")
    parser.add_argument("--date", default="2026-11-10")
    parser.add_argument("--size", default="1400,3700", help="window width,height in CSS pixels")
    args = parser.parse_args()
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        raise SystemExit("needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "sample.duckdb"
        aimon("ingest", str(SAMPLE / "requests.jsonl.gz"), str(SAMPLE / "batch_output.jsonl"),
              str(SAMPLE / "otel_spans.jsonl"), "--db", str(db))
        aimon("ingest", "--feedback", str(SAMPLE / "feedback.jsonl"), "--db", str(db))
        page = tmp / "daily.html"
        aimon("report", "daily", "--date", args.date, "--format", "html", "-o", str(page), "--db", str(db))
        dom = chromium(binary, tmp / "profile", "--dump-dom", page.as_uri()).stdout
        lines = len(re.findall(r'class="series-line"', dom))
        bars = len(re.findall(r'class="series-bar"', dom))
        if 'data-rendered="true"' not in dom or not lines or not bars:
            raise SystemExit("the page did not draw its charts")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = chromium(binary, tmp / "profile", f"--screenshot={args.out}", f"--window-size={args.size}",
                          page.as_uri())
        if not args.out.exists():
            raise SystemExit(f"no screenshot: {result.stderr[-500:]}")
    print(f"{args.out}: {args.out.stat().st_size:,} bytes; {lines} chart lines and {bars} bars drawn")


if __name__ == "__main__":
    main()
