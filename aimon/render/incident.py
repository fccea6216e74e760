"""How incidents read: the detect table, and the post-mortem in the runbook's shape.

The post-mortem's sections follow the incident runbook (summary, impact, timeline,
root-cause candidates, contributing factors, follow-ups) so it can be pasted into an
incident report as it is. Markdown is its natural format; the terminal draws the
same blocks.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from aimon.render import Chart, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

_DAY = timedelta(days=1)


def _t(ts: datetime | None, tz: str = "UTC") -> str:
    return units.when(ts, tz)


def _hm(ts: datetime | None, tz: str = "UTC") -> str:
    return units.when(ts, tz, "%H:%M")


# --------------------------------------------------------------------------- detect

def gate_message(verdict: Any, tz: str = "UTC") -> str:
    """The lines of a failed --fail-on gate (exit 1): one per incident at or above it."""
    return "\n".join(f"{b.condition} incident {b.figures['id']}: {units.span(b.figures['start'], b.figures['end'], tz)}, "
                     f"error rate {units.pct(b.figures['error_rate'])}" for b in verdict.breaches)


def detect_data(result: Any) -> dict:
    """JSON for ``incident detect``."""
    return {
        "window": {"start": result.window.start, "end": result.window.end},
        "settings": dataclasses.asdict(result.settings),
        "baseline_error_rate": result.baseline_error_rate,
        "baseline_slow_share": result.baseline_slow_share,
        "minutes_scored": result.minutes_scored,
        "incidents": [dataclasses.asdict(i) for i in result.incidents],
    }


def _span(i: Any, tz: str) -> str:
    start, end = units.local(i.start, tz), units.local(i.end, tz)
    short = end.date() == start.date() or end - start <= _DAY and f"{end:%H:%M}" == "00:00"
    return f"{_t(i.start, tz)}–{_hm(i.end, tz) if short else _t(i.end, tz)}"


def _where(i: Any) -> str:
    if not i.where:
        return "all traffic"
    text = i.where.replace("model ", "", 1).replace(" on endpoint ", " on ", 1)
    if i.where_requests:
        text += f": {i.where_errors:,}/{i.where_requests:,} = {units.pct(i.where_errors / i.where_requests)} errors"
    return text


def detect_display_rows(result: Any, tz: str = "UTC") -> list[dict]:
    """The compact rows the terminal and Markdown show (CSV carries every field, unformatted)."""
    out = []
    for i in result.incidents:
        base_p95 = f" ({units.ratio(i.p95_ms / i.baseline_p95_ms)})" if i.p95_ms and i.baseline_p95_ms else ""
        out.append({
            "sev": i.severity,
            f"window ({tz})": _span(i, tz) + f" ({i.minutes} min)",
            "signals": i.signals,
            "where": _where(i),
            "errors (all traffic)": f"{i.errors:,}/{i.requests:,} = {units.pct(i.error_rate)}",
            "base": units.pct(i.baseline_error_rate),
            "P95": units.ms(i.p95_ms) + base_p95,
            "peak": _hm(i.peak_at, tz),
        })
    return out


def detect_blocks(result: Any, tz: str = "UTC") -> list:
    """The detect table and how it was found, times in ``tz``."""
    s = result.settings
    blocks: list = [Heading(result.title), Figures([
        ("window", units.span(result.window.start, result.window.end, tz)),
        ("baseline error rate", units.pct(result.baseline_error_rate, 2)),
        ("method", f"z >= {s.threshold:g} on {s.smooth}-minute rolling windows of all traffic and the "
                   f"{s.segments} busiest model+endpoint pairs, for errors and for requests slower than "
                   f"their pair's P95; an incident holds >= {s.min_requests} requests and >= {s.min_bad} "
                   f"bad ones; gaps under {s.merge_gap} minutes merge"),
    ])]
    if not result.incidents:
        blocks.append(Note("No incident found in the window."))
        return blocks
    blocks.append(FrameBlock(detect_display_rows(result, tz),
                             title=f"{len(result.incidents)} incident(s), oldest first (end exclusive; "
                                   "base = error rate in the 24 h before; P95 against its baseline)"))
    latest = result.incidents[-1]
    # The post-mortem reads --start and --end in its --tz: the same local times, the same zone.
    zone = "" if tz == "UTC" else f" --tz {tz}"
    blocks.append(Note(f"Write the post-mortem: aimon incident postmortem --start {_t(latest.start, tz).replace(' ', 'T')} "
                       f"--end {_t(latest.end, tz).replace(' ', 'T')}{zone}  (or --latest)", style="dim"))
    return blocks


# --------------------------------------------------------------------------- post-mortem

def title(pm: Any, tz: str = "UTC") -> str:
    """The post-mortem's title, its window in ``tz`` (the result's own title is in UTC)."""
    i = pm.incident
    return f"Post-mortem: {i.severity} incident {_t(i.start, tz)}–{_hm(i.end, tz)} {tz}"


def root_cause_text(pm: Any) -> str:
    """'model claude-sonnet-4-5 on endpoint /chat (risk ratio 25, 95% CI 9 to 70)'."""
    r = pm.root_cause
    if r is None:
        return "no single model, endpoint, prompt version or user tier is over-represented"
    where = " on ".join(f"{d} {v}" for d, v in r.segment)
    return (f"{where} (risk ratio {units.number(r.risk_ratio)} for {r.dimension} {r.value}, 95% CI "
            f"{units.number(r.ci_low)} to {units.number(r.ci_high)}; {units.count(r.segment_bad)} of "
            f"{units.count(r.bad_total)} bad requests)")


def summary_text(pm: Any, tz: str = "UTC") -> str:
    """The summary paragraph."""
    i, f = pm.incident, pm.figures
    rate, base = f["error_rate"], f["baseline_error_rate"]
    times = f" ({units.ratio(rate / base)})" if rate and base else ""
    text = (f"{i.severity} incident on {units.when(i.start, tz, '%Y-%m-%d')} from {_hm(i.start, tz)} to {_hm(i.end, tz)} {tz} "
            f"({i.minutes} minutes). The error rate was {units.pct(rate)} ({f['errors']:,} of {f['requests']:,} "
            f"requests) against {units.pct(base)} in the 24 hours before{times}, and P95 latency was "
            f"{units.ms(f['p95_ms'])} against {units.ms(f['baseline_p95_ms'])}. "
            f"{f['bad']:,} requests failed or were slow, affecting {f['users_affected']:,} users in "
            f"{f['sessions_affected']:,} sessions on {f['endpoints_affected']:,} endpoint(s). "
            f"Likely root cause: {root_cause_text(pm)}.")
    if i.cost_ratio is not None and i.cost_ratio >= 2:
        text += (f" Spend was {units.money(i.cost_usd)} in the window, {units.ratio(i.cost_ratio)} the baseline's spend per "
                 "minute" + (" (a cost runaway)." if i.cost_ratio >= 10 else "."))
    share = f["top_user_requests"] / f["requests"] if f["requests"] else 0.0
    if f["top_user_requests"] >= 20 and share >= 0.3:
        text += (f" One user ({f['top_user']}) sent {f['top_user_requests']:,} of the {f['requests']:,} requests "
                 f"({units.pct(share, 0)}) from {f['top_user_sessions']:,} session(s): a runaway client or agent loop is "
                 "a likely cause.")
    return text


def _impact_rows(pm: Any) -> list[dict]:
    rows = []
    for r in pm.impact.iter_rows(named=True):
        unit = r["unit"]

        def fmt(v, unit=unit):
            if unit == "share":
                return units.pct(v, 2)
            if unit == "ms":
                return units.ms(v)
            if unit == "usd":
                return units.money(v)
            if unit == "rate":
                return units.number(v, 2)
            return units.count(v)

        affected = r["ratio_basis"] == "of active"
        change = units.ratio(r["ratio"])
        if affected and r["ratio"] is not None:
            change = units.pct(r["ratio"], 0) + " of active"
        elif r["ratio_basis"] == "per minute" and r["ratio"] is not None:
            change += " per minute"
        rows.append({"metric": r["metric"], "incident window": fmt(r["window"]),
                     "baseline (24 h before)": ("" if affected else fmt(r["baseline"])),
                     "change": change})
        if affected:
            rows[-1]["incident window"] = f"{fmt(r['window'])} of {fmt(r['baseline'])}"
    return rows


def _timeline_events(pm: Any, tz: str) -> list[str]:
    """The events in time order (a window edge comes before a request in its minute)."""
    i = pm.incident
    events = [(pm.timeline["minute"][0], 0, f"{_t(pm.timeline['minute'][0], tz)} {tz}: the timeline starts, "
                                            "15 minutes before the window"),
              (i.start, 0, f"{_t(i.start, tz)} {tz}: the incident window opens"),
              (i.end, 2, f"{_t(i.end, tz)} {tz}: the incident window closes")]
    if pm.first_bad is not None:
        b = pm.first_bad
        events.append((b.ts, 1, f"{units.when(b.ts, tz, '%Y-%m-%d %H:%M:%S')} {tz}: first bad request {b.request_id} ({_what(b)})"))
    if i.peak_at is not None:
        events.append((i.peak_at, 1, f"{_t(i.peak_at, tz)} {tz}: peak — error rate {units.pct(i.peak_error_rate)}, "
                                     f"P95 {units.ms(i.peak_p95_ms)}"
                                     + (f" in the {pm.bucket_minutes}-minute bucket" if pm.bucket_minutes > 1
                                        else " that minute")))
    if pm.last_bad is not None:
        b = pm.last_bad
        events.append((b.ts, 1, f"{units.when(b.ts, tz, '%Y-%m-%d %H:%M:%S')} {tz}: last bad request {b.request_id} ({_what(b)})"))
    return [text for _, _, text in sorted(events, key=lambda e: (e[0], e[1]))]


def _what(b: Any) -> str:
    kind = f"error {b.error_type or 'unknown'}" if b.status == "error" else f"slow, {units.ms(b.latency_ms)}"
    return f"{kind}; {b.model} on {b.endpoint}"


def postmortem_blocks(pm: Any, tz: str = "UTC") -> list:
    """The post-mortem in the runbook's shape."""
    return [
        Heading(title(pm, tz)),
        *_summary_blocks(pm, tz),
        *_impact_blocks(pm),
        *_timeline_blocks(pm, tz),
        *_root_cause_blocks(pm),
        *_sample_blocks(pm, tz),
        *_follow_up_blocks(pm, tz),
    ]


