"""How experiment results read: the JSON document, the tables, and the verdict sentence.

Labels and units live here, not in the analysis: proportions show as percentages
and their differences in percentage points (pp), latency in ms, cost in dollars.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aimon.analysis.abtest.metrics import METRICS, Metric
from aimon.render import Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

# --------------------------------------------------------------------------- values

def _unit(metric: str) -> str:
    return METRICS[Metric(metric)].unit


def value_text(metric: str, value: float | None) -> str:
    """A metric's value in its unit: 69.77%, 2,048 ms, $0.000603, 126.0 (tokens)."""
    unit = _unit(metric)
    if unit == "rate":
        return units.pct(value, 2)
    if unit == "ms":
        return units.ms(value)
    if unit == "usd":
        return units.money(value)
    return units.number(value, 1)


def diff_text(metric: str, value: float | None) -> str:
    """A difference in the metric's unit, signed: +4.22 pp, -12 ms, +$0.000081."""
    unit = _unit(metric)
    if unit == "rate":
        return units.pp(value, 2)
    if unit == "ms":
        return units.ms(value, signed=True)
    if unit == "usd":
        return units.money(value, signed=True)
    return units.number(value, 1, signed=True)


def _interval(metric: str, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return units.MISSING
    return f"{diff_text(metric, low)} to {diff_text(metric, high)}"


def _pct_interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return units.MISSING
    return f"{units.pct(low, signed=True)} to {units.pct(high, signed=True)}"


# --------------------------------------------------------------------------- list

def list_data(result: Any) -> dict:
    """JSON for ``abtest list``: experiments, each with its variants."""
    experiments: dict[str, dict] = {}
    for row in result.table.iter_rows(named=True):
        exp = experiments.setdefault(row["experiment"], {
            "experiment": row["experiment"], "first": row["first"], "last": row["last"],
            "requests": 0, "users": 0, "variants": []})
        exp["first"] = min(exp["first"], row["first"])
        exp["last"] = max(exp["last"], row["last"])
        exp["requests"] += row["requests"]
        exp["users"] += row["users"]
        exp["variants"].append({k: row[k] for k in
                                ("variant", "requests", "users", "first", "last", "success_logged")})
    return {"window": {"start": result.window.start, "end": result.window.end},
            "experiments": list(experiments.values())}


def list_blocks(result: Any, tz: str = "UTC") -> list:
    """Tables for ``abtest list``, times in ``tz``."""
    if result.table.height == 0:
        return [Heading(result.title), Note("No experiments in the window: no request carries an "
                                            "`experiment` value.")]
    rows = [{
        "experiment": r["experiment"], "variant": r["variant"], "requests": r["requests"], "users": r["users"],
        f"first ({tz})": units.when(r["first"], tz), f"last ({tz})": units.when(r["last"], tz),
        "success logged": r["success_logged"],
    } for r in result.table.iter_rows(named=True)]
    return [Heading(result.title),
            FrameBlock(rows, title="One row per variant (a user may appear in several variants); "
                                   "analyse one with: aimon abtest analyze -e NAME")]


# --------------------------------------------------------------------------- analyze

def verdict_text(result: Any) -> str:
    """The one verdict line: never a winner by the raw maximum."""
    v = result.verdict
    metric = v.metric
    main = [c for c in result.comparisons if c.metric == metric]
    alpha = result.alpha
    if v.kind == "invalid":
        srm = result.srm
        split = ", ".join(f"{name} {obs:,}" for name, obs in zip(srm.variants, srm.observed, strict=True))
        intended = ":".join(units.pct(s, 0) for s in srm.split)
        return (f"INVALID: sample ratio mismatch. {srm.unit.capitalize()}s per variant {split} against an "
                f"intended {intended} split (chi-square {units.p_is(srm.p_value)}, threshold {srm.threshold:g}). "
                "Assignment or logging is broken; do not trust any comparison until it is fixed.")

    def describe(c) -> str:
        return (f"{c.variant} {value_text(metric, c.value_variant)} vs {c.control} "
                f"{value_text(metric, c.value_control)}, {diff_text(metric, c.diff)} "
                f"(95% CI {_interval(metric, c.ci_low, c.ci_high)}), Holm-adjusted {units.p_is(c.p_adjusted)}")

    watch = ""
    if v.guardrails:
        worse = [c for c in result.comparisons if f"{c.variant}:{c.metric}" in v.guardrails]
        watch = " Watch: " + "; ".join(
            f"{c.variant} is worse on {c.metric} ({diff_text(c.metric, c.diff)}, Holm {units.p_is(c.p_adjusted)})"
            for c in worse) + "."
    if v.kind == "winner" and v.winner == result.control:
        return (f"CONTROL WINS on {metric}: every variant is worse. "
                + "; ".join(describe(c) for c in main) + "." + watch)
    if v.kind == "winner":
        c = next(c for c in main if c.variant == v.winner)
        return f"WINNER: {v.winner} on {metric}: {describe(c)}." + watch
    if v.kind == "no_difference":
        bound = diff_text(metric, result.min_effect)[1:]
        return (f"NO DETECTABLE DIFFERENCE on {metric}: no Holm-adjusted p < {alpha:g}, and the 95% "
                f"intervals rule out effects beyond the chosen --min-effect (±{bound})." + watch)
    # inconclusive
    if v.reason == "too little data":
        return f"INCONCLUSIVE on {metric}: too little data for a test in some variant." + watch
    if v.better:
        return (f"INCONCLUSIVE on {metric}: {', '.join(v.better)} all beat control (Holm-adjusted), but "
                "which of them is best is not tested; compare them directly with --control." + watch)
    parts = []
    for c in main:
        need = ""
        if c.n_needed_variant is not None:
            need = (f"; about {max(c.n_needed_variant, c.n_needed_control):,} {c.unit}s per variant "
                    "would detect a difference this size")
        parts.append(f"{describe(c)}; MDE now {diff_text(metric, c.mde)[1:]}" + need)
    if v.reason.startswith("too few"):
        lead = v.reason
    elif v.worse:
        lead = "some variants are worse and none better"
    elif result.min_effect is None:
        lead = ("no significant difference, which is not evidence of none: give --min-effect (the "
                "smallest difference worth knowing) to test whether effects that large are ruled out")
    else:
        lead = "no significant difference, but the interval still allows effects beyond --min-effect"
    return f"INCONCLUSIVE on {metric}: {lead}. " + "; ".join(parts) + "." + watch


def analyze_data(result: Any) -> dict:
    """The JSON document for ``abtest analyze`` (keys documented in docs/abtest.md)."""
    srm = result.srm
    return {
        "experiment": result.experiment,
        "window": {"start": result.window.start, "end": result.window.end},
        "unit": result.unit,
        "assignment": result.assignment,
        "control": result.control,
        "metrics": list(result.metrics),
        "success_source": result.success_source,
        "alpha": result.alpha,
        "power": result.power,
        "seed": result.seed,
        "min_effect": result.min_effect,
        "variants": [dataclasses.asdict(v) for v in result.variants],
        "comparisons": [dataclasses.asdict(c) for c in result.comparisons],
        "srm": {
            "p_value": srm.p_value, "mismatch": srm.mismatch, "chi2": srm.chi2, "unit": srm.unit,
            "threshold": srm.threshold,
            "variants": [{"variant": name, "observed": obs, "expected": exp, "share": share}
                         for name, obs, exp, share in zip(srm.variants, srm.observed, srm.expected,
                                                          srm.split, strict=True)],
        },
        "verdict": {**dataclasses.asdict(result.verdict), "text": verdict_text(result)},
        "users_in_several_variants": result.users_in_several_variants,
        "requests_without_variant": result.requests_without_variant,
        "notes": list(result.notes),
    }


def srm_warning(result: Any) -> str:
    """The loud line for stderr when the split is off."""
    srm = result.srm
    return (f"SAMPLE RATIO MISMATCH in {result.experiment}: {srm.unit}s per variant "
            + ", ".join(f"{n} {o:,} (expected {e:,.0f})" for n, o, e in
                        zip(srm.variants, srm.observed, srm.expected, strict=True))
            + f"; chi-square {units.p_is(srm.p_value)}, threshold {srm.threshold:g}")


def gate_message(verdict: Any) -> str:
    """The lines of a failed --fail-on gate (exit 1), one per breach."""
    lines = []
    for b in verdict.breaches:
        f = b.figures
        if b.condition == "srm":
            lines.append(f"sample ratio mismatch (chi-square {units.p_is(f['p_value'])}, threshold {f['threshold']:g})")
        elif b.condition == "regression":
            lines.append(f"{f['variant']} is worse than {f['control']} on {f['metric']} (Holm {units.p_is(f['p_adjusted'])})")
        else:
            lines.append(f"no winning variant (verdict: {f['verdict'].replace('_', ' ')})")
    return "\n".join(lines)


def analyze_blocks(result: Any, tz: str = "UTC") -> list:
    """Tables and notes for the terminal and Markdown."""
    srm = result.srm
    blocks: list = [Heading(result.title)]
    if srm.mismatch:
        blocks.append(Note("⚠ " + srm_warning(result) + ". The results below are not trustworthy.",
                           style="bold red"))
    blocks.append(Figures([
        ("window", units.span(result.window.start, result.window.end, tz)),
        ("unit", f"{result.unit} (assignment looks per {result.assignment})"),
        ("control", result.control),
        ("success from", {"logged": "the logged `success` field", "thumbs": "thumbs feedback",
                          None: "not available"}[result.success_source]),
        ("sample ratio", f"chi-square {units.p_is(srm.p_value)} over {srm.unit}s"
                         + (" — MISMATCH" if srm.mismatch else " (ok)")),
        ("tests", f"alpha {result.alpha:g}, Holm over {len(result.comparisons)} comparison(s), "
                  f"bootstrap seed {result.seed}"),
    ]))
    blocks += _variant_blocks(result)
    blocks.append(FrameBlock([{
        "metric": c.metric,
        "comparison": f"{c.variant} vs {c.control}",
        "control": value_text(c.metric, c.value_control),
        "variant": value_text(c.metric, c.value_variant),
        "diff": diff_text(c.metric, c.diff),
        "95% CI": _interval(c.metric, c.ci_low, c.ci_high),
        "p": units.p_value(c.p_value),
        "Holm p": units.p_value(c.p_adjusted),
        "result": c.direction or "n.s.",
    } for c in result.comparisons], title=f"Comparisons ({_tests(result)})"))
    blocks.append(FrameBlock([{
        "metric": c.metric,
        "variant": c.variant,
        "lift": units.pct(c.lift, signed=True),
        "lift 95% CI": _pct_interval(c.lift_low, c.lift_high),
        "P(beat control)": _prob(c.prob_beat_control),
        "MDE now": diff_text(c.metric, c.mde)[1:] if c.mde is not None else units.MISSING,
        "power now": units.pct(c.power_observed, 0),
        f"{c.unit}s needed": units.MISSING if c.n_needed_variant is None else
            f"{c.n_needed_variant:,} / {c.n_needed_control:,}",
    } for c in result.comparisons],
        title=f"Lift, probability to beat control, and power ({result.alpha:g} two-sided, "
              f"{_power(result)} power; units needed per variant / control for the observed difference)"))
    continuous = [c for c in result.comparisons if c.p95_diff is not None or c.mann_whitney_p is not None]
    if continuous:
        blocks.append(FrameBlock([{
            "metric": c.metric,
            "variant": f"{c.variant} vs {c.control}",
            "Mann-Whitney p": units.p_value(c.mann_whitney_p),
            "P(variant > control)": units.number(c.prob_superiority, 3),
            "P95 control": value_text(c.metric, c.p95_control),
            "P95 variant": value_text(c.metric, c.p95_variant),
            "P95 diff": diff_text(c.metric, c.p95_diff),
            "bootstrap 95% CI": _interval(c.metric, c.p95_ci_low, c.p95_ci_high),
        } for c in continuous], title="Distribution checks (Mann-Whitney U"
                                      + (" on user means" if result.unit == "user" else "")
                                      + "; seeded bootstrap of the P95"
                                      + (", resampling users)" if result.unit == "user" else ")")))
    blocks.append(FrameBlock([{"variant": n, "observed": o, "expected": round(e, 1), "intended share": units.pct(s)}
                              for n, o, e, s in zip(srm.variants, srm.observed, srm.expected, srm.split,
                                                    strict=True)],
                             title=f"Sample ratio ({srm.unit}s; mismatch when chi-square p < {srm.threshold:g})"))
    style = {"winner": "bold green", "invalid": "bold red"}.get(result.verdict.kind, "bold yellow")
    blocks.append(Heading("Verdict", 2))
    blocks.append(Note(verdict_text(result), style=style))
    pseudo = result.unit == "request" and result.assignment == "user"
    for note in result.notes:
        # Pseudo-replication changes what the p-values mean: say it louder than the rest.
        loud = pseudo and note.startswith("Every user saw one variant")
        blocks.append(Note(("Warning: " if loud else "Note: ") + note, style="bold yellow" if loud else "dim"))
    return blocks


def _variant_blocks(result: Any) -> list:
    """Each variant's outcomes (with their intervals), then its latency and cost."""
    outcome_rows, speed_rows = [], []
    for v in result.variants:
        name = v.variant + (" (control)" if v.variant == result.control and v.variant.lower() != "control"
                            else "")
        per_unit = {f"{result.unit}s": v.n} if result.unit == "user" else {}
        outcome_rows.append({
            "variant": name,
            **per_unit,
            "requests": v.requests,
            "success": units.pct(v.success_rate, 2),
            "95% CI": units.MISSING if v.success_rate_low is None else
                f"{units.pct(v.success_rate_low)} to {units.pct(v.success_rate_high)}",
            "with outcome": v.outcomes,
            "errors": units.pct(v.error_rate, 2),
            "thumbs up": units.pct(v.thumbs_up_rate, 2),
        })
        speed_rows.append({
            "variant": name,
            "latency mean": value_text("latency_ms", v.latency_mean_ms),
            "median": value_text("latency_ms", v.latency_median_ms),
            "P95": value_text("latency_ms", v.latency_p95_ms),
            "cost per request": value_text("cost_usd", v.cost_mean_usd),
            "priced requests": v.cost_priced_requests,
        })
    source = {"logged": "success = the logged `success` field", "thumbs": "success = thumbs-up without "
              "thumbs-down, among rated requests"}.get(result.success_source, "success not available")
    outcomes = FrameBlock(outcome_rows, title=f"Variants: outcomes ({source}"
                                                 + ("; rates and CIs per user, delta method)"
                                                    if result.unit == "user" else ")"))
    return [outcomes, FrameBlock(speed_rows, title="Variants: latency and cost (every request of the variant)")]


def _prob(p: float | None) -> str:
    if p is None:
        return units.MISSING
    if p > 0.999:
        return ">99.9%"
    if p < 0.001:
        return "<0.1%"
    return units.pct(p)


def _power(result: Any) -> str:
    return units.pct(result.power, 0)


def _tests(result: Any) -> str:
    label = {"newcombe": "Newcombe", "welch": "Welch", "delta": "delta-method"}
    names = sorted({f"{c.test}, {label.get(c.ci_method, c.ci_method)} CI" for c in result.comparisons})
    return "; ".join(names)


def comparisons_csv(result: Any) -> list[dict]:
    """The one table CSV carries: every comparison with raw numbers."""
    return [dataclasses.asdict(c) for c in result.comparisons]


register("ExperimentList", Presentation("an experiment list", ("abtest list",), list_data, list_blocks,
                                        table=lambda result: result.table))
register("AbTestResult", Presentation("an experiment analysis", ("abtest analyze",), analyze_data, analyze_blocks,
                                      table=comparisons_csv))
