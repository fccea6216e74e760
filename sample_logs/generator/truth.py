"""Ground truth: the facts of every planted phenomenon, computed from the
generated rows themselves (so they hold exactly for the files written)."""

from collections import Counter

from . import config as C
from .outcomes import cost, in_incident
from .phenomena import INJECTIONS
from .util import iso_ms, percentile


def _r(x, n=4):
    return None if x is None else round(x, n)


def _rate(num, den):
    return _r(num / den) if den else None


def _fb_index(ds):
    idx = {}
    for f in ds.feedback:
        idx.setdefault(f["request_id"], []).append(f["feedback_type"])
    return idx


def incident(ds, fb):
    rows = [q for q in ds.requests if q["model"] == C.INCIDENT_MODEL and q["endpoint"] == C.INCIDENT_ENDPOINT]
    inside = [q for q in rows if in_incident(q)]
    outside = [q for q in rows if not in_incident(q)]
    others = [q for q in ds.requests if q["endpoint"] == C.INCIDENT_ENDPOINT and q["model"] != C.INCIDENT_MODEL
              and C.INCIDENT_START_MS <= q["ts"] < C.INCIDENT_END_MS]
    errs = [q for q in inside if q["status"] == "error"]
    p95_in = percentile([q["latency_ms"] for q in inside], 0.95)
    p95_out = percentile([q["latency_ms"] for q in outside], 0.95)
    p95_in_ok = percentile([q["latency_ms"] for q in inside if q["status"] == "ok"], 0.95)
    p95_out_ok = percentile([q["latency_ms"] for q in outside if q["status"] == "ok"], 0.95)

    def down(qs):
        return sum(fb.get(q["request_id"], []).count("thumbs_down") for q in qs)

    return {
        "start": iso_ms(C.INCIDENT_START_MS), "end": iso_ms(C.INCIDENT_END_MS),
        "provider": "anthropic", "model": C.INCIDENT_MODEL, "endpoint": C.INCIDENT_ENDPOINT,
        "window_rule": "start <= timestamp < end, model and endpoint as given",
        "planted_error_probability": C.INCIDENT_ERROR_P,
        "planted_latency_factor_median": C.INCIDENT_LATENCY_FACTOR,
        "extra_sessions_burst": {"sessions": C.INCIDENT_EXTRA_SESSIONS, "model": C.INCIDENT_MODEL,
                                 "starts_between": [iso_ms(C.INCIDENT_START_MS - 600000), iso_ms(C.INCIDENT_START_MS + 2400000)]},
        "requests_in_window": len(inside), "errors_in_window": len(errs),
        "error_rate_in_window": _rate(len(errs), len(inside)),
        "error_types_in_window": dict(sorted(Counter(q["error"]["type"] for q in errs).items())),
        "client_retries_in_window": sum(1 for q in inside if "retry" in q["tags"]),
        "error_rate_same_model_endpoint_outside": _rate(sum(q["status"] == "error" for q in outside), len(outside)),
        "p95_latency_ms_in_window": _r(p95_in, 1), "p95_latency_ms_outside": _r(p95_out, 1),
        "p95_ratio": _r(p95_in / p95_out, 2),
        "p95_latency_ms_ok_only_in_window": _r(p95_in_ok, 1), "p95_latency_ms_ok_only_outside": _r(p95_out_ok, 1),
        "p95_ratio_ok_only": _r(p95_in_ok / p95_out_ok, 2),
        "other_chat_models_in_window": {"requests": len(others),
                                        "errors": sum(q["status"] == "error" for q in others)},
        "thumbs_down_per_request_in_window": _rate(down(inside), len(inside)),
        "thumbs_down_per_request_outside": _rate(down(outside), len(outside)),
        "error_request_ids": [q["request_id"] for q in errs],
    }


