"""An experiment for issue 13: does a classifier over sentence embeddings generalise to
unseen injection wording better than aimon's detector (rules + the 4-gram model)?

    python benchmarks/security_semantic.py            # the three held-out folds, then the cost
    python benchmarks/security_semantic.py --cost-only

Data: every prompt of the labelled sets (tests/security_eval/eval_set.jsonl's dev,
heldout, heldout2 and heldout3; tests/data/security/heldout4, 5 and 6), read as
``benchmarks/security_model.py`` reads them. heldout7 is a blind set being written: it is
not read here.

Folds: heldout4, heldout5 and heldout6 are each left out in turn; everything chosen
(C, thresholds, the veto, the stacker) is chosen on the other six sets only, by leaving
one of them out at a time. Detectors compared, per category, on the left-out set:

- rules alone, and aimon as shipped (rules + the 4-gram model retrained without the fold,
  ``security_model.combined``): what ``security_model.py cv`` computes;
- the embedding classifier alone: a multinomial logistic regression (scikit-learn) over
  aimon's own vectors (``aimon.analysis.toolkit.embedding.embed``, all-MiniLM-L6-v2) of
  the prompt and of its normalised and decoded layers (``scan.verdict_texts``; the prompt
  again when it has none), 7 classes; it reports its best category when P(not benign)
  reaches the threshold at which its out-of-fold reports on the training sets were 95%
  right; on every prompt, or only on those past aimon's SQL gate;
- aimon OR the embedding classifier: aimon's verdict, else the classifier's;
- stacked: a logistic regression over the log-probabilities of both models (out-of-fold
  on the training sets), used like the shipped model (a rule verdict stands unless the
  stacked P(benign) reaches the veto; else the stacked best category past the threshold).

Then the cost: texts per CPU-second to embed prompts of typical length with aimon's
encoder, what 1M prompts cost embedded all or only past the SQL gate, and how many of the
labelled attacks aimon misses pass that gate.

Vectors are cached in ``benchmarks/data/semantic_embeddings.duckdb`` (aimon's own cache
table), so a second run computes none. scikit-learn is needed here only.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import duckdb  # noqa: E402
import security_model as SM  # noqa: E402

from aimon.analysis.security import scan as S  # noqa: E402
from aimon.analysis.toolkit import embedding as EMB  # noqa: E402
from tests.security_eval import evaluate as E  # noqa: E402

DATA = ROOT / "tests/data/security"
SETS = (None, DATA / "heldout4.jsonl", DATA / "heldout5.jsonl", DATA / "heldout6.jsonl")
HELD_OUT = ("heldout4", "heldout5", "heldout6")
CACHE = ROOT / "benchmarks/data/semantic_embeddings.duckdb"
CLASSES = SM.CLASSES
C_GRID = (1.0, 4.0, 16.0, 64.0)
# The embedding classifier's out-of-fold reports are 95% right only above 0.95 (a first
# run: 0.94 at 0.95 with C=1), so its grid goes on to 0.99; the 4-gram model keeps
# security_model's grid, as shipped.
FINE = (*SM.THRESHOLDS, 0.96, 0.97, 0.98, 0.99)
EPS = 1e-6


def load_prompts() -> list[dict]:
    """Every labelled prompt (never heldout7)."""
    records = []
    for path in SETS:
        assert path is None or "heldout7" not in path.name
        records += E.load(path) if path else E.load()
    return [r for r in records if r["field"] == "prompt"]


def vectors(records: list[dict]) -> tuple[np.ndarray, list[int]]:
    """[vector of the prompt, vector of its normalised and decoded layers] per prompt, and
    each prompt's token count (the model reads the first 256 tokens)."""
    from aimon.store.connection import connect

    texts = [r["text"] for r in records]
    expanded = S.verdict_texts(duckdb.connect(), texts)
    layers = [x[len(t):].strip() or t if x.startswith(t) else x for t, x in zip(texts, expanded, strict=True)]
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    con = connect(CACHE, write=True)
    try:
        raw, stats = EMB.embed_with_stats(con, texts)
        lay, stats2 = EMB.embed_with_stats(con, layers)
    finally:
        con.close()
    print(f"vectors: {stats.distinct + stats2.distinct} distinct texts, {stats.computed + stats2.computed} computed "
          f"({stats.backend or 'cache'} {stats.precision or ''}), {stats.seconds + stats2.seconds:.1f} s")
    enc = EMB.encoder(EMB.model_spec())
    tokens = [len(e.ids) for e in enc.tokenizer.encode_batch(texts)] if hasattr(enc, "tokenizer") else []
    return np.hstack([raw, lay]), tokens


