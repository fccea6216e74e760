"""Generator for aimon's sample data set (sample_logs/).

Fourteen days (2026-11-01T00:00Z to 2026-11-14T23:59Z, UTC) of production logs of
a fictional company, Acme, that runs LLM features:

* requests.jsonl.gz  - the main app (five endpoints) as a flat app log, ~85% of calls
* batch_output.jsonl - a nightly summarization job, as OpenAI Batch API output lines
* otel_spans.jsonl   - an internal kb-assistant, as flat OpenTelemetry GenAI spans
* feedback.jsonl     - thumbs, reports and implicit signals on the main app's calls
* ground_truth.json and README.md - every planted phenomenon, for tests and demos

Everything is derived from config.SEED with named random streams (util.rng), so
`python sample_logs/generate.py` rewrites identical files. Modules:

  config        all parameters (time range, prices, phenomena sizes and times)
  users         the user population          traffic     sessions, endpoints, text
  text_*        prompt/response templates     phenomena   runaway loop, injections
  pii, pii_plant PII and look-alikes          outcomes    tokens, errors, latency, cost
  batch, otel, feedback  the other sources    writers     serialisation
  truth, readme  ground truth and README      build       puts it all together
"""
