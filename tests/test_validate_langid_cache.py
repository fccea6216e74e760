"""The language identifier loads from an unpacked copy of its model: the same verdicts
as py3langid's packaged loader, and no LZMA decompression after the first load (it was
0.4 CPU seconds of every ``aimon validate``)."""

from __future__ import annotations

import lzma

import pytest

from aimon.analysis.validate import candidates as C

TEXTS = ["Puede restablecer su contraseña desde la página de configuración.", "Thanks, the refund is on its way.",
         "Je ne peux pas vous aider avec cela.", "抱歉，我无法帮助你。", "def total(items): return sum(items)"]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    C._identifier.cache_clear()
    yield tmp_path
    C._identifier.cache_clear()


@pytest.mark.slow
def test_unpacked_model_gives_the_packaged_verdicts(fresh):
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packaged = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ours = C._identifier()
    assert list(fresh.glob("aimon/langid-*/ptc.npy"))
    assert [ours.classify(t) for t in TEXTS] == [packaged.classify(t) for t in TEXTS]


def test_second_load_does_not_decompress(fresh, monkeypatch):
    C._identifier()
    C._identifier.cache_clear()

    def refuse(*_a, **_k):
        raise AssertionError("decompressed again")

    monkeypatch.setattr(lzma, "open", refuse)
    assert C._identifier().classify(TEXTS[0])[0] == "es"


def test_unwritable_cache_falls_back_to_the_packaged_loader(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    C._identifier.cache_clear()
    try:
        assert C._identifier().classify(TEXTS[1])[0] == "en"
    finally:
        C._identifier.cache_clear()
