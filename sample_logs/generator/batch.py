"""batch_output.jsonl: the nightly digest job, written exactly as the OpenAI
Batch API writes output lines (key order of real output files)."""

import math

from . import config as C
from . import text_docs
from .outcomes import cost
from .util import approx_tokens, b62, hexid, rng, weekday

KIND_MIX = [("ticket", 0.4), ("meeting", 0.2), ("report", 0.2), ("review", 0.2)]
MODEL = "gpt-4o-mini"
MAX_TOKENS = 300
FINGERPRINTS = ["fp_560af6e559", "fp_7fcd609668"]   # the backend changed on 2026-11-06
FAIL = {"code": "request_timeout", "message": "The underlying call to the model timed out."}


def _kind(r):
    x, acc = r.random(), 0.0
    for k, w in KIND_MIX:
        acc += w
        if x < acc:
            return k
    return KIND_MIX[-1][0]


def build_batch(ids):
    """Returns (lines, calls): the output lines and, for the ground truth, one dict
    per line with its tokens, cost and time."""
    r = rng("batch")
    lines, calls = [], []
    for night in range(C.DAYS):
        submit_s = (C.START_MS + night * C.DAY_MS) // 1000 + 3600 + r.randint(0, 120)
        prev_weekend = weekday(C.START_MS + (night - 1) * C.DAY_MS) >= 5
        expected = C.BATCH_PER_NIGHT * (0.65 if prev_weekend else 1.0) * (1 + 0.2 * night / 13)
        n = int(round(expected + r.gauss(0, math.sqrt(expected) / 2)))
        created = submit_s + r.randint(240, 600)
        for i in range(n):
            created += r.randint(10, 70)
            day = (night * C.DAY_MS + C.START_MS)
            custom_id = f"digest-{_date(day)}-{i + 1:04d}"
            line_id = ids.new("batch_req_" + hexid(r, 32))
            kind = _kind(r)
            _, doc = text_docs.document(r, kind)
            if r.random() < C.BATCH_FAIL_P:
                lines.append({"id": line_id, "custom_id": custom_id, "response": None, "error": dict(FAIL)})
                calls.append(dict(id=line_id, failed=True, created=None))
                continue
            summary = text_docs.summary(r, kind, bullets=r.randint(3, 5), action=r.random() < 0.6)
            prompt_tokens = approx_tokens(text_docs.BATCH_SYSTEM) + approx_tokens(doc) + 12
            completion = max(20, int(round(approx_tokens(summary) * r.uniform(0.92, 1.08))))
            finish = "stop"
            if r.random() < 0.02:
                finish, completion = "length", MAX_TOKENS
                summary = summary + "\n- Further detail: the document also mentions follow-up work that"
            body_id = ids.new("chatcmpl-" + b62(r, 29))
            req_id = ids.new(hexid(r, 32))
            fingerprint = FINGERPRINTS[0] if night < 5 else FINGERPRINTS[1]
            body = {
                "id": body_id,
                "object": "chat.completion",
                "created": created,
                "model": C.MODELS[MODEL]["version"],
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": summary, "refusal": None,
                                         "annotations": []},
                             "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                          "total_tokens": prompt_tokens + completion,
                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}},
                "service_tier": "default",
                "system_fingerprint": fingerprint,
            }
            lines.append({"id": line_id, "custom_id": custom_id,
                          "response": {"status_code": 200, "request_id": req_id, "body": body},
                          "error": None})
            q = dict(model=MODEL, prompt_tokens=prompt_tokens, cached_tokens=0, completion_tokens=completion)
            calls.append(dict(id=line_id, failed=False, created=created, prompt_tokens=prompt_tokens,
                              completion_tokens=completion, cost_list=cost(q), cost_batch=cost(q, batch=True)))
    return lines, calls


def _date(ms):
    from .util import iso_ms
    return iso_ms(ms)[:10].replace("-", "")