def experiment(ds, fb):
    arms = {}
    for v in ("control", "treatment"):
        qs = [q for q in ds.requests if q["variant"] == v]
        logged = [q for q in qs if q["success_logged"]]
        ok = [q for q in qs if q["status"] == "ok"]
        priced = [q for q in qs if C.MODELS[q["model"]]["price"] is not None]
        ups = sum(fb.get(q["request_id"], []).count("thumbs_up") for q in qs)
        arms[v] = {
            "users": len({q["user"]["user_id"] for q in qs}), "requests": len(qs),
            "requests_with_success_logged": len(logged),
            "success_rate_logged": _rate(sum(q["success_latent"] for q in logged), len(logged)),
            "thumbs_up": ups, "thumbs_up_per_request": _rate(ups, len(qs)),
            "feedback_rows": sum(len(fb.get(q["request_id"], [])) for q in qs),
            "mean_latency_ms_ok": _r(sum(q["latency_ms"] for q in ok) / len(ok), 1),
            "mean_cost_usd_priced_models": _r(sum(cost(q) for q in priced) / len(priced), 8),
            "mean_completion_tokens_ok": _r(sum(q["completion_tokens"] for q in ok) / len(ok), 1),
        }
    diff = arms["treatment"]["success_rate_logged"] - arms["control"]["success_rate_logged"]
    return {
        "name": C.EXPERIMENT, "endpoint": C.EXPERIMENT_ENDPOINT, "variants": ["control", "treatment"],
        "start": iso_ms(C.EXPERIMENT_START_MS), "end": iso_ms(C.END_MS - 1),
        "assignment": "by user: int(sha256('support-tone-2026-11:' + user_id).hexdigest(), 16) % 2 == 1 -> treatment",
        "true_success_probability_given_ok": C.SUCCESS_P,
        "true_effect_pp": round(100 * (C.SUCCESS_P["treatment"] - C.SUCCESS_P["control"]), 1),
        "treatment_text": "system prompt gains a tone paragraph; answers gain one empathetic or reassuring sentence, so output tokens, latency and cost are somewhat higher",
        "treatment_thumbs_up_boost": C.TREATMENT_THUMBS_UP_BOOST,
        "note": "success is False for every error and injection row; the observed rates below include them",
        "observed": arms, "observed_success_diff_pp": round(100 * diff, 2),
    }


def drift(ds):
    rows = [q for q in ds.requests if q["endpoint"] == "/support-bot"]
    out = {"endpoint": "/support-bot", "change_at": iso_ms(C.DRIFT_AT_MS),
           "prompt_version_before": C.SUPPORT_V1, "prompt_version_after": C.SUPPORT_V2,
           "topic_mix_before_true": dict(C.SUPPORT_TOPICS_BEFORE),
           "topic_mix_after_true": dict(C.SUPPORT_TOPICS_AFTER),
           "note": "a session keeps the topic drawn at its start; topics are of non-injection rows"}
    for name, part in (("before", [q for q in rows if q["ts"] < C.DRIFT_AT_MS]),
                       ("after", [q for q in rows if q["ts"] >= C.DRIFT_AT_MS])):
        ok = [q for q in part if q["status"] == "ok" and "injection" not in q["tags"]]
        topics = Counter(q["topic"] for q in part if "injection" not in q["tags"])
        out[name] = {"requests": len(part), "topic_counts": dict(sorted(topics.items())),
                     "mean_response_chars_ok": _r(sum(len(q["response"]) for q in ok) / len(ok), 1),
                     "mean_completion_tokens_ok": _r(sum(q["completion_tokens"] for q in ok) / len(ok), 1)}
    return out


