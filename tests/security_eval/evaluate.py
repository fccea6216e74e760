"""Precision and recall of ``aimon audit security`` on the labelled evaluation set, per
category and per split, beside the seed article's SecurityMonitor (seven injection
patterns and four leakage phrases).

A record is predicted as the category of its findings (one verdict per text); a
response counts as ``exfiltration`` when it has an exfiltration_link or
invisible_text finding. The seed's patterns say only "suspicious or not", so for them
a record counts as found when flagged, and precision is over every flagged record.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from aimon.analysis.security import scan as S
from aimon.analysis.security.config import SecurityConfig
from tests.security_eval.generate import ALLOWED_HOSTS, EVAL_SET

INJECTION = ("instruction_override", "jailbreak", "fake_delimiter", "prompt_extraction", "encoded", "indirect")
CATEGORIES = (*INJECTION, "system_prompt_leak", "exfiltration")

# The seed article's SecurityMonitor (shared/SEED-ARTICLE.txt), verbatim.
SEED_INJECTION = [
    r"ignore\s+(previous|above|prior)\s+instructions",
    r"disregard\s+.+\s+instructions",
    r"system:\s+you\s+are",
    r"<\|im_start\|>",
    r"pretend\s+you\s+are",
    r"act\s+as\s+if",
    r"forget\s+(everything|all|previous)",
]
SEED_LEAKAGE = ["system prompt:", "my instructions are", "I was told to", "my system message"]
SEED_RE = [re.compile(p, re.IGNORECASE) for p in SEED_INJECTION]


@dataclass(frozen=True)
class Score:
    category: str
    labelled: int
    predicted: int
    tp: int

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.labelled if self.labelled else 1.0


def load(path: Path = EVAL_SET) -> list[dict]:
    """The records of a labelled set (JSON Lines), each in the layout of ``generate.py``.

    Sets written elsewhere (a blind set measured once) may leave out what has a default:
    ``split`` (the file's name), ``field`` ("prompt"), ``system_prompt``, ``language``
    and ``obfuscation`` (none); the label may be named ``category``; a benign text's label
    may be null, "", "benign" or "none".
    """
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return rows if path == EVAL_SET else [_record(r, path.stem, i) for i, r in enumerate(rows)]


def _record(row: dict, split: str, i: int) -> dict:
    label = row["label"] if "label" in row else row.get("category")
    if isinstance(label, str) and label.strip().lower() in ("", "benign", "none", "null"):
        label = None
    if label is not None and label not in CATEGORIES:
        raise ValueError(f"record {i}: unknown label {label!r}; use one of {', '.join(CATEGORIES)} or null")
    field = row.get("field") or ("response" if label in ("system_prompt_leak", "exfiltration") else "prompt")
    return {"id": str(row.get("id", f"{split}-{i:04d}")), "split": row.get("split") or split, "field": field,
            "text": row["text"], "system_prompt": row.get("system_prompt"), "label": label,
            "language": row.get("language"), "obfuscation": row.get("obfuscation")}


def config(semantic: bool = False) -> SecurityConfig:
    return SecurityConfig(allowed_hosts=tuple(ALLOWED_HOSTS), semantic=semantic)


def predict(records: list[dict], con: duckdb.DuckDBPyConnection | None = None,
            use_model: bool = True, semantic: bool = False) -> list[str | None]:
    """aimon's category for each record (None: nothing reported); ``use_model=False``:
    the rules alone; ``semantic``: with the fine-tuned classifier (``--semantic``)."""
    con = con or duckdb.connect()
    out: list[str | None] = [None] * len(records)
    prompts = [i for i, r in enumerate(records) if r["field"] == "prompt"]
    responses = [i for i, r in enumerate(records) if r["field"] == "response"]
    found = S.scan_texts(con, [records[i]["text"] for i in prompts], config(semantic), S.Field.prompt,
                         use_model=use_model)
    for i, fs in zip(prompts, found, strict=True):
        cats = {f.category for f in fs}
        out[i] = next(iter(cats)) if len(cats) == 1 else (sorted(cats)[0] if cats else None)
    found = S.scan_texts(con, [records[i]["text"] for i in responses], config(), S.Field.response,
                         [records[i]["system_prompt"] for i in responses])
    for i, fs in zip(responses, found, strict=True):
        cats = {f.category for f in fs}
        if "system_prompt_leak" in cats:
            out[i] = "system_prompt_leak"
        elif cats & {"exfiltration_link", "invisible_text"}:
            out[i] = "exfiltration"
    return out


def seed_predict(records: list[dict]) -> list[bool]:
    """Whether the seed's SecurityMonitor flags each record (injection for prompts,
    leakage for responses)."""
    out = []
    for r in records:
        if r["field"] == "prompt":
            out.append(any(p.search(r["text"]) for p in SEED_RE))
        else:
            low = r["text"].lower()
            out.append(any(i.lower() in low for i in SEED_LEAKAGE))
    return out


def scores(records: list[dict], predicted: list[str | None]) -> dict[str, Score]:
    out = {}
    for c in CATEGORIES:
        labelled = sum(r["label"] == c for r in records)
        pred = sum(p == c for p in predicted)
        tp = sum(r["label"] == c and p == c for r, p in zip(records, predicted, strict=True))
        out[c] = Score(c, labelled, pred, tp)
    return out


@dataclass(frozen=True)
class SeedScore(Score):
    """The seed says only "suspicious or not": precision is over everything it flags in
    the category's field that belongs to the category's family."""

    flagged_right: int = 0

    @property
    def precision(self) -> float:
        return self.flagged_right / self.predicted if self.predicted else 1.0


def seed_scores(records: list[dict], flagged: list[bool]) -> dict[str, SeedScore]:
    """Per category: how many of its records the seed flags (recall); precision of the
    seed's injection flags (for every injection category) and of its leakage flags."""
    pairs = list(zip(records, flagged, strict=True))
    prompts = sum(f for r, f in pairs if r["field"] == "prompt")
    prompts_right = sum(f for r, f in pairs if r["field"] == "prompt" and r["label"] in INJECTION)
    responses = sum(f for r, f in pairs if r["field"] == "response")
    leaks_right = sum(f for r, f in pairs if r["field"] == "response" and r["label"] == "system_prompt_leak")
    out = {}
    for c in CATEGORIES:
        labelled = sum(r["label"] == c for r in records)
        tp = sum(f for r, f in pairs if r["label"] == c)
        if c in INJECTION:
            out[c] = SeedScore(c, labelled, prompts, tp, prompts_right)
        elif c == "system_prompt_leak":
            out[c] = SeedScore(c, labelled, responses, tp, leaks_right)
        else:  # the seed has nothing for exfiltration
            out[c] = SeedScore(c, labelled, 0, 0, 0)
    return out


def mistakes(records: list[dict], predicted: list[str | None]) -> list[tuple[str, str | None, str | None, str]]:
    return [(r["id"], r["label"], p, r["text"][:140]) for r, p in zip(records, predicted, strict=True)
            if r["label"] != p]


def by_slice(records: list[dict], predicted: list[str | None], key: str) -> dict[str, tuple[int, int]]:
    """(found with the right category, labelled) of the positives, by language or obfuscation."""
    total, right = Counter(), Counter()
    for r, p in zip(records, predicted, strict=True):
        if r["label"] is None:
            continue
        k = r[key] or "none"
        total[k] += 1
        right[k] += p == r["label"]
    return {k: (right[k], total[k]) for k in sorted(total)}
