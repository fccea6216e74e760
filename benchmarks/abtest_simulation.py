"""False-winner rates of `abtest analyze` on simulated A/A traffic (issue 17).

    python benchmarks/abtest_simulation.py [--runs 200]

For each traffic family (tests/abtest_sim.py) it runs ``runs`` seeded A/A experiments
through ``abtest.analyze`` on an in-memory database and prints, per analysis, the share
of experiments with a significant primary comparison and with a ``winner`` verdict,
with a 95% Wilson interval, and the seconds per analysis. The same seeds as
tests/test_abtest_simulation.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import abtest_sim  # noqa: E402
from planted_logs import insert  # noqa: E402

from aimon.analysis.abtest.analyze import analyze  # noqa: E402
from aimon.analysis.toolkit.intervals import wilson  # noqa: E402
from aimon.analysis.toolkit.window import resolve  # noqa: E402
from aimon.store.connection import connect  # noqa: E402

FAMILIES = {
    "clustered, 30-1,000 users/arm": (abtest_sim.Shape(), 1),
    "independent (per-request assignment)": (abtest_sim.Shape(per_request=True, icc_low=0.0, icc_high=0.0), 2),
    "heavy tails, 30 users/arm (sigma 1.5)": (abtest_sim.Shape(users_low=30, users_high=30,
                                                               requests_sigma=1.5), 3),
}
ANALYSES = {"default": {}, "--by-request": {"by_user": False}, "--by-user": {"by_user": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print("| traffic | analysis | significant | winner verdicts | s/analysis |\n|---|---|---|---|---|")
    for family, (shape, seed) in FAMILIES.items():
        con = connect(":memory:", write=True)
        insert(con, abtest_sim.experiments(args.runs, shape, seed=seed))
        window = resolve(con, None, None)
        for analysis, kw in ANALYSES.items():
            start = time.perf_counter()
            significant = winners = 0
            for i in range(args.runs):
                res = analyze(con, window, f"aa-{i}", n_resamples=200, **kw)
                significant += res.comparisons[0].significant
                winners += res.verdict.kind == "winner"
            per = (time.perf_counter() - start) / args.runs
            cells = []
            for k in (significant, winners):
                low, high = wilson(k, args.runs, 1.96)
                cells.append(f"{k / args.runs:.1%} ({low:.1%}-{high:.1%})")
            print(f"| {family} | {analysis} | {cells[0]} | {cells[1]} | {per:.2f} |", flush=True)
        con.close()


if __name__ == "__main__":
    main()