def _summary_blocks(pm: Any, tz: str) -> list:
    """How the window was judged, and the incident in one paragraph and a few figures."""
    i = pm.incident
    return [
        Note(f"Incident window {_t(i.start, tz)} to {_t(i.end, tz)} {tz} (end exclusive), compared with the 24 hours "
             f"before ({_t(pm.baseline.start, tz)} to {_t(pm.baseline.end, tz)} {tz}). A request is *bad* when it "
             "failed, or took longer than its model and endpoint's P99 in the baseline. Written by "
             "aimon from the logs; edit freely.", style="dim"),
        Heading("Summary", 2),
        Note(summary_text(pm, tz)),
        Figures([
            ("severity", i.severity),
            ("window", f"{_t(i.start, tz)} to {_t(i.end, tz)} {tz}, {i.minutes} minutes"),
            ("signals", i.signals),
            ("likely root cause", root_cause_text(pm)),
            ("first bad request", "" if pm.first_bad is None else f"{pm.first_bad.request_id} at "
                                                                   + units.when(pm.first_bad.ts, tz, "%H:%M:%S")),
            ("last bad request", "" if pm.last_bad is None else f"{pm.last_bad.request_id} at "
                                                                 + units.when(pm.last_bad.ts, tz, "%H:%M:%S")),
        ]),
    ]


