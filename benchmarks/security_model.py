"""Train the injection model (``aimon/analysis/security/injection_model.json``) and
estimate how it generalises, by leaving one labelled set out at a time.

    python benchmarks/security_model.py cv       # leave-one-set-out figures (rules, model, combined)
    python benchmarks/security_model.py train    # fit on every set, write the model file

Data: every prompt of the labelled sets (tests/security_eval/eval_set.jsonl's dev,
heldout, heldout2 and heldout3; tests/data/security/heldout4.jsonl to heldout8.jsonl,
train8a.jsonl to train8f.jsonl and train9a.jsonl to train9f.jsonl), less any text that
is also in the blind set, each read as the verdict reads it (the text, then its
normalised and decoded layers: ``scan.verdict_texts``), featurised by the same SQL the
package scores with (``model.FEATURES_SQL``). Classes: benign and the six injection
categories.

Model: multinomial logistic regression (scikit-learn, lbfgs, deterministic) over binary,
L2-normalised word, word-pair and 4-character features seen in at least two training
texts. What is chosen from data, always on training sets only (leave-one-set-out inside
them, the model alone): the report threshold on P(not benign) (the lowest at which the
out-of-fold reports are 95% right and no ordinary product text is reported) and the
veto (the lowest P(benign) above which 98% of out-of-fold texts are benign: a rule
verdict there is dropped).

Combined detector (``scan``): a rule verdict stands unless the model's P(benign) reaches
the veto; a text without a rule verdict is reported in the model's best category when
P(not benign) reaches the threshold and the SQL gate let it through (a rule match, a
trigger or a gate word: the model runs only there).

scikit-learn is needed here only (the ``test`` extra), never by the package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
from scipy import sparse  # noqa: E402

from aimon.analysis.security import model as M  # noqa: E402
from aimon.analysis.security import rules as R  # noqa: E402
from aimon.analysis.security import scan as S  # noqa: E402
from tests.security_eval import evaluate as E  # noqa: E402

SETS = (None, *(ROOT / f"tests/data/security/{name}.jsonl"
                 for name in ("heldout4", "heldout5", "heldout6", "heldout7", "heldout8",
                              "train8a", "train8b", "train8c", "train8d", "train8e", "train8f",
                              "train9a", "train9b", "train9c", "train9d", "train9e", "train9f")))
# (None: eval_set.jsonl, four splits; heldout4 to 8 were each measured once blind, then
# became development sets; train8a-f and train9a-f were written as training data only,
# train9e and train9f being ordinary product traffic, every text benign)
# The blind set of the next detector version: never trained on, measured once
# (HELDOUT9.md; heldout8 was version 7's).
BLIND = ROOT / "tests/data/security/heldout9.jsonl"
CLASSES = (M.BENIGN, *E.INJECTION)
# Inner leave-one-set-out chose 32 of (2, 8, 32) in every outer fold of a first run
# (F0.5 of the combined detector); fixed since, to keep a run within minutes. With the
# training sets train8a-f (twice the texts), 128 against 32 on the heldout5, 6 and 7
# folds: the same on heldout7, better recall on 5 and 6 (prompt extraction 0.97 against
# 0.88 on heldout6) with fewer benign texts reported (benchmarks/README.md, detector
# version 7).
C = 128.0
THRESHOLDS = (*(float(t) for t in np.round(np.arange(0.30, 0.96, 0.05), 2)), 0.97, 0.98, 0.99)
# Sets of ordinary product traffic, every text benign. Production is nearly all such
# traffic, so a threshold that reports even one of them out of fold would bury the
# audit's findings in false alarms at production's base rate: the threshold rises until
# none is reported (version 8: at 0.85, chosen by precision alone, the model reported 61
# of sample_logs' benign prompts).
ORDINARY = ("train9e", "train9f")
VETOES = (0.8, 0.85, 0.9, 0.95, 0.98, 1.0)
PRECISION = 0.95
VETO_PURITY = 0.98
MIN_DF = 2
SEED = 13


def folded(text: str) -> str:
    return " ".join(text.lower().split())


def load_prompts() -> list[dict]:
    """Every prompt of SETS, less those whose text (case and white space folded) is also
    in the blind set BLIND: short attacks ("Ignore all previous instructions.") are
    written alike by different writers, and one seen in training would be found in the
    blind set by memory, not by generalising. Only the texts are compared; the blind set's
    labels and the detector's verdicts on it are never read here."""
    records = []
    for path in SETS:
        records += E.load(path) if path else E.load()
    blind = {folded(r["text"]) for r in E.load(BLIND)} if BLIND.exists() else set()
    kept = [r for r in records if r["field"] == "prompt" and folded(r["text"]) not in blind]
    print(f"{sum(r['field'] == 'prompt' for r in records) - len(kept)} training prompts left out: their text is "
          f"in the blind set {BLIND.name}")
    return kept