def runaway(ds):
    qs = [q for q in ds.requests if "runaway" in q["tags"]]
    user = ds.runaway_user["user_id"]
    hour_costs = Counter()
    for q in ds.requests:
        if C.MODELS[q["model"]]["price"] is not None:
            hour_costs[q["ts"] // C.HOUR_MS] += cost(q)
    hours = sorted(hour_costs.values())
    return {
        "user_id": user, "session_id": qs[0]["session_id"], "model": C.RUNAWAY_MODEL, "endpoint": C.RUNAWAY_ENDPOINT,
        "date": "2026-11-12", "hour_start": iso_ms(C.RUNAWAY_START_MS // C.HOUR_MS * C.HOUR_MS),
        "hour_end": iso_ms(C.RUNAWAY_HOUR_END_MS), "first_request": iso_ms(qs[0]["ts"]), "last_request": iso_ms(qs[-1]["ts"]),
        "requests": len(qs), "prompt_tokens": sum(q["prompt_tokens"] for q in qs),
        "completion_tokens": sum(q["completion_tokens"] for q in qs),
        "cost_usd_list_price": _r(sum(cost(q) for q in qs), 4),
        "user_requests_outside_loop": sum(1 for q in ds.requests if q["user"]["user_id"] == user and "runaway" not in q["tags"]),
        "all_traffic_cost_that_hour_usd": _r(hour_costs[(C.RUNAWAY_START_MS // C.HOUR_MS)], 4),
        "median_hourly_cost_usd_all_hours": _r(percentile(hours, 0.5), 4),
        "request_ids": [q["request_id"] for q in qs],
    }


def _origin_key(q):
    return id(q.get("_origin", q))


def pii(ds):
    by_origin = {}
    for rec in ds.pii:
        by_origin.setdefault(id(rec["_req"]), []).append(rec)
    occ, neg = [], []
    neg_by_origin = {}
    for rec in ds.pii_negatives:
        neg_by_origin.setdefault(id(rec["_req"]), []).append(rec)
    for q in ds.requests:
        for rec in by_origin.get(_origin_key(q), []):
            text = q["prompt"] if rec["where"] == "prompt" else (q["response"] or "")
            if rec["value"] in text:
                item = {"request_id": q["request_id"], "type": rec["type"], "where": rec["where"], "value": rec["value"]}
                if "format" in rec:
                    item["format"] = rec["format"]
                occ.append(item)
        for rec in neg_by_origin.get(_origin_key(q), []):
            neg.append({"request_id": q["request_id"], "type": rec["type"], "value": rec["value"]})
    prompts = {o["request_id"] for o in occ if o["where"] == "prompt"}
    def count(items, where=None):
        return dict(sorted(Counter(o["type"] for o in items if where in (None, o.get("where"))).items()))
    return {
        "scope": "requests.jsonl.gz only (prompt and response fields); no PII was planted in the other files",
        "prompts_with_pii": len(prompts), "share_of_prompts": _rate(len(prompts), len(ds.requests)),
        "counts_in_prompts": count(occ, "prompt"), "counts_in_responses": count(occ, "response"),
        "phone_formats": dict(sorted(Counter(o["format"] for o in occ if o["type"] == "phone" and o["where"] == "prompt").items())),
        "occurrences": occ,
        "hard_negatives": {"counts": count(neg), "prompts": len({n["request_id"] for n in neg}), "items": neg},
    }


def injection(ds):
    qs = [q for q in ds.requests if "injection" in q["tags"]]
    by_tech = {}
    for q in qs:
        by_tech.setdefault(q["injection"], []).append(q["request_id"])
    off = ds.offender["user_id"]
    return {
        "total": len(qs), "share_of_prompts": _rate(len(qs), len(ds.requests)),
        "techniques": sorted(list(INJECTIONS) + ["indirect"]),
        "counts": {k: len(v) for k, v in sorted(by_tech.items())},
        "request_ids": {k: v for k, v in sorted(by_tech.items())},
        "repeat_offender": {"user_id": off, "attempts": sum(q["user"]["user_id"] == off for q in qs)},
        "system_prompt_leaked_request_ids": [q["request_id"] for q in ds.requests if "leak" in q["tags"]],
        "benign_lookalike_request_ids": [q["request_id"] for q in ds.requests if "benign_lookalike" in q["tags"]],
    }