def fit_embed(x: np.ndarray, y: np.ndarray, rows: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, random_state=SM.SEED).fit(x[rows], y[rows])


def proba_of(clf, x: np.ndarray) -> np.ndarray:
    """P(class) in CLASSES order."""
    out = np.zeros((len(x), len(CLASSES)))
    out[:, clf.classes_] = clf.predict_proba(x)
    return out


def oof_embed(x, y, folds, rows: np.ndarray, c: float) -> np.ndarray:
    p = np.zeros((len(rows), len(CLASSES)))
    for name in sorted(set(folds[rows])):
        test = folds[rows] == name
        p[test] = proba_of(fit_embed(x, y, rows[~test], c), x[rows[test]])
    return p


def pick(p: np.ndarray, labels: np.ndarray, grid: tuple[float, ...] = FINE) -> tuple[float, float, int]:
    """(threshold, veto, right reports at the threshold), chosen as ``security_model.choose``
    chooses them, from out-of-fold probabilities (the highest threshold when none is 95%
    right: then no report is counted right)."""
    threshold, right_at = grid[-1], 0
    best = 1 + np.argmax(p[:, 1:], axis=1)
    for t in grid:
        reported = (1.0 - p[:, 0]) >= t
        right = reported & (best == labels)
        if reported.sum() and right.sum() / reported.sum() >= SM.PRECISION:
            threshold, right_at = t, int(right.sum())
            break
    veto = 1.0
    for v in SM.VETOES:
        sure = p[:, 0] >= v
        if sure.sum() and (labels[sure] == 0).mean() >= SM.VETO_PURITY:
            veto = v
            break
    return float(threshold), float(veto), right_at


