"""README.md for sample_logs/, rendered from the ground truth so the two never disagree."""


def _table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _ids(ids, limit=None):
    shown = ids if limit is None else ids[:limit]
    text = ", ".join(f"`{i}`" for i in shown)
    return text + (f" (and {len(ids) - limit} more in ground_truth.json)" if limit and len(ids) > limit else "")


def _files(gt):
    desc = {"requests.jsonl.gz": "main app, flat app log (gzip)",
            "batch_output.jsonl": "nightly digest job, OpenAI Batch API output lines",
            "otel_spans.jsonl": "kb-assistant, one OpenTelemetry GenAI span per line",
            "feedback.jsonl": "feedback on requests in requests.jsonl.gz"}
    rows = [(f"`{k}`", desc[k], f'{v["rows"]:,}', f'{v["bytes_uncompressed"]:,}', f'`{v["sha256_uncompressed"][:16]}…`')
            for k, v in gt["files"].items()]
    return _table(["file", "what", "lines", "bytes (uncompressed)", "sha256 of uncompressed content"], rows)


def _volumes(gt):
    v = gt["volumes"]
    days = _table(["day (UTC)", "requests"], [(d, n) for d, n in v["requests_per_day"].items()])
    return f"""Model calls: **{gt['model_calls_total']:,}** in total ({', '.join(f'{k}: {n:,}' for k, n in gt['model_calls_by_file'].items())}).

Main app by endpoint: {', '.join(f'`{k}` {n:,}' for k, n in v['by_endpoint'].items())}.
By model: {', '.join(f'`{k}` {n:,}' for k, n in v['by_model'].items())}.
Users: {v['distinct_users']} distinct in the main app (heavy-tailed; top user {v['top_users_by_requests'][0]['user_id']} with {v['top_users_by_requests'][0]['requests']:,} requests), {v['distinct_sessions']:,} sessions.
Weekend days carry {v['weekend_vs_weekday_daily_ratio']:.2f}x the requests of a weekday; traffic peaks 13-16 UTC and grows ~25% over the two weeks.
Rows from users without consent: {v['rows_without_consent']:,} ({v['eu_rows_without_consent']:,} of them EU).

{days}"""


def _incident(i):
    return f"""**{i['start']} to {i['end']}** (start inclusive, end exclusive), provider `{i['provider']}`, model `{i['model']}`, endpoint `{i['endpoint']}` only.

| fact | value |
|---|---|
| requests of that model/endpoint in the window | {i['requests_in_window']} (incl. {i['client_retries_in_window']} client retries) |
| errors in the window | {i['errors_in_window']} ({100 * i['error_rate_in_window']:.1f}%): {', '.join(f'{k} {n}' for k, n in i['error_types_in_window'].items())} |
| error rate of the same model/endpoint outside the window | {100 * i['error_rate_same_model_endpoint_outside']:.2f}% |
| P95 latency, all rows, in / outside | {i['p95_latency_ms_in_window']:,.0f} ms / {i['p95_latency_ms_outside']:,.0f} ms (**{i['p95_ratio']}x**) |
| P95 latency, ok rows, in / outside | {i['p95_latency_ms_ok_only_in_window']:,.0f} ms / {i['p95_latency_ms_ok_only_outside']:,.0f} ms ({i['p95_ratio_ok_only']}x) |
| other `/chat` models in the window | {i['other_chat_models_in_window']['requests']} requests, {i['other_chat_models_in_window']['errors']} errors |
| thumbs_down per request, in / outside | {i['thumbs_down_per_request_in_window']} / {i['thumbs_down_per_request_outside']} |

Errors carry the providers' real messages (`429 rate_limit_error`, `529 overloaded_error`); successful calls in the
window are slowed by a factor with median {i['planted_latency_factor_median']}. A burst of {i['extra_sessions_burst']['sessions']} extra
`/chat` sessions on this model starts between {i['extra_sessions_burst']['starts_between'][0]} and {i['extra_sessions_burst']['starts_between'][1]},
and the client retries failed calls (new request ids, same session and prompt). Error request ids: `incident.error_request_ids`."""