def prepare(records: list[dict]):
    """Features, labels, folds, rule verdicts and gate flags of the records."""
    con = duckdb.connect()
    texts = [r["text"] for r in records]
    expanded = S.verdict_texts(con, texts)
    pairs = M.features(con, expanded)
    by_text: list[list[str]] = [[] for _ in texts]
    for k, f in pairs:
        by_text[k].append(f)
    rules = [None] * len(texts)
    for i, fs in enumerate(S.scan_texts(con, texts, E.config(), S.Field.prompt, use_model=False)):
        cats = sorted({f.category for f in fs})
        rules[i] = cats[0] if cats else None
    gated = S.gated(con, texts)
    y = np.array([CLASSES.index(r["label"] or M.BENIGN) for r in records])
    folds = np.array([r["split"] for r in records])
    return by_text, y, folds, rules, gated


def matrix(by_text: list[list[str]], rows: np.ndarray, vocab: dict[str, int]) -> sparse.csr_matrix:
    indptr, indices, data = [0], [], []
    for i in rows:
        feats = by_text[i]
        scale = 1.0 / np.sqrt(max(len(feats), 1))
        cols = sorted({vocab[f] for f in feats if f in vocab})
        indices += cols
        data += [scale] * len(cols)
        indptr.append(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), len(vocab)))


