"""feedback.jsonl: explicit and implicit feedback on ~15% of the main app's
requests, driven by each request's latent success, errors and A/B variant."""

from . import config as C
from .outcomes import in_incident
from .util import iso_ms, lognormal, pick, rng

ON_SUCCESS = [("thumbs_up", 0.45), ("copied_response", 0.30), ("edited_output", 0.10),
              ("regenerated", 0.08), ("thumbs_down", 0.05), ("report", 0.02)]
ON_FAILURE = [("thumbs_down", 0.35), ("regenerated", 0.25), ("edited_output", 0.12),
              ("thumbs_up", 0.10), ("copied_response", 0.10), ("report", 0.08)]
ON_ERROR = [("thumbs_down", 0.45), ("regenerated", 0.50), ("report", 0.05)]

DOWN_CATEGORIES = [("incorrect", 0.40), ("unhelpful", 0.30), ("too_long", 0.15), ("off_topic", 0.10),
                   ("harmful", 0.05)]
REPORT_CATEGORIES = [("harmful", 0.50), ("incorrect", 0.20), ("off_topic", 0.30)]

TEXTS = {
    "thumbs_up": ["Exactly what I needed, thanks!", "Clear and quick.", "Solved my problem.",
                  "Great answer.", "Very helpful, saved me a call."],
    "incorrect": ["This is wrong, the refund policy is different.", "The steps don't match the app.",
                  "That's not what I asked and the numbers are wrong.", "The code fix doesn't compile."],
    "unhelpful": ["It just told me to contact support.", "Didn't answer my question.",
                  "Generic answer, not useful.", "Error again, nothing works today."],
    "too_long": ["Way too long, I just wanted a yes or no.", "Too much text.",
                 "Please keep it short, I'm on my phone."],
    "off_topic": ["This has nothing to do with my question.", "Answered a different question."],
    "harmful": ["This response is inappropriate.", "It shared something it shouldn't have."],
}


def _category(r, ftype, q):
    if ftype not in ("thumbs_down", "report"):
        return None
    if ftype == "report":
        return pick(r, REPORT_CATEGORIES)
    if q["status"] == "error":
        return "unhelpful"
    mix = DOWN_CATEGORIES
    if q["endpoint"] == "/support-bot" and q["prompt_version"] == C.SUPPORT_V2:
        mix = [("incorrect", 0.30), ("unhelpful", 0.20), ("too_long", 0.35), ("off_topic", 0.10),
               ("harmful", 0.05)]
    return pick(r, mix)


def _text(r, ftype, category):
    key = category or ftype
    if key not in TEXTS or r.random() > 0.35:
        return None
    return r.choice(TEXTS[key])


def build_feedback(reqs):
    r = rng("feedback")
    rows = []
    for q in reqs:
        if "runaway" in q["tags"]:
            continue
        p = C.FEEDBACK_P
        if q["status"] == "error":
            p = 0.45 if in_incident(q) else 0.30
        if r.random() >= p:
            continue
        if q["status"] == "error":
            ftype = pick(r, ON_ERROR)
        elif q["variant"] == "treatment" and r.random() < C.TREATMENT_THUMBS_UP_BOOST:
            ftype = "thumbs_up"
        else:
            ftype = pick(r, ON_SUCCESS if q["success_latent"] else ON_FAILURE)
        ts = q["ts"] + q["latency_ms"] + int(lognormal(r, 20000, 1.0)) + 500
        if ts >= C.END_MS:
            continue
        category = _category(r, ftype, q)
        rows.append(_row(q, ts, ftype, category, _text(r, ftype, category)))
        if ftype == "copied_response" and r.random() < 0.25:
            ts2 = ts + int(lognormal(r, 15000, 0.8))
            if ts2 < C.END_MS:
                rows.append(_row(q, ts2, "thumbs_up", None, _text(r, "thumbs_up", None)))
    rows.sort(key=lambda x: (x["timestamp"], x["request_id"], x["feedback_type"]))
    return rows


def _row(q, ts, ftype, category, text):
    return {"request_id": q["request_id"], "timestamp": iso_ms(ts), "user_id": q["user"]["user_id"],
            "feedback_type": ftype, "feedback_category": category, "feedback_text": text}