def _experiment(e):
    c, t = e["observed"]["control"], e["observed"]["treatment"]
    rows = [(k, c[k], t[k]) for k in ("users", "requests", "requests_with_success_logged", "success_rate_logged",
                                      "thumbs_up", "thumbs_up_per_request", "mean_latency_ms_ok",
                                      "mean_cost_usd_priced_models", "mean_completion_tokens_ok")]
    return f"""`{e['name']}` on `{e['endpoint']}`, variants `control` / `treatment`, from {e['start']} to the end.
Rows outside it (other endpoints, or `/support-bot` before day 3) have `experiment` and `variant` null.
Assignment is 50/50 by user and sticky: {e['assignment']}.

True effect: P(success | ok) is {e['true_success_probability_given_ok']['control']} for control and
{e['true_success_probability_given_ok']['treatment']} for treatment (**+{e['true_effect_pp']} pp**); success is False on
error and injection rows, and logged for about 85% of `/support-bot` rows. Treatment: {e['treatment_text']};
and on its ok rows {int(100 * e['treatment_thumbs_up_boost'])}% of feedback events are thumbs_up whatever the outcome.

{_table(['observed', 'control', 'treatment'], rows)}

Observed success difference: **{e['observed_success_diff_pp']} pp**."""


def _drift(d):
    b, a = d["before"], d["after"]
    topics = sorted(d["topic_mix_before_true"])
    rows = [(t, d["topic_mix_before_true"][t], b["topic_counts"].get(t, 0), d["topic_mix_after_true"][t],
             a["topic_counts"].get(t, 0)) for t in topics]
    return f"""`{d['endpoint']}` switches from `{d['prompt_version_before']}` to `{d['prompt_version_after']}` at **{d['change_at']}**
(new system prompt). From then on the topic mix shifts to refunds and cancellations and answers become longer,
markdown-structured (greeting, numbered steps with bold UI paths, a "Next steps" line).

{_table(['topic', 'P before', 'rows before', 'P after', 'rows after'], rows)}

Mean response length (ok rows): {b['mean_response_chars_ok']} chars / {b['mean_completion_tokens_ok']} tokens before,
{a['mean_response_chars_ok']} chars / {a['mean_completion_tokens_ok']} tokens after. No other endpoint changes prompt version."""


def _runaway(r):
    return f"""User `{r['user_id']}` (session `{r['session_id']}`) runs an agent stuck in a loop on {r['date']}:
**{r['requests']} `{r['model']}` requests on `{r['endpoint']}` between {r['first_request']} and {r['last_request']}**
(hour bucket {r['hour_start']} to {r['hour_end']}), {r['prompt_tokens']:,} input tokens (6k-14.5k each, no prompt-cache hits)
and {r['completion_tokens']:,} output tokens, **${r['cost_usd_list_price']:.2f}** at list price. All traffic in that hour
cost ${r['all_traffic_cost_that_hour_usd']:.2f}; the median hour costs ${r['median_hourly_cost_usd_all_hours']:.2f}.
The same user sent {r['user_requests_outside_loop']} ordinary requests at other times."""


def _pii(p):
    types = sorted(set(p["counts_in_prompts"]) | set(p["counts_in_responses"]))
    rows = [(t, p["counts_in_prompts"].get(t, 0), p["counts_in_responses"].get(t, 0)) for t in types]
    neg = p["hard_negatives"]
    return f"""Scope: {p['scope']}. **{p['prompts_with_pii']} prompts** ({100 * p['share_of_prompts']:.2f}%) carry planted PII;
a few support answers echo the customer's email. Counts are occurrences (a retried request repeats its prompt, and is counted again).

{_table(['entity type', 'in prompts', 'in responses'], rows)}

Phones: {p['phone_formats'].get('us', 0)} US formats (`(415) 555-0123`, `+1 212 555 0143`, ...) and
{p['phone_formats'].get('intl', 0)} international (+44, +49, +33, +91, +55, +34). Credit cards pass Luhn (Visa, Mastercard,
Amex; spaced, dashed or plain); SSNs are in the valid range (area 001-899 except 666, group 01-99, serial 0001-9999);
IBANs (DE, GB, FR, NL, ES) pass mod-97; AWS key ids are `AKIA` + 16 base32 characters, only in `/code-review`;
OpenAI keys are `sk-...T3BlbkFJ...` and `sk-proj-...`, only in `/code-review`. IPv4 includes private 10.x addresses.

Hard negatives that are **not** PII ({neg['prompts']} prompts): {', '.join(f'{k} {n}' for k, n in neg['counts'].items())}.
(`card_number_bad_luhn` fails Luhn, `ssn_invalid_range` uses area 000, 666 or 900-999, `iban_bad_checksum` fails mod-97,
version strings like `2026.11.3.1842` are not IP addresses.) Every occurrence, with request id and value, is in
`ground_truth.json` under `pii.occurrences` and `pii.hard_negatives.items`."""


