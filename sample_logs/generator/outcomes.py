"""What happened to each call: token counts, provider prompt caching, errors
(base rate and the incident), client retries, latency/TTFT, cost, success."""

from . import config as C
from .util import approx_tokens, lognormal, pick, rng

ERROR_MESSAGES = {
    "openai": {
        "rate_limit": "Error code: 429 - {{'error': {{'message': 'Rate limit reached for {model} on tokens per min (TPM): Limit 2000000, Used 1998113, Requested 2741. Please try again in 254ms.', 'type': 'tokens', 'param': None, 'code': 'rate_limit_exceeded'}}}}",
        "timeout": "Request timed out.",
        "api_error": "Error code: 500 - {{'error': {{'message': 'The server had an error while processing your request. Sorry about that!', 'type': 'server_error', 'param': None, 'code': None}}}}",
        "validation": "Error code: 400 - {{'error': {{'message': \"Invalid 'messages[1].content': string too long. Expected a string with maximum length 1048576.\", 'type': 'invalid_request_error', 'param': 'messages[1].content', 'code': 'string_above_max_length'}}}}",
        "content_filter": "The response was blocked by the content filter (finish_reason=content_filter).",
    },
    "anthropic": {
        "rate_limit": "Error code: 429 - {{'type': 'error', 'error': {{'type': 'rate_limit_error', 'message': 'This request would exceed the rate limit for your organization of 400,000 input tokens per minute. Please reduce the prompt length or the maximum tokens requested, or try again later.'}}}}",
        "timeout": "Request timed out.",
        "api_error": "Error code: 529 - {{'type': 'error', 'error': {{'type': 'overloaded_error', 'message': 'Overloaded'}}}}",
        "validation": "Error code: 400 - {{'type': 'error', 'error': {{'type': 'invalid_request_error', 'message': 'messages: text content blocks must be non-empty'}}}}",
        "content_filter": "Output blocked by content filtering policy (stop_reason=refusal).",
    },
    "self-hosted": {
        "rate_limit": "429 Too Many Requests: inference queue is full (max_num_seqs=256), retry later",
        "timeout": "upstream request timeout after 60000 ms",
        "api_error": "502 Bad Gateway: upstream connect error or disconnect/reset before headers. reset reason: connection termination",
        "validation": "400 Bad Request: This model's maximum context length is 8192 tokens. However, you requested 9214 tokens.",
        "content_filter": "Response withheld by the Llama Guard safety filter (category S2).",
    },
}
ANTHROPIC_500 = "Error code: 500 - {'type': 'error', 'error': {'type': 'api_error', 'message': 'Internal server error'}}"


def in_incident(q):
    return (q["model"] == C.INCIDENT_MODEL and q["endpoint"] == C.INCIDENT_ENDPOINT
            and C.INCIDENT_START_MS <= q["ts"] < C.INCIDENT_END_MS)


