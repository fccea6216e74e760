"""What a post-mortem says in sentences: contributing factors and follow-ups."""

from __future__ import annotations

import polars as pl

from aimon.analysis.incident.attribution import RootCause
from aimon.analysis.incident.detect import Incident


def _fmt_ms(v) -> str:
    return "n/a" if v is None else f"{v:,.0f} ms"


def _contributing(f: dict, error_types: pl.DataFrame, new_versions: pl.DataFrame, attribution: pl.DataFrame,
                  root: RootCause | None, w: dict, b: dict) -> tuple[str, ...]:
    out: list[str] = []
    rpm, base_rpm, y_rpm = f["requests_per_minute"], f["baseline_requests_per_minute"], \
        f["yesterday_requests_per_minute"]
    reference = max(base_rpm, y_rpm)  # the busier of the two, so daily peaks are not a surge
    if reference and rpm >= 1.5 * reference:
        out.append(f"Traffic: {rpm:,.1f} requests per minute against {base_rpm:,.1f} on average in the "
                   f"baseline and {y_rpm:,.1f} at the same time a day earlier (x{rpm / reference:,.1f}); "
                   "load may have pushed a dependency over its limits, and retries add to it.")
    share = f["top_user_requests"] / f["requests"] if f["requests"] else 0.0
    base_share = f["top_user_baseline_requests"] / f["baseline_requests"] if f["baseline_requests"] else 0.0
    if f["top_user_requests"] >= 20 and share >= 0.3 and share >= 3 * base_share:
        out.append(f"Traffic concentration: one user ({f['top_user']}) sent {f['top_user_requests']:,} of "
                   f"{f['requests']:,} requests in the window ({share:.0%}) from {f['top_user_sessions']:,} "
                   f"session(s), against {base_share:.0%} of the baseline's; a runaway client or agent loop "
                   "looks like this.")
    if f["retries"]:
        out.append(f"Retries: {f['retries']:,} requests followed an error in the same session within two "
                   f"minutes ({f['retries'] / max(f['requests'], 1):.0%} of the window's traffic); retries "
                   "amplify load on a struggling dependency.")
    for r in error_types.head(3).iter_rows(named=True):
        if not r["errors"] or r["ci_low"] is None or r["ci_low"] <= 1:
            continue
        meaning = {
            "rate_limit": "the provider or gateway refused requests: quota or capacity exhausted",
            "timeout": "calls ran out of time: upstream slowness",
            "api_error": "the provider returned server errors: a provider-side failure",
            "validation": "requests were rejected as malformed: a client or prompt change",
            "content_filter": "responses were blocked by a content filter: a prompt or input change",
        }.get(r["error_type"], "more frequent than usual")
        out.append(f"Error type {r['error_type']}: {r['errors']:,} errors, {r['risk_ratio']:,.1f}x its baseline "
                   f"rate (95% CI {r['ci_low']:,.1f} to {r['ci_high']:,.1f}); {meaning}.")
    for r in new_versions.iter_rows(named=True):
        out.append(f"Recent change: {r['kind']} {r['value']} first appeared at {r['first_seen']:%Y-%m-%d %H:%M} UTC "
                   f"and served {r['requests_in_window']:,} requests in the window.")
    p95, base_p95 = w.get("p95_ms"), b.get("p95_ms")
    if p95 and base_p95 and p95 >= 1.5 * base_p95:
        out.append(f"Latency: P95 {_fmt_ms(p95)} against {_fmt_ms(base_p95)} in the baseline "
                   f"(x{p95 / base_p95:,.1f}); slow calls often precede timeouts and errors.")
    if root is not None:
        others = attribution.filter((pl.col("ci_low") > 1) & ~pl.struct("dimension", "value").is_in(
            [{"dimension": d, "value": v} for d, v in root.segment]))
        segment_rows = attribution.filter(pl.struct("dimension", "value").is_in(
            [{"dimension": d, "value": v} for d, v in root.segment]))
        for r in others.head(3).iter_rows(named=True):
            twin = segment_rows.filter((pl.col("requests") == r["requests"]) & (pl.col("bad") == r["bad"]))
            if twin.height:
                t = twin.row(0, named=True)
                out.append(f"Also over-represented: {r['dimension']} = {r['value']}, on exactly the requests "
                           f"of {t['dimension']} {t['value']} in the window: it cannot be told apart from it "
                           "here.")
            else:
                out.append(f"Also over-represented: {r['dimension']} = {r['value']} (risk ratio "
                           f"{r['risk_ratio']:,.1f}, 95% CI {r['ci_low']:,.1f} to {r['ci_high']:,.1f}); "
                           "it may ride along with the root cause.")
    if not out:
        out.append("No contributing factor stood out: traffic, retries, error mix and versions look as in the baseline.")
    return tuple(out)


def _follow_ups(f: dict, error_types: pl.DataFrame, new_versions: pl.DataFrame, root: RootCause | None,
                incident: Incident) -> tuple[str, ...]:
    out: list[str] = []
    if root is not None:
        where = " on ".join(f"{d} {v}" for d, v in root.segment)
        out.append(f"Confirm the root cause: reproduce the failure for {where} in staging and check the "
                   "provider's status page for the window.")
        out.append(f"Add an alert on the error rate of {where} (baseline "
                   f"{(f['baseline_error_rate'] or 0):.1%}, incident {(f['error_rate'] or 0):.1%}), e.g. "
                   "'aimon alerts check' on a 5-minute window.")
        if root.dimension in ("model", "endpoint"):
            out.append(f"Configure a fallback model for {where} so a provider failure degrades instead of failing.")
    types = set(error_types.filter(pl.col("errors") > 0)["error_type"].to_list())
    share = f["top_user_requests"] / f["requests"] if f["requests"] else 0.0
    if f["top_user_requests"] >= 20 and share >= 0.3:
        out.append(f"Limit requests per user and session, and give agent loops a step and spend budget "
                   f"(one user sent {share:.0%} of the window's requests).")
    if incident.cost_ratio is not None and incident.cost_ratio >= 10:
        out.append(f"Add a spend alert: cost per minute ran at x{incident.cost_ratio:,.0f} the baseline's.")
    if "rate_limit" in types:
        out.append("Review rate limits and quotas with the provider; budget requests per client.")
    if f["retries"]:
        out.append("Cap client retries with exponential backoff and jitter; retries multiplied the load.")
    if "timeout" in types:
        out.append("Review timeouts against the P99 latency; fail fast to the fallback.")
    for r in new_versions.iter_rows(named=True):
        out.append(f"Review the change to {r['kind']} {r['value']} (first seen {r['first_seen']:%Y-%m-%d %H:%M} UTC); "
                   "roll back if it is implicated.")
    out.append(f"After the fix, re-run 'aimon incident postmortem --start {incident.start:%Y-%m-%dT%H:%M} "
               f"--end {incident.end:%Y-%m-%dT%H:%M}' and 'aimon incident detect' to confirm recovery.")
    out.append("Update the runbook with what was learned, and add monitoring where this was found late.")
    return tuple(out)