def choose_embed(x, y, folds, rows: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(C, threshold, veto, out-of-fold P) of the embedding classifier on ``rows``: the C
    whose out-of-fold reports at 95% precision are right most often."""
    best = None
    for c in C_GRID:
        p = oof_embed(x, y, folds, rows, c)
        t, v, right = pick(p, y[rows])
        if best is None or right > best[0]:
            best = (right, c, t, v, p)
    return best[1], best[2], best[3], best[4]


def stack_features(p_char: np.ndarray, p_emb: np.ndarray) -> np.ndarray:
    return np.hstack([np.log(p_char + EPS), np.log(p_emb + EPS)])


def stacker(z: np.ndarray, y: np.ndarray, folds: np.ndarray, rows: np.ndarray):
    """The stacked model fitted on ``rows``' out-of-fold features, and its threshold and veto
    (from its own leave-one-set-out over those features)."""
    from sklearn.linear_model import LogisticRegression

    def fit(r):
        return LogisticRegression(C=1.0, max_iter=5000, random_state=SM.SEED).fit(z[r], y[r])

    p = np.zeros((len(rows), len(CLASSES)))
    for name in sorted(set(folds[rows])):
        test = folds[rows] == name
        p[test] = proba_of(fit(rows[~test]), z[rows[test]])
    t, v, _ = pick(p, y[rows])
    return fit(rows), t, v


def fold(name: str, data: dict) -> tuple[dict, dict]:
    """Predictions of every detector on the left-out set ``name``, and what was chosen."""
    by_text, y, folds, rules, gated, x = (data[k] for k in ("by_text", "y", "folds", "rules", "gated", "x"))
    everything = np.arange(len(y))
    test, train = everything[folds == name], everything[folds != name]
    oof_char = SM.oof(by_text, y, folds, train, SM.C)
    t_char, v_char, _ = pick(oof_char, y[train], SM.THRESHOLDS)
    clf, vocab = SM.fit(by_text, y, train, SM.C)
    p_char = SM.proba(clf, vocab, by_text, test)
    c_emb, t_emb, _, oof_emb = choose_embed(x, y, folds, train)
    p_emb = proba_of(fit_embed(x, y, train, c_emb), x[test])
    z = np.zeros((len(y), 2 * len(CLASSES)))
    z[train] = stack_features(oof_char, oof_emb)
    z[test] = stack_features(p_char, p_emb)
    meta, t_stack, v_stack = stacker(z, y, folds, train)
    p_stack = proba_of(meta, z[test])
    # The control: the same stacker over the 4-gram model's probabilities alone, so a gain
    # of the stacked detector is the embedding's, not the recalibration's.
    half = len(CLASSES)
    solo, t_solo, v_solo = stacker(z[:, :half], y, folds, train)
    p_solo = proba_of(solo, z[test, :half])
    r, g = [rules[i] for i in test], [gated[i] for i in test]
    shipped = SM.combined(p_char, r, g, t_char, v_char)
    emb = SM.model_only(p_emb, t_emb)
    emb_gated = [m if gate else None for m, gate in zip(emb, g, strict=True)]
    runs = {
        "rules alone": r,
        "aimon (shipped)": shipped,
        "embedding (every text)": emb,
        "embedding (gated)": emb_gated,
        "aimon OR embedding (every text)": [a or e for a, e in zip(shipped, emb, strict=True)],
        "aimon OR embedding (gated)": [a or e for a, e in zip(shipped, emb_gated, strict=True)],
        "rules + stacked (gated)": SM.combined(p_stack, r, g, t_stack, v_stack),
        "rules + stacked (every text)": SM.combined(p_stack, r, [True] * len(r), t_stack, v_stack),
        "control: rules + 4-gram restacked (gated)": SM.combined(p_solo, r, g, t_solo, v_solo),
    }
    chosen = {"char threshold": t_char, "char veto": v_char, "embedding C": c_emb, "embedding threshold": t_emb,
              "stacked threshold": t_stack, "stacked veto": v_stack, "control threshold": t_solo,
              "control veto": v_solo}
    return runs, chosen


def report(name: str, data: dict, runs: dict, chosen: dict) -> None:
    y, gated = data["y"], data["gated"]
    test = np.flatnonzero(data["folds"] == name)
    labels = [CLASSES[v] if v else None for v in y[test]]
    g = [gated[i] for i in test]
    attacks = sum(lb is not None for lb in labels)
    print(f"\n### held out: {name} ({len(test)} prompts, {attacks} attacks, {len(test) - attacks} benign); chosen on "
          "the other sets: " + ", ".join(f"{k} {v:g}" for k, v in chosen.items()))
    print(f"gate lets through {sum(gt for gt, lb in zip(g, labels, strict=True) if lb)}/{attacks} attacks, "
          f"{sum(gt for gt, lb in zip(g, labels, strict=True) if not lb)}/{len(test) - attacks} benign")
    table = {k: SM.scores(labels, pr) for k, pr in runs.items()}
    for part in (list(runs)[:4], list(runs)[4:6], list(runs)[6:]):
        print("\n| category | texts | " + " | ".join(f"{k} P / R" for k in part) + " |")
        print("|---|---:|" + "---:|" * len(part))
        for cat in E.INJECTION:
            cells = " | ".join(f"{table[k][cat][0]:.3f} / {table[k][cat][1]:.3f}" for k in part)
            print(f"| {cat} | {table['rules alone'][cat][2]} | {cells} |")
        fps = [sum(lb is None and p is not None for lb, p in zip(labels, runs[k], strict=True)) for k in part]
        print("| benign reported | " + str(len(test) - attacks) + " | " + " | ".join(str(n) for n in fps) + " |")
    missed = [i for i, (lb, p) in enumerate(zip(labels, runs["aimon (shipped)"], strict=True)) if lb and p != lb]
    caught = [i for i in missed if runs["embedding (every text)"][i] == labels[i]]
    print(f"\naimon misses {len(missed)} of {attacks} attacks (wrong or no category); {sum(g[i] for i in missed)} of "
          f"them pass the SQL gate; the embedding classifier (every text) gets {len(caught)} of them right, "
          f"{sum(g[i] for i in caught)} of those past the gate")


def typical_prompts(n: int, seed: int = 7) -> list[str]:
    """Prompts shaped like benchmarks/datagen.py's: 20-299 words of its vocabulary."""
    from datagen import WORDS

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(20 + rng.randrange(280))) for _ in range(n)]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def cost(records: list[dict], gated: list[bool], n: int) -> None:
    """Texts per CPU-second of aimon's encoder on typical prompts, and what 1M would cost."""
    enc = EMB.encoder(EMB.model_spec())
    enc.encode(typical_prompts(64, seed=1))  # warm-up: compile and first-call costs
    texts = typical_prompts(n)
    c0, w0 = cpu(), time.perf_counter()
    enc.encode(texts)
    c1, w1 = cpu(), time.perf_counter()
    rate = n / (c1 - c0)
    chars = sum(map(len, texts)) / n
    print(f"\n## cost\nembedding {n} typical prompts ({chars:.0f} characters on average), {enc.backend} "
          f"{enc.precision}: {c1 - c0:.1f} CPU-s ({w1 - w0:.1f} s wall): {rate:.1f} prompts per CPU-second")
    sample = sample_prompts()
    share = sum(S.gated(duckdb.connect(), sample)) / len(sample) if sample else float("nan")
    print(f"1M prompts, every prompt embedded: {1e6 / rate / 3600:.1f} CPU-hours")
    print(f"sample_logs: {len(sample)} prompts, {share:.2%} past the SQL gate -> 1M gated prompts at that share: "
          f"{share * 1e6 / rate / 3600:.2f} CPU-hours; at the 1M-prompt benchmark's 1.37% "
          f"(13,659 of 1M): {13659 / rate / 60:.1f} CPU-minutes")
    labels = [r["label"] for r in records]
    by_set = Counter((r["split"], bool(gt)) for r, gt in zip(records, gated, strict=True) if r["label"])
    print("labelled attacks past the gate, by set: " + ", ".join(
        f"{s} {by_set[(s, True)]}/{by_set[(s, True)] + by_set[(s, False)]}" for s in dict.fromkeys(
            r["split"] for r in records)))
    benign = [gt for gt, lb in zip(gated, labels, strict=True) if not lb]
    print(f"labelled benign prompts past the gate: {sum(benign)}/{len(benign)} (hard negatives, by design)")