def count_tokens(r, q):
    m = C.MODELS[q["model"]]
    system_t = approx_tokens(q["system_prompt"])
    history_t = q.get("history_chars", 0) // 4
    prefix = system_t + history_t + 4
    q["prompt_tokens"] = q.get("prompt_tokens_override") or prefix + approx_tokens(q["prompt"]) + 4
    visible = max(1, int(round(approx_tokens(q["response"]) * r.uniform(0.92, 1.08))))
    q["reasoning_tokens"] = None
    if m["reasoning"]:
        median = 1100 if q["endpoint"] == "/code-review" else 450
        q["reasoning_tokens"] = int(min(12000, max(64, lognormal(r, median, 0.6))))
        visible += q["reasoning_tokens"]
    q["completion_tokens"] = visible
    cached = 0
    if "runaway" not in q["tags"]:
        if m["provider"] == "openai" and prefix >= 1024 and r.random() < 0.85:
            cached = (prefix // 128) * 128
        elif m["provider"] == "anthropic":
            threshold = 2048 if "haiku" in q["model"] else 1024
            if prefix >= threshold and r.random() < 0.8:
                cached = prefix
    q["cached_tokens"] = min(cached, q["prompt_tokens"] - 1)


def cost(q, batch=False):
    price = C.MODELS[q["model"]]["price"]
    if price is None:
        return None
    p_in, p_cached, p_out = price
    uncached = q["prompt_tokens"] - q["cached_tokens"]
    usd = (uncached * p_in + q["cached_tokens"] * p_cached + q["completion_tokens"] * p_out) / 1e6
    return usd * (C.BATCH_DISCOUNT if batch else 1.0)


def error_message(q, kind):
    provider = C.MODELS[q["model"]]["provider"]
    if provider == "anthropic" and kind == "api_error" and not in_incident(q) and q["ts"] % 3 == 0:
        return ANTHROPIC_500
    return ERROR_MESSAGES[provider][kind].format(model=q["model"])


def ok_latency(r, q):
    m = C.MODELS[q["model"]]
    ttft = (m["ttft"] + m["ttft_per_1k"] * q["prompt_tokens"] / 1000.0) * lognormal(r, 1.0, 0.3)
    tps = min(150.0, max(33.0, m["tps"] * lognormal(r, 1.0, 0.15)))
    visible = q["completion_tokens"] - (q["reasoning_tokens"] or 0)
    if q["reasoning_tokens"]:
        ttft += q["reasoning_tokens"] / tps * 1000.0
    gen = visible / tps * 1000.0
    if in_incident(q):
        factor = lognormal(r, C.INCIDENT_LATENCY_FACTOR, 0.3)
        ttft *= factor
        gen *= factor
    total = ttft + gen + r.uniform(15, 120)
    return int(total), int(ttft)


def error_latency(r, q, kind):
    incident = in_incident(q)
    if kind == "rate_limit":
        return int(r.uniform(120, 900) if incident else r.uniform(80, 600))
    if kind == "timeout":
        limit = 60000 if q["model"] == "acme-llama-70b-ft" else 30000
        return limit + r.randint(0, 1500)
    if kind == "api_error":
        return int(lognormal(r, 7000, 0.5) if incident else lognormal(r, 1500, 0.8))
    if kind == "validation":
        return r.randint(40, 250)
    return int(lognormal(r, 2500, 0.5))


def decide(r, q):
    """Fill status, error, tokens, latency, ttft for one call."""
    q.setdefault("_orig_response", q["response"])
    q["status"], q["error"] = "ok", None
    if q.get("fixed"):          # the runaway loop: decided when it was planned
        return
    count_tokens(r, q)
    if q["cache_hit"]:
        q.update(prompt_tokens=0, completion_tokens=0, cached_tokens=0)
        q["reasoning_tokens"] = 0 if q["reasoning_tokens"] is not None else None
        q["latency_ms"] = r.randint(4, 35)
        q["ttft_ms"] = max(1, q["latency_ms"] - r.randint(1, 4))
        return
    incident = in_incident(q)
    p_err = 0.0 if "runaway" in q["tags"] else (C.INCIDENT_ERROR_P if incident else C.BASE_ERROR_P)
    if r.random() < p_err:
        kind = pick(r, [("rate_limit", 0.55), ("api_error", 0.45)]) if incident else pick(r, C.ERROR_MIX)
        q["status"] = "error"
        q["error"] = {"type": kind, "message": error_message(q, kind)}
        q["response"] = None
        q.update(prompt_tokens=0, completion_tokens=0, cached_tokens=0)
        if q["reasoning_tokens"] is not None:
            q["reasoning_tokens"] = 0
        q["latency_ms"] = error_latency(r, q, kind)
        q["ttft_ms"] = None
        return
    q["latency_ms"], q["ttft_ms"] = ok_latency(r, q)
    if q["ttft_ms"] >= q["latency_ms"]:
        q["ttft_ms"] = q["latency_ms"] - 1


_BLOCKS = {}


def _stratified(r, variant):
    """Experiment outcomes are drawn in shuffled blocks of 50 holding exactly
    round(50 * p) successes, so each arm's realised rate tracks its true rate."""
    block = _BLOCKS.get(variant)
    if not block:
        k = round(50 * C.SUCCESS_P[variant])
        block = [True] * k + [False] * (50 - k)
        r.shuffle(block)
        _BLOCKS[variant] = block
    return block.pop()


def success(r, q):
    ep = q["endpoint"]
    if q.get("variant") and q["status"] == "ok" and "injection" not in q["tags"]:
        latent = _stratified(r, q["variant"])
    else:
        latent = r.random() < C.ENDPOINT_SUCCESS_P[ep]
    if q["status"] == "error" or "injection" in q["tags"] or "runaway" in q["tags"]:
        latent = False
    q["success_latent"] = latent
    q["success_logged"] = "runaway" not in q["tags"] and r.random() < C.SUCCESS_LOGGED_P[ep]


def run_outcomes(reqs):
    """Decide every call in time order; failed rate-limit/overload calls are retried
    by the client (a new request with its own id). Returns the full list."""
    r = rng("outcomes")
    _BLOCKS.clear()
    out, queue = [], sorted(reqs, key=lambda q: q["ts"])
    pending = []
    for q in queue:
        pending.append(q)
        while pending:
            cur = pending.pop()
            decide(r, cur)
            success(r, cur)
            out.append(cur)
            kind = cur["error"]["type"] if cur["error"] else None
            if kind in ("rate_limit", "api_error") and cur.get("attempt", 0) < 2 and r.random() < C.RETRY_P:
                retry = dict(cur)
                retry.update(attempt=cur.get("attempt", 0) + 1, _origin=cur.get("_origin", cur), tags=list(cur["tags"]) + ["retry"],
                             pii=list(cur["pii"]), response=cur["_orig_response"])
                retry["ts"] = cur["ts"] + cur["latency_ms"] + int(1000 * (2 ** cur.get("attempt", 0)) * r.uniform(1, 3))
                if retry["ts"] < C.END_MS:
                    pending.append(retry)
    return out
