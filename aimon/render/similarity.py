"""How `aimon similarity`, `aimon similarity consistency` and `aimon cost
cache-opportunity` read: JSON contracts (keys in docs/similarity.md) and blocks.

Texts arrive redacted from the analysis unless --show-pii was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimon.render import Block, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.similarity import CacheOpportunity, Consistency, GoldenReport


def gate_message(verdict: Any) -> str:
    """The message of a failed --fail-on-below gate (exit 1)."""
    (b,) = verdict.breaches
    return f"{b.figures['answers']} answer(s) below similarity {b.figures['threshold']} (--fail-on-below)"


def _window(w: Any) -> dict[str, Any]:
    return {"start": w.start, "end": w.end}


def _notes(notes: list[str]) -> list[Block]:
    return [Note("Note: " + n, style="yellow") for n in notes]


def golden_data(r: GoldenReport, notes: list[str]) -> dict[str, Any]:
    """The JSON contract of `aimon similarity --golden FILE --format json`."""
    s = r.embeddings
    return {
        "window": _window(r.window), "threshold": r.threshold, "match_threshold": r.match_threshold,
        "sampling": {"per_window": r.sample, "seed": r.seed, "considered": r.requests_considered,
                     "answered_requests": r.requests_in_window,
                     "sampled": r.requests_considered < r.requests_in_window},
        "questions": r.questions, "daily": r.daily, "flagged": r.flagged,
        "embeddings": None if s is None else {"model": s.model, "computed": s.computed, "from_cache": s.from_cache},
        "pii_shown": r.pii_shown, "notes": notes,
    }


def golden_blocks(r: GoldenReport, notes: list[str], tz: str = "UTC") -> list[Block]:
    matched = int(r.questions["answers"].sum())
    blocks: list[Block] = [
        Heading(r.title),
        Figures([("window", units.span(r.window.start, r.window.end, tz, " – ")),
                 ("answers matched to a golden question", f"{matched:,} of {r.requests_considered:,} considered"),
                 ("below similarity", f"{r.flagged.height:,} under {r.threshold:g}"),
                 ("sampling", f"up to {r.sample:,} answered requests (seed {r.seed})")]),
        FrameBlock(r.questions.drop("question"), title="By golden question",
                   formats={"mean_similarity": ".3f", "min_similarity": ".3f", "share_below": ".1%"}),
    ]
    if r.daily.height:
        blocks.append(FrameBlock(r.daily, title="Per question per day",
                                 formats={"mean_similarity": ".3f", "share_below": ".1%"}))
    if r.flagged.height:
        blocks.append(FrameBlock(r.flagged, title="Answers below the threshold (worst first)",
                                 formats={"similarity": ".3f"}))
    return blocks + _notes(notes)


def consistency_data(r: Consistency, notes: list[str]) -> dict[str, Any]:
    """The JSON contract of `aimon similarity consistency --format json`."""
    return {"window": _window(r.window), "min_asked": r.min_asked, "prompts": r.prompts,
            "pii_shown": r.pii_shown, "notes": notes}


def consistency_blocks(r: Consistency, notes: list[str]) -> list[Block]:
    blocks: list[Block] = [Heading(r.title)]
    if r.prompts.height:
        blocks.append(FrameBlock(r.prompts, title=f"Prompts asked at least {r.min_asked} times, least consistent first",
                                 formats={"mean_similarity": ".3f", "min_similarity": ".3f"}))
    else:
        blocks.append(Note(f"No prompt was asked {r.min_asked} or more times with different answers."))
    return blocks + _notes(notes)


def cache_data(r: CacheOpportunity, notes: list[str]) -> dict[str, Any]:
    """The JSON contract of `aimon cost cache-opportunity --format json`."""
    return {"window": _window(r.window), "similarity": r.similarity, "totals": r.totals,
            "by_endpoint": r.by_endpoint, "examples": r.examples, "pii_shown": r.pii_shown, "notes": notes}


def cache_blocks(r: CacheOpportunity, notes: list[str], tz: str = "UTC") -> list[Block]:
    t = r.totals
    blocks: list[Block] = [
        Heading(r.title),
        Figures([("window", units.span(r.window.start, r.window.end, tz, " – ")),
                 ("hit rate", units.MISSING if t["hit_rate"] is None else f"{units.pct(t['hit_rate'])} of {t['requests']:,} requests"),
                 ("would have saved", f"{units.money(t['saved_usd'])} of {units.money(t['cost_usd'])}"),
                 ("near-duplicate at", f"cosine >= {r.similarity:g}, same endpoint, earlier request")]),
        FrameBlock(r.by_endpoint, title="By endpoint", formats={"hit_rate": ".1%", "cost_usd": "usd",
                                                                 "saved_usd": "usd", "saved_share": ".1%"}),
    ]
    if r.examples.height:
        blocks.append(FrameBlock(r.examples, title="Near-duplicates (examples)", formats={"similarity": ".3f"}))
    return blocks + _notes(notes)


register("GoldenReport", Presentation("a golden-set report", ("similarity",), golden_data, golden_blocks,
                                      table=lambda report: report.questions))
register("Consistency", Presentation("a consistency report", ("similarity consistency",), consistency_data,
                                     consistency_blocks, table=lambda result: result.prompts))
register("CacheOpportunity", Presentation("a cache opportunity", ("cost cache-opportunity",), cache_data,
                                          cache_blocks, table=lambda result: result.by_endpoint))
