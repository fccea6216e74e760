"""The learned half of injection detection: a linear model over word and character
n-grams, scored in DuckDB SQL (tokenise, join the weights, sum).

The rules (``rules``, ``clauses``) are precise on wordings they were written for and
miss new ones; the model reads every text the SQL pass lets through (a rule match, an
obfuscation or payload trigger, or a word of :data:`GATE_WORDS`) and reports what the
rules missed. ``benchmarks/security_model.py`` trains it (scikit-learn, seeded) on the
labelled sets and writes ``injection_model.json``: the feature spec, the vocabulary
with one weight per class, the biases and the decision thresholds. Nothing here needs
scikit-learn.

Features of a text, the same in training and here because both run :data:`FEATURES_SQL`:
the text lower-cased with its white space collapsed; its words (``w:``), pairs of
words (``b:``) and 4-character windows (``c:``), each counted once, weighted
1/sqrt(distinct features) (a binary, L2-normalised vector). Feature strings, not hashes,
are joined: DuckDB's ``hash`` is not promised stable across versions, and the
vocabulary *is* the spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

MODEL_FILE = Path(__file__).with_name("injection_model.json")
BENIGN = "benign"

# ``{source}`` yields (k, text). One row per (k, feature) with the text's feature count.
FEATURES_SQL = """
WITH src AS ({source}),
norm AS (
    SELECT k, ' ' || trim(regexp_replace(lower(text), '\\s+', ' ', 'g')) || ' ' AS s FROM src WHERE text IS NOT NULL
),
words AS (
    -- c: the characters, once: substring(s, i, 4) at every i walked the text from its
    -- start each time (a 1.2 MB prompt took 7 minutes; 0.3 s this way, same features).
    SELECT k, s, regexp_extract_all(s, '[\\pL\\pN\\pM'']+') AS w, string_split(s, '') AS c FROM norm
),
feats AS (
    SELECT k, unnest(list_concat(
        list_transform(w, lambda x: 'w:' || x),
        list_transform(range(1, len(w)), lambda i: 'b:' || w[i] || ' ' || w[i + 1]),
        list_transform(range(1, greatest(length(s) - 2, 1)), lambda i: 'c:' || c[i] || c[i + 1] || c[i + 2] || c[i + 3])
    )) AS f
    FROM words
)
SELECT DISTINCT k, f FROM feats
"""

TEXTS_SQL = "SELECT unnest($texts) AS text, generate_subscripts($texts, 1) - 1 AS k"

# Each class's score: bias + sum of the weights of the features present / sqrt(features).
SCORES_SQL = """
WITH f AS ({features}),
n AS (SELECT k, count(*) AS n FROM f GROUP BY k),
s AS (
    SELECT f.k, w.class, sum(w.weight) AS total
    FROM f JOIN _aimon_injection_weights w ON w.feature = f.f
    GROUP BY f.k, w.class
)
SELECT n.k, b.class, b.bias + coalesce(s.total, 0) / sqrt(n.n) AS score
FROM n CROSS JOIN _aimon_injection_bias b
LEFT JOIN s ON s.k = n.k AND s.class = b.class
"""


@dataclass(frozen=True)
class Model:
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: pa.Table          # feature, class (index into classes), weight
    threshold: float           # report when P(not benign) reaches it
    veto: float                # drop a rule verdict when P(benign) reaches it (1.0: never)
    meta: dict


def load(path: Path = MODEL_FILE) -> Model:
    data = json.loads(path.read_text(encoding="utf-8"))
    classes = tuple(data["classes"])
    feats, cls, ws = [], [], []
    for feature, row in data["weights"].items():
        for c, w in row:
            feats.append(feature)
            cls.append(c)
            ws.append(w)
    table = pa.table({"feature": pa.array(feats, pa.string()), "class": pa.array(cls, pa.int32()),
                      "weight": pa.array(ws, pa.float64())})
    return Model(classes, tuple(data["bias"]), table, float(data["threshold"]), float(data.get("veto", 1.0)),
                 data.get("meta", {}))


@cache
def digest() -> str:
    """Hash of the shipped model file: a retrained model rescans every text."""
    import hashlib

    return hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()[:12] if MODEL_FILE.exists() else "none"


@cache
def shipped() -> Model:
    """The model in the package."""
    return load()


def features(con: duckdb.DuckDBPyConnection, texts: list[str]) -> list[tuple[int, str]]:
    """(index, feature) pairs of ``texts`` (what training reads)."""
    if not texts:
        return []
    return con.execute(FEATURES_SQL.format(source=TEXTS_SQL), {"texts": texts}).fetchall()


def probabilities(con: duckdb.DuckDBPyConnection, texts: list[str], model: Model | None = None) -> list[list[float]]:
    """P(class) for each text, classes in ``model.classes`` order (softmax of the scores)."""
    import math

    model = model or shipped()
    out = [[1.0 if c == BENIGN else 0.0 for c in model.classes] for _ in texts]
    if not texts:
        return out
    con.register("_aimon_injection_weights", model.weights)
    con.register("_aimon_injection_bias", pa.table({"class": pa.array(range(len(model.classes)), pa.int32()),
                                                     "bias": pa.array(model.bias, pa.float64())}))
    try:
        sql = SCORES_SQL.format(features=FEATURES_SQL.format(source=TEXTS_SQL))
        scores: dict[int, list[float]] = {}
        for k, c, s in con.execute(sql, {"texts": texts}).fetchall():
            scores.setdefault(k, [0.0] * len(model.classes))[c] = s
    finally:
        con.unregister("_aimon_injection_weights")
        con.unregister("_aimon_injection_bias")
    for k, row in scores.items():
        top = max(row)
        e = [math.exp(v - top) for v in row]
        z = sum(e)
        out[k] = [v / z for v in e]
    return out


def verdicts(con: duckdb.DuckDBPyConnection, texts: list[str],
             model: Model | None = None) -> list[tuple[str | None, float, float]]:
    """(category or None, P(not benign), P(benign)) for each text."""
    model = model or shipped()
    return [verdict(p, model.classes, model.threshold) for p in probabilities(con, texts, model)]


def verdict(p, classes: tuple[str, ...], threshold: float) -> tuple[str | None, float, float]:
    """(category or None, P(not benign), P(benign)) from one text's P(class), classes in
    ``classes`` order: the likeliest attack category when P(not benign) reaches
    ``threshold`` (the 4-gram model's rule, and the semantic classifier's)."""
    b = classes.index(BENIGN)
    attack = 1.0 - float(p[b])
    best = max((i for i in range(len(p)) if i != b), key=lambda i: p[i])
    return (classes[best] if attack >= threshold else None, attack, float(p[b]))
