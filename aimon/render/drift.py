"""How `aimon drift` reads: its JSON contract (keys in docs/drift.md) and its blocks.

Example texts arrive redacted from the analysis unless --show-pii was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from aimon.render import Block, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.drift import DriftResult

MULTIPLICITY = ("Holm over every test of the run (semantic and signals, every group); a test drifts when its "
                "adjusted p-value is below alpha and its effect size reaches its floor (PSI 0.1, Cohen's h "
                "0.1, topic shift 5%)")


def gate_message(result: Any) -> str:
    """The message of a failed --fail-on-drift gate (exit 1): the analysis's breaches."""
    return "drift gate failed (--fail-on-drift):\n" + "\n".join(f"  {b}" for b in result.breaches)


def _window(w: Any) -> dict[str, Any]:
    return {"start": w.start, "end": w.end}


def _embeddings(result: DriftResult) -> dict[str, Any] | None:
    s = result.embeddings
    if s is None:
        return None
    return {"model": s.model, "texts": s.texts, "distinct": s.distinct, "from_cache": s.from_cache,
            "from_memory": s.from_memory, "computed": s.computed, "seconds": round(s.seconds, 3),
            "backend": s.backend, "precision": s.precision}


def _sampling(result: DriftResult) -> dict[str, Any]:
    return {"per_window": result.sample, "seed": result.seed,
            "method": "the first N requests of each window and group ordered by md5(seed || request_id)",
            "sampled": any(g.sampled_baseline < g.requests_baseline or g.sampled_current < g.requests_current
                           for g in result.groups)}


def drift_data(result: DriftResult, notes: list[str]) -> dict[str, Any]:
    """The JSON contract of `aimon drift --format json`."""
    return {
        "title": result.title,
        "baseline": _window(result.baseline),
        "current": _window(result.current),
        "field": result.field,
        "by": result.by,
        "endpoint": result.endpoint,
        "sampling": _sampling(result),
        "alpha": result.alpha,
        "permutations": result.permutations,
        "tests": result.tests,
        "multiplicity": MULTIPLICITY,
        "drifted": result.drifted,
        "breaches": result.breaches,
        "embeddings": _embeddings(result),
        "groups": [{
            "group": g.group,
            "requests_baseline": g.requests_baseline, "requests_current": g.requests_current,
            "sampled_baseline": g.sampled_baseline, "sampled_current": g.sampled_current,
            "unit": g.unit, "units_baseline": g.units_baseline, "units_current": g.units_current,
            "semantic": g.semantic, "topics": g.topics, "signals": g.signals,
        } for g in result.groups],
        "pii_shown": result.pii_shown,
        "notes": notes,
    }


def drift_csv(result: DriftResult) -> pl.DataFrame:
    """CSV holds one table: every test of every group (semantic first)."""
    rows = []
    for g in result.groups:
        if g.semantic:
            s = g.semantic
            rows.append({"group": g.group, "signal": "semantic", "test": s["test"], "n_baseline": s["n_baseline"],
                         "n_current": s["n_current"], "baseline": None, "current": None,
                         "statistic": s["statistic"], "p_value": s["p_value"], "p_adjusted": s["p_adjusted"],
                         "effect": "topic_shift", "effect_size": s["topic_shift"], "drifted": s["drifted"]})
        for r in g.signals.iter_rows(named=True):
            rows.append({"group": g.group, **{k: r[k] for k in (
                "signal", "test", "n_baseline", "n_current", "baseline", "current", "statistic", "p_value",
                "p_adjusted", "effect", "effect_size", "drifted")}})
    return pl.DataFrame(rows, infer_schema_length=None)


def _effect(row: dict) -> str:
    if row["effect"] is None or row["effect_size"] is None:
        return ""
    name = {"psi": "PSI", "cohen_h": "h"}.get(row["effect"], row["effect"])
    return f"{name} {row['effect_size']:+.3f}"