def fit(by_text, y, rows: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    df = Counter(f for i in rows for f in set(by_text[i]))
    vocab = {f: j for j, f in enumerate(sorted(f for f, n in df.items() if n >= MIN_DF))}
    clf = LogisticRegression(C=c, max_iter=3000, random_state=SEED)
    clf.fit(matrix(by_text, rows, vocab), y[rows])
    return clf, vocab


def proba(clf, vocab, by_text, rows: np.ndarray) -> np.ndarray:
    """P(class) in CLASSES order (every class is in every training fold)."""
    p = clf.predict_proba(matrix(by_text, rows, vocab))
    out = np.zeros((len(rows), len(CLASSES)))
    out[:, clf.classes_] = p
    return out


def model_only(p: np.ndarray, threshold: float) -> list[str | None]:
    attack = 1.0 - p[:, 0]
    best = 1 + np.argmax(p[:, 1:], axis=1)
    return [CLASSES[b] if a >= threshold else None for a, b in zip(attack, best, strict=True)]


def combined(p: np.ndarray, rules: list, gated: list, threshold: float, veto: float) -> list[str | None]:
    out = []
    for row, rule, gate, m in zip(p, rules, gated, model_only(p, threshold), strict=True):
        if rule is not None:
            out.append(rule if row[0] < veto else None)
        else:
            out.append(m if gate else None)
    return out


def scores(labels: list, predicted: list) -> dict[str, tuple[float, float, int]]:
    """category -> (precision, recall, texts)."""
    out = {}
    for c in E.INJECTION:
        n = sum(lb == c for lb in labels)
        pred = sum(p == c for p in predicted)
        tp = sum(lb == c and p == c for lb, p in zip(labels, predicted, strict=True))
        out[c] = (tp / pred if pred else 1.0, tp / n if n else 1.0, n)
    return out


def oof(by_text, y, folds, rows: np.ndarray, c: float) -> np.ndarray:
    """Out-of-fold P(class) of ``rows``, leaving one of their sets out at a time."""
    p = np.zeros((len(rows), len(CLASSES)))
    for name in sorted(set(folds[rows])):
        test = folds[rows] == name
        clf, vocab = fit(by_text, y, rows[~test], c)
        p[test] = proba(clf, vocab, by_text, rows[test])
    return p


def choose(by_text, y, folds, rows: np.ndarray, gated: list[bool]) -> tuple[float, float]:
    """(threshold, veto) from the model's out-of-fold probabilities on the sets of ``rows``
    only, without the rules: the rules were written on most of these sets and are right
    on nearly all of them, so a choice that counted them would trust them blindly.
    threshold: the lowest at which the texts the model reports are >= PRECISION of the
    right category and no text of the ORDINARY sets that the gate lets through is
    reported; veto: the lowest P(benign) above which >= VETO_PURITY of texts are
    benign."""
    p = oof(by_text, y, folds, rows, C)
    labels = y[rows]
    ordinary = np.isin(folds[rows], ORDINARY) & np.array([gated[i] for i in rows], dtype=bool)
    threshold = THRESHOLDS[-1]
    for t in THRESHOLDS:
        reported = (1.0 - p[:, 0]) >= t
        right = reported & (1 + np.argmax(p[:, 1:], axis=1) == labels)
        if reported.sum() and right.sum() / reported.sum() >= PRECISION and not (reported & ordinary).any():
            threshold = t
            break
    veto = 1.0
    for v in VETOES:
        sure = p[:, 0] >= v
        if sure.sum() and (labels[sure] == 0).mean() >= VETO_PURITY:
            veto = v
            break
    return float(threshold), float(veto)


def cv(records) -> None:
    by_text, y, folds, rules, gated = prepare(records)
    everything = np.arange(len(records))
    for name in dict.fromkeys(folds):
        test = everything[folds == name]
        train = everything[folds != name]
        t, v = choose(by_text, y, folds, train, gated)
        c = C
        clf, vocab = fit(by_text, y, train, c)
        p = proba(clf, vocab, by_text, test)
        labels = [CLASSES[v_] if v_ else None for v_ in y[test]]
        g = [gated[i] for i in test]
        runs = {
            "rules alone": [rules[i] for i in test],
            "model alone (every text)": model_only(p, t),
            "model alone (gated)": [m if gate else None for m, gate in zip(model_only(p, t), g, strict=True)],
            "combined (shipped)": combined(p, [rules[i] for i in test], g, t, v),
        }
        attacks = sum(lb is not None for lb in labels)
        print(f"\n### held out: {name} ({len(test)} prompts, {attacks} attacks; chosen on the other sets: "
              f"C={c}, threshold={t}, veto={v}; gate lets through {sum(g[i] for i in range(len(g)) if labels[i])}"
              f"/{attacks} attacks, {sum(g[i] for i in range(len(g)) if not labels[i])}/{len(test) - attacks} benign)")
        print("| category | texts | " + " | ".join(f"{k} P / R" for k in runs) + " |")
        print("|---|---:|" + "---:|" * len(runs))
        table = {k: scores(labels, pr) for k, pr in runs.items()}
        for cat in E.INJECTION:
            cells = " | ".join(f"{table[k][cat][0]:.3f} / {table[k][cat][1]:.3f}" for k in runs)
            print(f"| {cat} | {table['rules alone'][cat][2]} | {cells} |")
        for k, pr in runs.items():
            fp = sum(lb is None and p_ is not None for lb, p_ in zip(labels, pr, strict=True))
            print(f"  {k}: {fp} of {len(test) - attacks} benign reported")


def train(records, out: Path) -> None:
    by_text, y, folds, rules, gated = prepare(records)
    rows = np.arange(len(records))
    t, v = choose(by_text, y, folds, rows, gated)
    c = C
    clf, vocab = fit(by_text, y, rows, c)
    coef = np.zeros((len(CLASSES), len(vocab)))
    coef[clf.classes_] = clf.coef_
    bias = np.zeros(len(CLASSES))
    bias[clf.classes_] = clf.intercept_
    weights = {}
    for f, j in sorted(vocab.items()):
        row = [[int(k), round(float(coef[k, j]), 4)] for k in range(len(CLASSES)) if abs(coef[k, j]) >= 5e-4]
        if row:
            weights[f] = row
    data = {
        "format": 1,
        "classes": list(CLASSES),
        "features": "model.FEATURES_SQL: lower-cased, white space collapsed; w: words, b: word pairs, c: 4-character "
                    "windows; binary, scaled by 1/sqrt(distinct features)",
        "bias": [round(float(b), 6) for b in bias],
        "threshold": t,
        "veto": v,
        "meta": {"C": c, "min_df": MIN_DF, "texts": len(records), "sets": sorted(set(folds)),
                 "trained_by": "benchmarks/security_model.py train", "detector_version": S.DETECTOR_VERSION},
        "weights": weights,
    }
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(weights):,} features, C={c}, threshold={t}, veto={v}, {out.stat().st_size / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("cv", "train"))
    parser.add_argument("--out", type=Path, default=M.MODEL_FILE)
    args = parser.parse_args()
    records = load_prompts()
    print(f"{len(records)} prompts: {dict(Counter(r['split'] for r in records))}; gate: {len(R.GATE_PATTERN):,} "
          "characters of RE2")
    if args.command == "cv":
        cv(records)
    else:
        train(records, args.out)


if __name__ == "__main__":
    main()
