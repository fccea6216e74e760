"""Ground truth, part two: volumes, errors, caches, cost, the other sources; and
the assembly of ground_truth.json."""

from collections import Counter

from . import config as C
from . import truth
from .outcomes import cost, in_incident
from .util import iso_ms, weekday
from .writers import cost_logged

_r, _rate = truth._r, truth._rate


def volumes(ds):
    reqs = ds.requests
    per_day = Counter(iso_ms(q["ts"])[:10] for q in reqs)
    per_hour = Counter(int(iso_ms(q["ts"])[11:13]) for q in reqs)
    users = Counter(q["user"]["user_id"] for q in reqs)
    top = users.most_common(5)
    weekend = [per_day[d] for d in per_day if weekday(C.START_MS + (int(d[8:10]) - 1) * C.DAY_MS) >= 5]
    weekdays = [per_day[d] for d in per_day if weekday(C.START_MS + (int(d[8:10]) - 1) * C.DAY_MS) < 5]
    return {
        "requests_per_day": dict(sorted(per_day.items())),
        "requests_per_utc_hour": {f"{h:02d}": per_hour[h] for h in range(24)},
        "weekend_vs_weekday_daily_ratio": _r(sum(weekend) / len(weekend) / (sum(weekdays) / len(weekdays)), 3),
        "by_endpoint": dict(sorted(Counter(q["endpoint"] for q in reqs).items())),
        "by_model": dict(sorted(Counter(q["model"] for q in reqs).items())),
        "by_user_tier_requests": dict(sorted(Counter(q["user"]["tier"] for q in reqs).items())),
        "by_jurisdiction_requests": dict(sorted(Counter(q["user"]["jurisdiction"] for q in reqs).items())),
        "distinct_users": len(users), "distinct_sessions": len({q["session_id"] for q in reqs}),
        "top_users_by_requests": [{"user_id": u, "requests": n} for u, n in top],
        "rows_without_consent": sum(not q["user"]["consent"] for q in reqs),
        "eu_rows_without_consent": sum(not q["user"]["consent"] and q["user"]["jurisdiction"] == "EU" for q in reqs),
        "prompt_versions": dict(sorted(Counter(f'{q["endpoint"]} {q["prompt_version"]}' for q in reqs).items())),
    }


def errors_and_caches(ds):
    reqs = ds.requests
    outside = [q for q in reqs if not in_incident(q)]
    errs = [q for q in reqs if q["status"] == "error"]
    search = [q for q in reqs if q["endpoint"] == "/search"]
    return {
        "errors_total": len(errs), "error_rate_total": _rate(len(errs), len(reqs)),
        "error_rate_outside_incident": _rate(sum(q["status"] == "error" for q in outside), len(outside)),
        "errors_by_type": dict(sorted(Counter(q["error"]["type"] for q in errs).items())),
        "client_retries": sum("retry" in q["tags"] for q in reqs),
        "search_cache_hits": sum(q["cache_hit"] for q in search),
        "search_cache_hit_rate": _rate(sum(q["cache_hit"] for q in search), len(search)),
        "cache_hits_other_endpoints": sum(q["cache_hit"] for q in reqs if q["endpoint"] != "/search"),
        "rows_with_cached_input_tokens": sum(q["cached_tokens"] > 0 for q in reqs),
    }