def _injection(j):
    rows = [(k, n) for k, n in j["counts"].items()]
    return f"""**{j['total']} prompts** ({100 * j['share_of_prompts']:.2f}%) are injection attempts:

{_table(['technique', 'rows'], rows)}

`indirect` hides an instruction in an HTML comment inside a `/summarize` document. Repeat offender:
**`{j['repeat_offender']['user_id']}`** with {j['repeat_offender']['attempts']} attempts over five evenings. Attempts that
made the model print its system prompt: {_ids(j['system_prompt_leaked_request_ids'])}. Benign look-alikes (not attacks: "ignore my
previous message", a harmless base64 string, a child named Dan): {_ids(j['benign_lookalike_request_ids'])}.
Attack request ids by technique are in `ground_truth.json` under `injection.request_ids`."""


def _errors(e):
    return f"""Errors: {e['errors_total']} rows ({100 * e['error_rate_total']:.2f}%; {100 * e['error_rate_outside_incident']:.2f}% outside the incident):
{', '.join(f'{k} {n}' for k, n in e['errors_by_type'].items())}. {e['client_retries']} rows are client retries of a
rate-limited or overloaded call. Response-cache hits: {e['search_cache_hits']} `/search` rows
({100 * e['search_cache_hit_rate']:.1f}% of `/search`), none elsewhere; they repeat an earlier prompt and response and have
0 tokens, 4-35 ms latency and `cost_usd` 0. Provider prompt caching (`cached_tokens` > 0): {e['rows_with_cached_input_tokens']:,} rows."""


def _cost(c):
    rows = []
    for model, p in c["prices_usd_per_million"].items():
        m = c["by_model"].get(model, {})
        price = "no public price" if p.get("unpriced") else f"{p['input']} / {p['cached_input']} / {p['output']}"
        spend = "unpriced" if m.get("cost_usd_list_price") is None else f"${m['cost_usd_list_price']:.2f}"
        rows.append((f"`{model}`", p["provider"], price, f"{m.get('requests', 0):,}", f"{m.get('input_tokens', 0):,}",
                     f"{m.get('output_tokens', 0):,}", spend))
    days = ", ".join(f"{d[5:]} ${v:.2f}" for d, v in c["cost_usd_list_price_per_day"].items())
    return f"""{_table(['model', 'provider', 'USD per 1M: input / cached input / output', 'requests', 'input tokens', 'output tokens', 'cost at list price'], rows)}

`cost_usd` = {c['cost_usd_rule']}. It is present on {c['cost_usd_present_rows']:,} rows
({100 * c['cost_usd_present_share']:.1f}%) and {c['cost_usd_absent_rule']}; {c['unpriced_requests']:,} rows use the unpriced
self-hosted model. Sum of logged `cost_usd`: ${c['logged_cost_usd_sum']:.2f}; all priced rows at list price:
${c['total_cost_usd_list_price_priced_models']:.2f}. Per day: {days}."""


def _sources(s):
    b, o, f = s["batch"], s["otel"], s["feedback"]
    return f"""- **batch_output.jsonl**: {b['lines']:,} lines, one batch per night submitted at ~01:00 UTC, model `{b['model']}`;
  {b['failed_lines']} failed lines (`"response": null, "error": {{"code": "request_timeout", ...}}`: {b['failed_line_note']});
  {b['finish_reason_length']} answers stopped at `max_tokens` (`finish_reason: "length"`). Tokens {b['prompt_tokens']:,} in /
  {b['completion_tokens']:,} out; ${b['cost_usd_list_price']:.4f} at list price, **${b['cost_usd_batch_price']:.4f} at the 50% Batch API price**.
- **otel_spans.jsonl**: {o['spans']:,} spans from service `{o['service']}` ({', '.join(f'`{k}` {n}' for k, n in o['by_model'].items())}),
  {o['error_spans']} with `STATUS_CODE_ERROR` and `error.type`; {o['input_tokens']:,} input / {o['output_tokens']:,} output tokens.
  {o['note']}. `gen_ai.usage.input_tokens` includes cache reads. Users are employees (`emp-NNNNN`), not app users.
- **feedback.jsonl**: {f['rows']:,} rows on {f['requests_with_feedback']:,} requests ({100 * f['share_of_requests']:.1f}%):
  {', '.join(f'{k} {n}' for k, n in f['by_type'].items())}; {f['with_text']} with text. Every `request_id` exists in
  requests.jsonl.gz and every feedback timestamp is after its request."""


