"""Fixed parameters of the sample data set: time range, models, prices, endpoints
and every planted phenomenon. Changing a value here changes the data set (and the
ground truth written next to it)."""

import datetime as _dt

SEED = 20261101
UTC = _dt.UTC

START = _dt.datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
DAYS = 14
END = START + _dt.timedelta(days=DAYS)          # exclusive: 2026-11-15T00:00Z
START_MS = 1793491200000                          # START as epoch milliseconds
END_MS = START_MS + DAYS * 86400 * 1000
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS

# ---------------------------------------------------------------- traffic
FLAT_SESSIONS = 9950            # app sessions in requests.jsonl.gz (before planted extras)
N_USERS = 400
WEEKEND_FACTOR = 0.6            # weekends ~40% lower
TREND_GROWTH = 0.25             # volume grows ~25% from day 1 to day 14
# relative request intensity by UTC hour (EU afternoon + US morning overlap peaks)
HOURLY_PROFILE = [0.28, 0.24, 0.22, 0.22, 0.25, 0.32, 0.48, 0.75, 1.05, 1.35, 1.55, 1.65,
                  1.70, 1.85, 1.95, 1.90, 1.80, 1.60, 1.40, 1.20, 1.00, 0.80, 0.55, 0.38]

# share of SESSIONS per endpoint (sessions differ in length: requests end up roughly
# support-bot 35%, chat 27%, search 15%, code-review 12%, summarize 11%)
ENDPOINT_SHARES = [("/support-bot", 0.27), ("/chat", 0.18), ("/search", 0.21),
                   ("/code-review", 0.13), ("/summarize", 0.21)]

# mean turns per session (geometric) and think time between turns (seconds)
SESSION_TURNS = {"/support-bot": 3.2, "/chat": 3.4, "/search": 1.8,
                 "/code-review": 2.2, "/summarize": 1.4}

# model mix per endpoint (model key, weight); a session keeps its model
ENDPOINT_MODELS = {
    "/chat": [("claude-sonnet-4-5", 0.42), ("gpt-4o", 0.28), ("gpt-4o-mini", 0.25), ("o3-mini", 0.05)],
    "/search": [("gpt-4o-mini", 0.70), ("acme-llama-70b-ft", 0.30)],
    "/summarize": [("gpt-4o-mini", 0.50), ("claude-3-5-haiku-20241022", 0.35), ("acme-llama-70b-ft", 0.15)],
    "/code-review": [("o3-mini", 0.40), ("claude-sonnet-4-5", 0.40), ("gpt-4o", 0.20)],
    "/support-bot": [("claude-3-5-haiku-20241022", 0.50), ("gpt-4o-mini", 0.35), ("acme-llama-70b-ft", 0.15)],
}

TEMPERATURE = {"/chat": 0.7, "/search": 0.0, "/summarize": 0.3, "/code-review": 0.2,
               "/support-bot": 0.4}

# ---------------------------------------------------------------- models and prices
# USD per million tokens: input, cached input (read), output. Public list prices
# (OpenAI and Anthropic pricing pages; the same numbers genai-prices 0.2.3 holds).
MODELS = {
    "gpt-4o": dict(provider="openai", version="gpt-4o-2024-08-06",
                   price=(2.50, 1.25, 10.00), ttft=420, ttft_per_1k=35, tps=85, reasoning=False),
    "gpt-4o-mini": dict(provider="openai", version="gpt-4o-mini-2024-07-18",
                        price=(0.15, 0.075, 0.60), ttft=300, ttft_per_1k=20, tps=120, reasoning=False),
    "o3-mini": dict(provider="openai", version="o3-mini-2025-01-31",
                    price=(1.10, 0.55, 4.40), ttft=650, ttft_per_1k=30, tps=140, reasoning=True),
    "claude-sonnet-4-5": dict(provider="anthropic", version="claude-sonnet-4-5-20250929",
                              price=(3.00, 0.30, 15.00), ttft=650, ttft_per_1k=40, tps=62, reasoning=False),
    "claude-3-5-haiku-20241022": dict(provider="anthropic", version="claude-3-5-haiku-20241022",
                                      price=(0.80, 0.08, 4.00), ttft=450, ttft_per_1k=25, tps=95, reasoning=False),
    "acme-llama-70b-ft": dict(provider="self-hosted", version="acme-llama-70b-ft-2026-10-21",
                              price=None, ttft=280, ttft_per_1k=60, tps=42, reasoning=False),
}
BATCH_DISCOUNT = 0.5            # OpenAI Batch API bills 50% of the list price