def _impact_blocks(pm: Any) -> list:
    """The window's figures against the baseline, and its top error types."""
    blocks: list = [
        Heading("Impact", 2),
        FrameBlock(_impact_rows(pm), title="Incident window against the 24 hours before"),
    ]
    if pm.error_types.height:
        blocks.append(FrameBlock([{
            "error type": r["error_type"], "errors": r["errors"], "share of errors":
                units.pct(r["errors"] / pm.figures["errors"]) if pm.figures["errors"] else "",
            "baseline errors": r["baseline_errors"],
        } for r in pm.error_types.iter_rows(named=True) if r["errors"]], title="Top error types"))
    return blocks


def _timeline_blocks(pm: Any, tz: str) -> list:
    """What happened when: the events, a chart and the table by minute (or bucket)."""
    tl = pm.timeline
    return [
        Heading("Timeline", 2),
        Note(items=list(_timeline_events(pm, tz))),
        Chart("Timeline" if pm.bucket_minutes == 1 else f"Timeline ({pm.bucket_minutes}-minute buckets)",
              [_hm(m, tz) for m in tl["minute"].to_list()],
              {"error rate %": [None if v is None else round(100 * v, 2) for v in tl["error_rate"].to_list()],
               "P95 ms": [None if v is None else round(v) for v in tl["p95_ms"].to_list()]}),
        FrameBlock([{
            f"time ({tz})": _hm(r["minute"], tz), "phase": r["phase"], "requests": r["requests"],
            "errors": r["errors"], "error rate": units.pct(r["error_rate"], 0),
            "bad": r["bad"], "P95": units.ms(r["p95_ms"]),
        } for r in tl.iter_rows(named=True)],
            title=f"{'Minute' if pm.bucket_minutes == 1 else f'{pm.bucket_minutes}-minute'} by "
                  f"{'minute' if pm.bucket_minutes == 1 else 'bucket'}"),
    ]