FIELD_NOTES = """- `timestamp` is when the request started (UTC, milliseconds, `Z`); files are sorted by it.
- `prompt_tokens` counts all input tokens including `cached_tokens` and the conversation history the app resent
  (turns after the first in `/chat`, `/support-bot` and `/code-review` include earlier turns); `completion_tokens`
  includes `reasoning_tokens`, which is present only for `o3-mini`.
- `model` is the model name the app asked for; `version` is the dated model that answered.
- Error rows: `status` "error", `error` = `{"type", "message"}`, `response` null, all token counts 0 (so
  `cost_usd` is 0 when present), `ttft_ms` null.
- `success` is omitted when the app did not log it (~40% of rows); `cost_usd` is omitted on ~30% (see Cost).
- `region` and `app_build` are app-specific fields with no canonical column (they belong in `extra`).
- `ttft_ms` < `latency_ms` on every ok row; generation speed, visible output tokens / (latency - ttft), is about
  30-150 tokens/s except during the incident. `o3-mini` reasoning happens before the first token, so its TTFT is long.
- Client retries are separate rows: a new `request_id`, the same session, prompt and user, a later `timestamp`.
- The runaway-loop rows (section 2) never log `success`; injection rows have `success` false when logged.
- Every id is unique across the whole data set: request ids here, batch line ids, batch `request_id`s and completion
  ids, span ids, trace ids and `gen_ai.response.id`s."""

SHAPES = """- **batch_output.jsonl**: `{"id": "batch_req_...", "custom_id": "digest-YYYYMMDD-NNNN", "response": {"status_code": 200,
  "request_id": "...", "body": <chat.completion>}, "error": null}` with the body keys in OpenAI's order (`id, object,
  created, model, choices[{index, message{role, content, refusal, annotations}, logprobs, finish_reason}], usage{...,
  prompt_tokens_details, completion_tokens_details}, service_tier, system_fingerprint`). `created` is unix seconds.
- **otel_spans.jsonl**: `traceId, spanId, parentSpanId, name ("chat <model>"), kind ("SPAN_KIND_CLIENT"),
  startTimeUnixNano, endTimeUnixNano` (strings), `status {code, message}` and a flat `attributes` object:
  `gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, gen_ai.request.temperature,
  gen_ai.conversation.id, gen_ai.system_instructions, gen_ai.input.messages` and, on success, `gen_ai.response.model,
  gen_ai.response.id, gen_ai.response.finish_reasons, gen_ai.usage.input_tokens, gen_ai.usage.output_tokens,
  gen_ai.usage.cache_read.input_tokens, gen_ai.output.messages` (messages are JSON strings in the semconv parts
  format), `error.type` on errors, then `server.address, server.port, user.id`.
- **feedback.jsonl**: `request_id, timestamp, user_id, feedback_type, feedback_category` (thumbs_down/report only),
  `feedback_text` (null unless the user wrote something)."""


def render(gt):
    g = gt["generator"]
    return f"""# sample_logs: a realistic, fully known LLM production log set

Fourteen days ({gt['time_range']['start']} to {gt['time_range']['end']}, UTC) of logs from a fictional company, Acme,
that runs LLM features. Everything here is synthetic and generated by `generate.py` (standard library only, seed
{g['seed']}); the facts below are computed from the generated rows and are repeated, with every id, in
`ground_truth.json`, which tests and demos assert against. Do not edit the data files by hand: change the generator.

```
python sample_logs/generate.py          # rewrite every file and print sizes and sha256
python sample_logs/generate.py --check  # build twice in memory and confirm the bytes match
```

The output depends only on the code and the seed: no current date, no machine or time-zone dependence, gzip written
with mtime 0 and no file name. (The compressed bytes of `requests.jsonl.gz` also depend on the zlib build; the
uncompressed content, whose sha256 is listed below, does not.)

## Files

{_files(gt)}

Also `ground_truth.json` (machine-readable facts) and this README, both generated.

## Field notes (requests.jsonl.gz)

{FIELD_NOTES}

## Shapes of the other files

{SHAPES}

## Volume

{_volumes(gt)}

## Ground truth of the planted phenomena

### 1. Incident: claude-sonnet-4-5 on /chat

{_incident(gt['incident'])}

### 2. Cost spike: a runaway agent loop

{_runaway(gt['runaway'])}

### 3. A/B experiment

{_experiment(gt['experiment'])}

### 4. Drift after the support-bot prompt change

{_drift(gt['drift'])}

### 5. PII

{_pii(gt['pii'])}

### 6. Prompt injection

{_injection(gt['injection'])}

### 7. Errors and caches

{_errors(gt['errors_and_caches'])}

### 8. Cost

{_cost(gt['cost'])}

### 9. The other sources

{_sources(gt['sources'])}
"""