# ---------------------------------------------------------------- prompt versions
PROMPT_VERSIONS = {"/chat": "chat-v3", "/search": "search-v2", "/summarize": "summarize-v1",
                   "/code-review": "code-review-v4"}
SUPPORT_V1, SUPPORT_V2 = "support-v1", "support-v2"
DRIFT_AT_MS = START_MS + 7 * DAY_MS                   # 2026-11-08T00:00Z
SUPPORT_TOPICS_BEFORE = [("billing", 0.30), ("login", 0.25), ("shipping", 0.25),
                         ("refund", 0.12), ("cancellation", 0.08)]
SUPPORT_TOPICS_AFTER = [("billing", 0.15), ("login", 0.12), ("shipping", 0.13),
                        ("refund", 0.35), ("cancellation", 0.25)]

# ---------------------------------------------------------------- A/B experiment
EXPERIMENT = "support-tone-2026-11"
EXPERIMENT_ENDPOINT = "/support-bot"
EXPERIMENT_START_MS = START_MS + 2 * DAY_MS           # 2026-11-03T00:00Z to the end
SUCCESS_P = {"control": 0.70, "treatment": 0.76}      # P(success | status ok)
TREATMENT_THUMBS_UP_BOOST = 0.10                      # extra share of feedback that is thumbs_up
ENDPOINT_SUCCESS_P = {"/chat": 0.78, "/search": 0.72, "/summarize": 0.86,
                      "/code-review": 0.66, "/support-bot": 0.70}
SUCCESS_LOGGED_P = {"/support-bot": 0.85, "/code-review": 0.70, "/chat": 0.45,
                    "/summarize": 0.50, "/search": 0.40}

# ---------------------------------------------------------------- incident
INCIDENT_START_MS = START_MS + 9 * DAY_MS + 14 * HOUR_MS + 5 * 60 * 1000   # 2026-11-10T14:05Z
INCIDENT_END_MS = START_MS + 9 * DAY_MS + 14 * HOUR_MS + 47 * 60 * 1000    # 2026-11-10T14:47Z
INCIDENT_MODEL = "claude-sonnet-4-5"
INCIDENT_ENDPOINT = "/chat"
INCIDENT_ERROR_P = 0.40
INCIDENT_EXTRA_SESSIONS = 18      # a burst of /chat sessions that lands in the window
INCIDENT_LATENCY_FACTOR = 3.3

# ---------------------------------------------------------------- errors and caches
BASE_ERROR_P = 0.015
ERROR_MIX = [("rate_limit", 0.40), ("timeout", 0.25), ("api_error", 0.20),
             ("validation", 0.10), ("content_filter", 0.05)]
RETRY_P = 0.6                     # client retries rate_limit / api_error once or twice
SEARCH_CACHE_HIT_P = 0.08

# ---------------------------------------------------------------- runaway user
RUNAWAY_START_MS = START_MS + 11 * DAY_MS + 2 * HOUR_MS + 7 * 60 * 1000 + 13000  # 2026-11-12T02:07:13Z
RUNAWAY_HOUR_END_MS = START_MS + 11 * DAY_MS + 3 * HOUR_MS
RUNAWAY_MODEL = "gpt-4o"
RUNAWAY_ENDPOINT = "/chat"

# ---------------------------------------------------------------- PII / injection
PII_PROMPT_P = 0.030              # share of eligible prompts that get planted PII
HARD_NEGATIVE_P = 0.015           # share that get look-alikes that are NOT PII
INJECTION_P = 0.004               # share of prompts replaced by injection attempts
OFFENDER_ATTEMPTS = 34            # attempts by the one repeat-offender user
INJECTION_LEAKS = 3               # attempts where the model leaked its system prompt

# ---------------------------------------------------------------- other sources
BATCH_PER_NIGHT = 185             # nightly batch job (batch_output.jsonl)
BATCH_FAIL_P = 0.01
OTEL_SESSIONS = 700               # kb-assistant service (otel_spans.jsonl)
FEEDBACK_P = 0.15
COST_LOGGED_BUILDS = {"5.11.2": False, "5.12.0": True, "5.12.1": True}