def sample_prompts() -> list[str]:
    import gzip
    import json

    path = ROOT / "sample_logs" / "requests.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = (json.loads(line) for line in fh)
        return [p for p in (r.get("prompt") for r in rows) if isinstance(p, str)]


def prepare(records: list[dict]) -> dict:
    by_text, y, folds, rules, gated = SM.prepare(records)
    x, tokens = vectors(records)
    if tokens:
        long = sum(t > 256 for t in tokens)
        print(f"tokens per prompt: median {int(np.median(tokens))}, {long} of {len(tokens)} over 256 "
              "(the model reads the first 256)")
    return {"by_text": by_text, "y": y, "folds": folds, "rules": rules, "gated": gated, "x": x}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cost-only", action="store_true")
    parser.add_argument("--cost-texts", type=int, default=1000)
    parser.add_argument("--folds", nargs="*", default=list(HELD_OUT), choices=HELD_OUT)
    args = parser.parse_args()
    records = load_prompts()
    print(f"{len(records)} prompts: {dict(Counter(r['split'] for r in records))}")
    if args.cost_only:
        cost(records, S.gated(duckdb.connect(), [r["text"] for r in records]), args.cost_texts)
        return
    data = prepare(records)
    for name in args.folds:
        runs, chosen = fold(name, data)
        report(name, data, runs, chosen)
    cost(records, data["gated"], args.cost_texts)


if __name__ == "__main__":
    main()