def _root_cause_blocks(pm: Any) -> list:
    """The values the bad requests share (risk ratios), and the error types' rates."""
    blocks: list = [
        Heading("Root-cause candidates", 2),
        Note(f"Likely root cause: {root_cause_text(pm)}. A risk ratio compares the share of bad requests with "
             "that value with the share among the rest of the window; candidates are ordered by the lower "
             "end of its 95% CI."),
    ]
    candidates = pm.attribution.head(12)
    if candidates.height:
        blocks.append(FrameBlock([{
            "dimension": r["dimension"], "value": r["value"], "requests": r["requests"], "bad": r["bad"],
            "bad rate": units.pct(r["bad_rate"]), "rest": units.pct(r["rest_bad_rate"]),
            "risk ratio": units.number(r["risk_ratio"], 1),
            "95% CI": units.MISSING if r["ci_low"] is None else f"{r['ci_low']:,.1f} to {r['ci_high']:,.1f}",
            "share of bad": units.pct(r["share_of_bad"], 0),
            "baseline bad rate": units.pct(r["baseline_bad_rate"]),
        } for r in candidates.iter_rows(named=True)], title="Bad requests by model, endpoint, prompt version "
                                                             "and user tier (in the window)"))
    types = pm.error_types.filter(pm.error_types["errors"] > 0) if pm.error_types.height else pm.error_types
    if types.height:
        blocks.append(FrameBlock([{
            "error type": r["error_type"], "errors": r["errors"], "rate": units.pct(r["rate"], 2),
            "baseline rate": units.pct(r["baseline_rate"], 2),
            "risk ratio": units.number(r["risk_ratio"], 1),
            "95% CI": units.MISSING if r["ci_low"] is None else f"{r['ci_low']:,.1f} to {r['ci_high']:,.1f}",
        } for r in types.iter_rows(named=True)], title="Error types: rate per request against the baseline"))
    return blocks


