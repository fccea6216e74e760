"""Traffic for the main app (requests.jsonl.gz): session start times with daily
and weekly cycles and a gentle trend, users, endpoints, models, and the prompt /
response text of every turn."""

import bisect
import math

from . import config as C
from . import text_chat, text_code, text_docs, text_search, text_support
from .users import app_build
from .util import day_index, geometric, hexid, lognormal, pick, rng, weekday


def hour_weights():
    weights = []
    for h in range(C.DAYS * 24):
        ms = C.START_MS + h * C.HOUR_MS
        w = C.HOURLY_PROFILE[h % 24]
        if weekday(ms) >= 5:
            w *= C.WEEKEND_FACTOR
        w *= 1.0 + C.TREND_GROWTH * (h / 24) / (C.DAYS - 1)
        weights.append(w)
    return weights


def session_starts(r, n_sessions):
    weights = hour_weights()
    total = sum(weights)
    starts = []
    for h, w in enumerate(weights):
        expected = n_sessions * w / total
        n = max(0, int(round(expected + r.gauss(0.0, math.sqrt(expected)))))
        base = C.START_MS + h * C.HOUR_MS
        starts += [base + r.randrange(C.HOUR_MS) for _ in range(n)]
    starts.sort()
    return starts


class UserPicker:
    def __init__(self, users):
        self.users = users
        self.cum = []
        acc = 0.0
        for u in users:
            acc += u["activity"]
            self.cum.append(acc)

    def __call__(self, r):
        x = r.random() * self.cum[-1]
        return self.users[bisect.bisect_right(self.cum, x)]


def support_version(ms):
    return C.SUPPORT_V1 if ms < C.DRIFT_AT_MS else C.SUPPORT_V2


def variant_for(user_id, endpoint, ms):
    """Deterministic 50/50 assignment by user (sha256 of experiment:user_id, even -> control)."""
    if endpoint != C.EXPERIMENT_ENDPOINT or ms < C.EXPERIMENT_START_MS:
        return None
    import hashlib
    h = int(hashlib.sha256(f"{C.EXPERIMENT}:{user_id}".encode()).hexdigest(), 16)
    return "treatment" if h % 2 else "control"


def new_request(session, ms, turn):
    return dict(ts=ms, user=session["user"], session_id=session["session_id"],
                endpoint=session["endpoint"], model=session["model"], turn=turn,
                app_build=session["app_build"], source="flat", tags=[], pii=[])


def fill_content(r, req, state, search_pool):
    """Write system_prompt, prompt, response, prompt_version, variant, topic."""
    ep, ms = req["endpoint"], req["ts"]
    req["variant"] = variant_for(req["user"]["user_id"], ep, ms)
    req["experiment"] = C.EXPERIMENT if req["variant"] else None
    req["cache_hit"] = False
    if ep == "/support-bot":
        version = support_version(ms)
        topic = state.setdefault("topic", pick(r, C.SUPPORT_TOPICS_BEFORE if version == C.SUPPORT_V1
                                               else C.SUPPORT_TOPICS_AFTER))
        req.update(prompt_version=version, topic=topic,
                   system_prompt=text_support.system_prompt(version, req["variant"]),
                   prompt=text_support.question(r, topic, follow_up=req["turn"] > 0),
                   response=text_support.answer(r, topic, version, req["variant"]))
    elif ep == "/chat":
        topic = state.setdefault("topic", r.choice(text_chat.TOPICS))
        req.update(prompt_version=C.PROMPT_VERSIONS[ep], topic=topic, system_prompt=text_chat.SYSTEM,
                   prompt=text_chat.prompt(r, topic, req["turn"]),
                   response=text_chat.answer(r, topic, long=r.random() < 0.25))
    elif ep == "/search":
        req.update(prompt_version=C.PROMPT_VERSIONS[ep], system_prompt=text_search.SYSTEM)
        if search_pool and r.random() < C.SEARCH_CACHE_HIT_P:
            prev = search_pool[-1 - r.randrange(min(len(search_pool), 200))]
            req.update(topic=prev["topic"], prompt=prev["prompt"], response=prev["response"],
                       cache_hit=True)
        else:
            tq = text_search.pick_query(r)
            prompt, sources = text_search.prompt(r, tq)
            req.update(topic=tq[0], prompt=prompt, response=text_search.answer(r, tq, sources))
            search_pool.append(req)
    elif ep == "/code-review":
        if req["turn"] == 0 or "issue" not in state:
            state["issue"], prompt = text_code.prompt(r)
        else:
            prompt = text_code.follow_up(r)
        req.update(prompt_version=C.PROMPT_VERSIONS[ep], topic=state["issue"],
                   system_prompt=text_code.SYSTEM, prompt=prompt,
                   response=text_code.review(r, state["issue"], detailed=r.random() < 0.4))
    else:  # /summarize
        kind, prompt = text_docs.prompt(r)
        req.update(prompt_version=C.PROMPT_VERSIONS[ep], topic=kind, system_prompt=text_docs.SYSTEM,
                   prompt=prompt, response=text_docs.summary(r, kind, action=r.random() < 0.4))
    if ep in ("/support-bot", "/chat", "/code-review"):
        req["history_chars"] = state.get("history_chars", 0)
        state["history_chars"] = req["history_chars"] + len(req["prompt"]) + len(req["response"])
    else:
        req["history_chars"] = 0


def make_session(r, user, endpoint, start_ms, model=None):
    day = day_index(start_ms)
    return dict(user=user, endpoint=endpoint, start=start_ms,
                session_id="sess_" + hexid(r, 16),
                model=model or pick(r, C.ENDPOINT_MODELS[endpoint]),
                app_build=app_build(user, day, r),
                turns=geometric(r, C.SESSION_TURNS[endpoint]))


def session_requests(r, session, search_pool):
    reqs, state, ms = [], {}, session["start"]
    for turn in range(session["turns"]):
        if ms >= C.END_MS:
            break
        req = new_request(session, ms, turn)
        fill_content(r, req, state, search_pool)
        reqs.append(req)
        ms += int(lognormal(r, 75000, 0.6)) + len(req["response"]) * 15
    return reqs


def build_flat_traffic(users):
    r = rng("traffic")
    pick_user = UserPicker(users)
    sessions = []
    for start in session_starts(r, C.FLAT_SESSIONS):
        user = pick_user(r)
        endpoint = pick(r, sorted(user["prefs"].items()))
        sessions.append(make_session(r, user, endpoint, start))
    # a burst of /chat traffic on claude-sonnet-4-5 during the incident (a launch email went out)
    ri = rng("incident-burst")
    for _ in range(C.INCIDENT_EXTRA_SESSIONS):
        start = C.INCIDENT_START_MS - 10 * 60 * 1000 + ri.randrange(50 * 60 * 1000)
        sessions.append(make_session(ri, pick_user(ri), C.INCIDENT_ENDPOINT, start, C.INCIDENT_MODEL))
    sessions.sort(key=lambda s: (s["start"], s["session_id"]))
    search_pool, reqs = [], []
    for s in sessions:
        reqs += session_requests(r, s, search_pool)
    return reqs
