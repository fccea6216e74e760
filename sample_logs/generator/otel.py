"""otel_spans.jsonl: the kb-assistant service, exported as one flat OpenTelemetry
GenAI client span per model call (current semantic-convention attribute names)."""

import json
import math

from . import config as C
from . import text_kb
from .outcomes import count_tokens, ok_latency
from .traffic import hour_weights
from .util import b62, geometric, hexid, lognormal, pick, rng

OTEL_MODELS = [("gpt-4o-mini", 0.55), ("claude-3-5-haiku-20241022", 0.30), ("gpt-4o", 0.15)]
SERVER = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
ERRORS = {"openai": [("openai.RateLimitError", "Error code: 429 - Rate limit reached for requests"),
                     ("openai.APITimeoutError", "Request timed out."),
                     ("openai.InternalServerError", "Error code: 500 - The server had an error while processing your request.")],
          "anthropic": [("anthropic.RateLimitError", "Error code: 429 - rate_limit_error"),
                        ("anthropic.APITimeoutError", "Request timed out."),
                        ("anthropic.InternalServerError", "Error code: 529 - overloaded_error: Overloaded")]}
OTEL_ERROR_P = 0.02


def _messages(role, text, finish=None):
    msg = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish:
        msg["finish_reason"] = finish
    return msg


def _js(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def build_spans(ids):
    r = rng("otel")
    employees = [("emp-" + str(10000 + r.randrange(90000)), lognormal(r, 1.0, 1.0)) for _ in range(70)]
    weights = hour_weights()
    total = sum(weights)
    calls = []
    for h, w in enumerate(weights):
        ms0 = C.START_MS + h * C.HOUR_MS
        expected = C.OTEL_SESSIONS * w / total
        n = max(0, int(round(expected + r.gauss(0, math.sqrt(expected)))))
        for _ in range(n):
            user = pick(r, employees)
            model = pick(r, OTEL_MODELS)
            conv = "conv_" + b62(r, 24)
            ms = ms0 + r.randrange(C.HOUR_MS)
            history = []
            for _turn in range(geometric(r, 2.0, cap=5)):
                if ms >= C.END_MS:
                    break
                topic = r.choice(sorted(text_kb.POLICIES))
                content, question = text_kb.user_message(r, topic)
                reply = text_kb.answer(r, topic, question)
                q = dict(ts=ms, model=model, endpoint="kb", system_prompt=text_kb.SYSTEM, prompt=content,
                         response=reply, history_chars=sum(len(m["parts"][0]["content"]) for m in history),
                         tags=[], cache_hit=False)
                calls.append(_span(r, q, user, conv, history, ids))
                # the service sends the previous exchange only, not the whole conversation
                history = [_messages("user", question), _messages("assistant", reply)]
                ms += int(lognormal(r, 60000, 0.6))
    calls.sort(key=lambda s: (int(s["startTimeUnixNano"]), s["spanId"]))
    return calls


def _span(r, q, user, conv, history, ids):
    m = C.MODELS[q["model"]]
    provider = m["provider"]
    count_tokens(r, q)
    latency, ttft = ok_latency(r, q)
    failed = r.random() < OTEL_ERROR_P
    start_ns = q["ts"] * 1_000_000 + r.randrange(1_000_000)
    if failed:
        etype, emsg = r.choice(ERRORS[provider])
        latency = 30000 + r.randint(0, 900) if "Timeout" in etype else r.randint(150, 2500)
    end_ns = start_ns + latency * 1_000_000 + r.randrange(1_000_000)
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": q["model"],
        "gen_ai.request.temperature": 0.2,
        "gen_ai.conversation.id": conv,
        "gen_ai.system_instructions": _js([{"type": "text", "content": q["system_prompt"]}]),
        "gen_ai.input.messages": _js(history + [_messages("user", q["prompt"])]),
    }
    if not failed:
        rid = ids.new("chatcmpl-" + b62(r, 29) if provider == "openai" else "msg_01" + b62(r, 22))
        attrs.update({
            "gen_ai.response.model": m["version"],
            "gen_ai.response.id": rid,
            "gen_ai.response.finish_reasons": ["stop"] if provider == "openai" else ["end_turn"],
            "gen_ai.usage.input_tokens": q["prompt_tokens"],
            "gen_ai.usage.output_tokens": q["completion_tokens"],
            "gen_ai.usage.cache_read.input_tokens": q["cached_tokens"],
            "gen_ai.output.messages": _js([_messages("assistant", q["response"], "stop")]),
        })
    else:
        attrs["error.type"] = etype
    attrs.update({"server.address": SERVER[provider], "server.port": 443, "user.id": user})
    return {
        "traceId": ids.new(hexid(r, 32)),
        "spanId": ids.new(hexid(r, 16)),
        "parentSpanId": hexid(r, 16),
        "name": f"chat {q['model']}",
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "status": ({"code": "STATUS_CODE_ERROR", "message": emsg} if failed
                   else {"code": "STATUS_CODE_OK", "message": ""}),
        "attributes": attrs,
    }
