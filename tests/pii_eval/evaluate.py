"""Precision and recall of aimon's PII detectors on the labelled evaluation set.

A detection is a true positive when it has the planted entity's type and overlaps its
span (each planted entity counts once); every other validated detection is a false
positive, every planted entity left unmatched a false negative. ``exact`` is the share
of true positives whose span equals the planted one exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from aimon.analysis.pii.entities import ENTITY_TYPES
from aimon.analysis.pii.scan import scan_texts

EVAL_SET = Path(__file__).parent / "eval_set.jsonl"


@dataclass(frozen=True)
class Score:
    entity_type: str
    planted: int
    detected: int
    tp: int
    exact: int

    @property
    def precision(self) -> float:
        return self.tp / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.planted if self.planted else 1.0


def load(path: Path = EVAL_SET) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def evaluate(records: list[dict] | None = None, con: duckdb.DuckDBPyConnection | None = None) -> tuple[dict[str, Score], list[dict]]:
    """Scores per entity type, and the mistakes (for debugging, values included: this is
    generated data)."""
    records = records if records is not None else load()
    con = con or duckdb.connect()
    found = scan_texts(con, [r["text"] for r in records])
    planted: dict[str, int] = {}
    detected: dict[str, int] = {}
    tp: dict[str, int] = {}
    exact: dict[str, int] = {}
    mistakes: list[dict] = []
    for rec, findings in zip(records, found, strict=True):
        gold = [dict(e, matched=False) for e in rec["entities"]]
        for e in gold:
            planted[e["type"]] = planted.get(e["type"], 0) + 1
        for f in findings:
            detected[f.entity_type] = detected.get(f.entity_type, 0) + 1
            match = next((g for g in gold if not g["matched"] and g["type"] == f.entity_type
                          and f.start < g["end"] and g["start"] < f.end), None)
            if match is None:
                mistakes.append({"kind": "false_positive", "type": f.entity_type, "id": rec["id"],
                                 "value": rec["text"][f.start:f.end]})
                continue
            match["matched"] = True
            tp[f.entity_type] = tp.get(f.entity_type, 0) + 1
            if (f.start, f.end) == (match["start"], match["end"]):
                exact[f.entity_type] = exact.get(f.entity_type, 0) + 1
            else:
                mistakes.append({"kind": "inexact", "type": f.entity_type, "id": rec["id"],
                                 "value": rec["text"][f.start:f.end], "planted": match["value"]})
        for g in gold:
            if not g["matched"]:
                mistakes.append({"kind": "false_negative", "type": g["type"], "id": rec["id"], "value": g["value"]})
    types = sorted(set(planted) | set(detected))
    scores = {t: Score(t, planted.get(t, 0), detected.get(t, 0), tp.get(t, 0), exact.get(t, 0)) for t in types}
    return scores, mistakes


def table(scores: dict[str, Score]) -> str:
    """A Markdown table of the scores."""
    lines = ["| entity type | kind | planted | detected | precision | recall | exact span |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for s in scores.values():
        kind = "context" if ENTITY_TYPES[s.entity_type].context_required else "pattern"
        lines.append(f"| {s.entity_type} | {kind} | {s.planted} | {s.detected} | {s.precision:.3f} | "
                     f"{s.recall:.3f} | {s.exact / s.tp if s.tp else 0:.3f} |")
    total_tp = sum(s.tp for s in scores.values())
    total_det = sum(s.detected for s in scores.values())
    total_planted = sum(s.planted for s in scores.values())
    lines.append(f"| **all** | | {total_planted} | {total_det} | {total_tp / total_det if total_det else 1:.3f} | "
                 f"{total_tp / total_planted if total_planted else 1:.3f} | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    result, errors = evaluate()
    print(table(result))
    for m in errors[:60]:
        print(m)