def _follow_up_blocks(pm: Any, tz: str) -> list:
    """Contributing factors, similar past incidents and the follow-ups to do."""
    blocks: list = [
        Heading("Contributing factors", 2),
        Note(items=list(pm.contributing)),
        Heading("Similar past incidents", 3),
    ]
    if pm.similar.height:
        blocks.append(FrameBlock([{
            "id": r["id"], "start": _t(r["start"], tz), "end": _hm(r["end"], tz), "severity": r["severity"],
            "error rate": units.pct(r["error_rate"]), "model": r["model"], "endpoint": r["endpoint"],
            "error type": r["error_type"], "similarity": units.pct(r["similarity"], 0),
        } for r in pm.similar.iter_rows(named=True)], title="Incidents found by 'aimon incident detect' before this "
                                                             "one that share its model, endpoint or error type"))
    else:
        blocks.append(Note("None found: `aimon incident detect` over the --history before the window (30 days "
                           "by default) found no incident sharing its model, endpoint or error type."))
    blocks += [
        Heading("Follow-ups", 2),
        Note(items=list(pm.follow_ups), marker="- [ ]"),
    ]
    return blocks


def _sample_blocks(pm: Any, tz: str) -> list:
    """A few bad requests, redacted unless --show-pii."""
    blocks: list = [Heading("Samples of bad requests" + ("" if pm.pii_shown else " (redacted)"), 3)]
    if pm.samples.height:
        blocks.append(FrameBlock([{
            "time": units.when(r["ts"], tz, "%H:%M:%S"), "request_id": r["request_id"], "model": r["model"],
            "endpoint": r["endpoint"], "error": r["error_type"] or ("slow" if r["status"] != "error" else ""),
            "latency": units.ms(r["latency_ms"]), "error message": r["error_message"] or "",
            "prompt": r["prompt"] or "",
        } for r in pm.samples.iter_rows(named=True)]))
        if not pm.pii_shown:
            blocks.append(Note("PII found by aimon's PII scanner is replaced by [REDACTED_TYPE] markers, and any "
                               "other e-mail, phone-like number, long digit run, IBAN, IP address or key-like "
                               "token is masked too; --show-pii prints the text as logged.", style="dim"))
    else:
        blocks.append(Note("No bad request in the window."))
    return blocks


def postmortem_data(pm: Any, tz: str = "UTC") -> dict:
    """JSON for ``incident postmortem`` (keys documented in docs/incident.md)."""
    return {
        "incident": dataclasses.asdict(pm.incident),
        "baseline": {"start": pm.baseline.start, "end": pm.baseline.end},
        "summary": summary_text(pm, tz),
        "figures": pm.figures,
        "impact": pm.impact,
        "error_types": pm.error_types,
        "root_cause": None if pm.root_cause is None else {
            **dataclasses.asdict(pm.root_cause),
            "segment": [{"dimension": d, "value": v} for d, v in pm.root_cause.segment],
            "text": root_cause_text(pm)},
        "attribution": pm.attribution,
        "timeline": pm.timeline,
        "bucket_minutes": pm.bucket_minutes,
        "first_bad": None if pm.first_bad is None else dataclasses.asdict(pm.first_bad),
        "last_bad": None if pm.last_bad is None else dataclasses.asdict(pm.last_bad),
        "samples": pm.samples,
        "pii_shown": pm.pii_shown,
        "similar_incidents": pm.similar,
        "contributing_factors": list(pm.contributing),
        "follow_ups": list(pm.follow_ups),
    }


register("DetectResult", Presentation(
    "an incident list", ("incident detect",), detect_data, detect_blocks,
    # CSV is for programs: every field of an incident as a number or an ISO instant (in
    # the --tz zone, with its offset), as the JSON has them (no "18.7%" or "14,668 ms" to
    # parse back), like every other CSV.
    table=lambda result, tz="UTC": units.in_zone(result.table, tz)))
# Several tables and a timeline: no one table for CSV.
register("Postmortem", Presentation("a post-mortem", ("incident postmortem",), postmortem_data, postmortem_blocks))