def _group_blocks(g: Any, result: DriftResult) -> list[Block]:
    blocks: list[Block] = []
    if g.group != "all":
        blocks.append(Heading(g.group, level=2))
    blocks.append(Figures([
        ("requests (baseline → current)", f"{g.requests_baseline:,} → {g.requests_current:,}"),
        ("sampled", f"{g.sampled_baseline:,} / {g.sampled_current:,} (seed {result.seed})"),
        ("permutation unit", f"{g.unit} ({g.units_baseline:,} / {g.units_current:,})"),
    ]))
    s = g.semantic
    if s:
        verdict = "DRIFTED" if s["drifted"] else "no drift"
        blocks.append(Figures([
            (f"semantic drift of the {result.field}s", verdict),
            ("p-value (Holm-adjusted)", f"{units.p_value(s['p_value'])} ({units.p_value(s['p_adjusted'])})"),
            ("texts that changed topic", units.pct(s["topic_shift"])),
            ("centroid distance (1 - cosine)", f"{s['centroid_distance']:.4f}"),
        ], title="Semantic"))
        topics = g.topics.select(
            pl.col("name").alias("topic"), pl.col("share_baseline").alias("before"),
            pl.col("share_current").alias("after"), pl.col("change"), pl.col("direction"),
            pl.col("p_adjusted").map_elements(units.p_value, return_dtype=pl.String).alias("p (Holm)"))
        blocks.append(FrameBlock(topics, title="Topics", formats={"before": ".1%", "after": ".1%",
                                                                "change": "+.1%"}))
        for r in g.topics.iter_rows(named=True):
            if r["direction"] != "steady" and r["examples"]:
                blocks.append(Note(f"{r['direction']}: {r['name']} — e.g. " +
                                   " | ".join(f"“{e}”" for e in r["examples"]), style="dim"))
    sig = g.signals.select(
        pl.col("signal"), pl.col("test").replace({"two-proportion z": "2-prop z"}), "baseline", "current",
        pl.struct("effect", "effect_size").map_elements(_effect, return_dtype=pl.String).alias("effect"),
        pl.col("p_adjusted").map_elements(units.p_value, return_dtype=pl.String).alias("p (Holm)"),
        pl.when(pl.col("drifted")).then(pl.lit("DRIFT")).otherwise(pl.lit("")).alias("drift"))
    blocks.append(FrameBlock(sig, title="Signals", formats={"baseline": ",.4g", "current": ",.4g"}))
    untested = [f"{r['signal']} ({r['note']})" for r in g.signals.iter_rows(named=True) if r["p_value"] is None]
    if untested:
        blocks.append(Note("Not tested: " + ", ".join(untested), style="dim"))
    return blocks


def drift_blocks(result: DriftResult, notes: list[str], tz: str = "UTC") -> list[Block]:
    """What table and Markdown draw."""
    blocks: list[Block] = [
        Heading(result.title),
        Figures([
            ("baseline", units.span(result.baseline.start, result.baseline.end, tz, " – ")),
            ("current", units.span(result.current.start, result.current.end, tz, " – ")),
            ("verdict", f"DRIFT ({len(result.breaches)} finding{'s' if len(result.breaches) != 1 else ''})"
             if result.drifted else "no drift"),
            ("tests", f"{result.tests} at alpha {result.alpha:g}, {result.permutations:,} permutations"),
            ("sampling", f"up to {result.sample:,} requests per window (seed {result.seed})"),
        ]),
    ]
    if result.breaches:
        blocks.append(Note(items=list(result.breaches), style="bold"))
    for g in result.groups:
        blocks += _group_blocks(g, result)
    blocks.append(Note("Multiplicity: " + MULTIPLICITY + ".", style="dim"))
    for n in notes:
        blocks.append(Note("Note: " + n, style="yellow"))
    return blocks


register("DriftResult", Presentation("a drift report", ("drift",), drift_data, drift_blocks, table=drift_csv))
