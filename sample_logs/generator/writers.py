"""Serialisation: exact key order per format, deterministic JSON and gzip."""

import gzip
import hashlib
import io
import json

from . import config as C
from .outcomes import cost
from .util import iso_ms


def dumps(obj, compact=True):
    if compact:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(obj, ensure_ascii=False)


def temperature(q):
    return 1.0 if q["model"] == "o3-mini" else C.TEMPERATURE[q["endpoint"]]


def cost_logged(q):
    return C.COST_LOGGED_BUILDS[q["app_build"]] and C.MODELS[q["model"]]["price"] is not None


def flat_record(q):
    m = C.MODELS[q["model"]]
    u = q["user"]
    rec = {
        "timestamp": iso_ms(q["ts"]),
        "request_id": q["request_id"],
        "user_id": u["user_id"],
        "session_id": q["session_id"],
        "endpoint": q["endpoint"],
        "provider": m["provider"],
        "model": q["model"],
        "version": m["version"],
        "prompt_version": q["prompt_version"],
        "system_prompt": q["system_prompt"],
        "prompt": q["prompt"],
        "response": q["response"],
        "prompt_tokens": q["prompt_tokens"],
        "completion_tokens": q["completion_tokens"],
        "cached_tokens": q["cached_tokens"],
    }
    if q["reasoning_tokens"] is not None:
        rec["reasoning_tokens"] = q["reasoning_tokens"]
    if cost_logged(q):
        rec["cost_usd"] = round(cost(q), 8)
    rec.update({
        "latency_ms": q["latency_ms"],
        "ttft_ms": q["ttft_ms"],
        "status": q["status"],
        "error": q["error"],
        "cache_hit": q["cache_hit"],
        "experiment": q["experiment"],
        "variant": q["variant"],
    })
    if q["success_logged"]:
        rec["success"] = q["success_latent"]
    rec.update({
        "temperature": temperature(q),
        "user_tier": u["tier"],
        "jurisdiction": u["jurisdiction"],
        "consent": u["consent"],
        "region": u["region"],
        "app_build": q["app_build"],
    })
    return rec


def lines_bytes(objs, compact=True):
    return "".join(dumps(o, compact) + "\n" for o in objs).encode("utf-8")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def gzip_bytes(data):
    """gzip with a fixed header: no file name, mtime 0 (so output does not depend on when it ran)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