def costs(ds):
    reqs = ds.requests
    logged = [q for q in reqs if cost_logged(q)]
    by_model = {}
    for q in reqs:
        m = by_model.setdefault(q["model"], {"requests": 0, "input_tokens": 0, "cached_input_tokens": 0,
                                             "output_tokens": 0, "reasoning_tokens": 0, "cost_usd_list_price": 0.0})
        m["requests"] += 1
        m["input_tokens"] += q["prompt_tokens"]
        m["cached_input_tokens"] += q["cached_tokens"]
        m["output_tokens"] += q["completion_tokens"]
        m["reasoning_tokens"] += q["reasoning_tokens"] or 0
        c = cost(q)
        if c is None:
            m["cost_usd_list_price"] = None
        else:
            m["cost_usd_list_price"] += c
    for m in by_model.values():
        m["cost_usd_list_price"] = _r(m["cost_usd_list_price"], 4)
    per_day = Counter()
    for q in reqs:
        c = cost(q)
        if c is not None:
            per_day[iso_ms(q["ts"])[:10]] += c
    return {
        "prices_usd_per_million": {k: {"provider": v["provider"], "input": v["price"][0], "cached_input": v["price"][1],
                                       "output": v["price"][2]} if v["price"] else {"provider": v["provider"], "unpriced": True}
                                   for k, v in sorted(C.MODELS.items())},
        "cost_usd_rule": "(prompt_tokens - cached_tokens) * input + cached_tokens * cached_input + completion_tokens * output, / 1e6, rounded to 8 decimals",
        "cost_usd_present_rows": len(logged), "cost_usd_present_share": _rate(len(logged), len(reqs)),
        "cost_usd_absent_rule": "absent when app_build == '5.11.2' (old clients) or the model is acme-llama-70b-ft (no price)",
        "logged_cost_usd_sum": _r(sum(round(cost(q), 8) for q in logged), 4),
        "total_cost_usd_list_price_priced_models": _r(sum(c for c in (cost(q) for q in reqs) if c is not None), 4),
        "unpriced_requests": sum(C.MODELS[q["model"]]["price"] is None for q in reqs),
        "cost_usd_list_price_per_day": {d: _r(v, 4) for d, v in sorted(per_day.items())},
        "by_model": dict(sorted(by_model.items())),
    }


def other_sources(ds):
    ok = [c for c in ds.batch_calls if not c["failed"]]
    spans = ds.spans
    fb = Counter(f["feedback_type"] for f in ds.feedback)
    return {
        "batch": {"lines": len(ds.batch_lines), "failed_lines": sum(c["failed"] for c in ds.batch_calls),
                  "failed_line_note": "response is null: these lines carry no time at all",
                  "model": "gpt-4o-mini-2024-07-18", "prompt_tokens": sum(c["prompt_tokens"] for c in ok),
                  "completion_tokens": sum(c["completion_tokens"] for c in ok),
                  "cost_usd_list_price": _r(sum(c["cost_list"] for c in ok), 4),
                  "cost_usd_batch_price": _r(sum(c["cost_batch"] for c in ok), 4),
                  "finish_reason_length": sum(1 for line in ds.batch_lines if line["response"] and
                                              line["response"]["body"]["choices"][0]["finish_reason"] == "length")},
        "otel": {"spans": len(spans), "service": "kb-assistant",
                 "error_spans": sum(s["status"]["code"] == "STATUS_CODE_ERROR" for s in spans),
                 "by_model": dict(sorted(Counter(s["attributes"]["gen_ai.request.model"] for s in spans).items())),
                 "input_tokens": sum(s["attributes"].get("gen_ai.usage.input_tokens", 0) for s in spans),
                 "output_tokens": sum(s["attributes"].get("gen_ai.usage.output_tokens", 0) for s in spans),
                 "note": "parentSpanId points at the service's HTTP server span, which is not exported; no wrapper spans"},
        "feedback": {"rows": len(ds.feedback), "requests_with_feedback": len({f["request_id"] for f in ds.feedback}),
                     "share_of_requests": _rate(len({f["request_id"] for f in ds.feedback}), len(ds.requests)),
                     "by_type": dict(sorted(fb.items())),
                     "with_text": sum(f["feedback_text"] is not None for f in ds.feedback)},
    }


def ground_truth(ds, files):
    fb = truth._fb_index(ds)
    total = len(ds.requests) + len(ds.batch_lines) + len(ds.spans)
    return {
        "generator": {"seed": C.SEED, "command": "python sample_logs/generate.py"},
        "time_range": {"start": iso_ms(C.START_MS), "end": iso_ms(C.END_MS - 1), "timezone": "UTC"},
        "files": files,
        "model_calls_total": total,
        "model_calls_by_file": {"requests.jsonl.gz": len(ds.requests), "batch_output.jsonl": len(ds.batch_lines),
                                "otel_spans.jsonl": len(ds.spans)},
        "volumes": volumes(ds),
        "errors_and_caches": errors_and_caches(ds),
        "cost": costs(ds),
        "incident": truth.incident(ds, fb),
        "experiment": truth.experiment(ds, fb),
        "drift": truth.drift(ds),
        "runaway": truth.runaway(ds),
        "pii": truth.pii(ds),
        "injection": truth.injection(ds),
        "sources": other_sources(ds),
    }
