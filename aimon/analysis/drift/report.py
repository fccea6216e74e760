"""``aimon drift``: semantic drift and LLM-signal drift between a baseline and a current window.

Multiplicity: one run tests, per group, the semantic question and up to fourteen
signals. All of them form one family: their permutation p-values are Holm-adjusted
together (valid under any dependence between the tests), and a test counts as drift
only when its adjusted p-value is below ``alpha`` and its effect size reaches the
floor of its kind. The number of permutations grows with the family so that the
smallest Holm threshold (alpha / tests) can be reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimon.analysis.drift import data, semantic, signals
from aimon.analysis.drift import permutation as perm
from aimon.analysis.toolkit.stats import holm
from aimon.analysis.toolkit.window import Window

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from aimon.analysis.toolkit.embedding import EmbedStats

TOPIC_SHIFT_FLOOR = 0.05  # at least 5% of the texts moved between topics
MIN_UNITS = 20  # per window, before a coarser unit is given up for a finer one
EXAMPLES = 3
EXAMPLE_CHARS = 200


class TextField(StrEnum):
    response = "response"
    prompt = "prompt"


@dataclass(frozen=True)
class Settings:
    field: TextField = TextField.prompt
    alpha: float = 0.05
    permutations: int | None = None  # None: enough for the family (at least 999)
    topics: int | None = None  # None: chosen by silhouette
    show_pii: bool = False
    model: str | Path | None = None


@dataclass(frozen=True)
class GroupDrift:
    """One group's (all traffic, or one endpoint's) comparison."""

    group: str
    requests_baseline: int  # in the window
    requests_current: int
    sampled_baseline: int
    sampled_current: int
    unit: str  # user | session | request
    units_baseline: int
    units_current: int
    semantic: dict[str, Any] | None  # the semantic test, or None when too few texts
    topics: pl.DataFrame
    signals: pl.DataFrame


@dataclass(frozen=True)
class DriftResult:
    title: str
    baseline: Window
    current: Window
    field: str
    by: str | None
    endpoint: str | None
    sample: int
    seed: int
    alpha: float
    permutations: int
    tests: int
    groups: list[GroupDrift]
    drifted: bool
    breaches: list[str]
    embeddings: EmbedStats | None
    pii_shown: bool
    notes: list[str] = field(default_factory=list)


def _unit_level(frame: pl.DataFrame) -> str:
    """The coarsest unit with at least MIN_UNITS in each window."""
    import polars as pl

    for level in ("user", "session"):
        counts = frame.group_by("is_current").agg(pl.col(f"unit_{level}").n_unique().alias("n"))
        per_window = dict(zip(counts["is_current"].to_list(), counts["n"].to_list(), strict=True))
        if len(per_window) == 2 and min(per_window.values()) >= MIN_UNITS:
            return level
    return "request"


def _permutations(settings: Settings, groups: int) -> int:
    if settings.permutations:
        return settings.permutations
    family = groups * (1 + len(signals.SIGNALS))
    return max(999, math.ceil(2 * family / settings.alpha) - 1)


def _languages(texts: list[str | None]) -> np.ndarray:
    """The language of each text (py3langid), None where there is no text or no identifier."""
    out = np.full(len(texts), None, dtype=object)
    try:
        from py3langid import classify
    except ImportError:
        return out
    # Prompts repeat (templates, retries, popular questions): each distinct one is
    # classified once, which was a third of a warm run's CPU on 10,000 requests.
    known: dict[str, str] = {}
    for i, text in enumerate(texts):
        if text and text.strip():
            head = text[:300]
            lang = known.get(head)
            if lang is None:
                lang = known[head] = classify(head)[0]
            out[i] = lang
    return out


def _signal_tests(frame: pl.DataFrame, u: perm.Units, skip: set[str]) -> list[signals.SignalTest]:
    current = frame["is_current"].to_numpy()
    tests = []
    for sig in signals.SIGNALS:
        if sig.name in skip:
            continue
        if sig.name == "language":
            values = _languages(frame["prompt"].to_list())
        elif sig.kind == "mix":
            values = np.array(frame[sig.name].to_list(), dtype=object)
        else:
            values = frame[sig.name].cast(float).fill_null(float("nan")).to_numpy()
        tests.append(signals.test_signal(sig, values, current, u))
    return tests


def _text_rows(frame: pl.DataFrame, field_name: str) -> np.ndarray:
    texts = frame[field_name]
    return (texts.is_not_null() & (texts.str.strip_chars().str.len_chars() > 0)).to_numpy()


def _semantic(frame, vectors, rows, u, settings, seed, redact) -> tuple[dict | None, list[dict]]:
    current = frame["is_current"].to_numpy()
    cur = current[rows]
    if min(int(cur.sum()), int((~cur).sum())) < signals.MIN_VALUES:
        return None, []
    test = semantic.mmd_test(vectors, rows, current, u, seed)
    labels, centroids = semantic.cluster(vectors, settings.topics, seed)
    k = len(centroids)
    texts = [t for t, keep in zip(frame[settings.field.value].to_list(), rows, strict=True) if keep]
    shown = redact(texts) if not settings.show_pii else texts
    names = semantic.topic_names(shown, labels, k)
    shifts = semantic.topic_shifts(labels, k, rows, current, u, settings.alpha)
    picks = semantic.examples(vectors, labels, centroids, texts, EXAMPLES)
    for row in shifts:
        row["name"] = names[row["topic"]]
        row["examples"] = [_cut(shown[i]) for i in picks[row["topic"]]]
    shift = 0.5 * sum(abs(r["change"]) for r in shifts)
    return {"test": "MMD (Gaussian kernel, random features)", "n_baseline": int((~cur).sum()),
            "n_current": int(cur.sum()), "statistic": test.statistic, "p_value": test.p_value,
            "centroid_distance": test.centroid_distance, "bandwidth": test.bandwidth,
            "topics": k, "topic_shift": shift}, shifts


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXAMPLE_CHARS else flat[:EXAMPLE_CHARS - 1] + "…"


def run(con: duckdb.DuckDBPyConnection, scope: data.Scope, settings: Settings = Settings(),
        progress: Any = None) -> DriftResult:
    """Compare the two windows of ``scope``; embeds the sampled texts (cached)."""
    from aimon.analysis.pii.scan import redact_texts
    from aimon.analysis.toolkit import embedding

    embedding.require(settings.model)
    frame = data.sample_rows(con, scope)
    names = sorted(set(frame["grp"].to_list()))
    permutations = _permutations(settings, max(1, len(names)))
    rows_all = _text_rows(frame, settings.field.value)
    texts = [t for t, keep in zip(frame[settings.field.value].to_list(), rows_all, strict=True) if keep]
    vectors_all, stats = embedding.embed_with_stats(con, texts, model=settings.model, progress=progress) \
        if texts else (np.zeros((0, 1), np.float32), None)
    position = np.cumsum(rows_all) - 1
    skip = {"endpoint"} if (scope.by == "endpoint" or scope.endpoint is not None) else set()
    skip |= {scope.by} if scope.by else set()

    def redact(values: list[str]) -> list[str]:
        return [v or "" for v in redact_texts(con, values)]

    groups, raw = [], []
    with _one_thread():
        for gi, name in enumerate(names):
            raw.append(_group(frame, gi, name, rows_all, position, vectors_all, permutations, scope, settings,
                              skip, redact))
    _decide(raw, settings)
    for name, by_window, level, units_per, sem, shifts, tests in raw:
        groups.append(GroupDrift(
            group=name,
            requests_baseline=int((by_window.get(False) or {}).get("window_requests") or 0),
            requests_current=int((by_window.get(True) or {}).get("window_requests") or 0),
            sampled_baseline=int((by_window.get(False) or {}).get("sampled") or 0),
            sampled_current=int((by_window.get(True) or {}).get("sampled") or 0),
            unit=level, units_baseline=units_per[False], units_current=units_per[True],
            semantic=sem, topics=_topics_frame(shifts), signals=_signals_frame(tests)))
    breaches = _breaches(groups)
    tests_run = sum((1 if g.semantic else 0) + int(g.signals["p_value"].is_not_null().sum()) for g in groups)
    notes = _notes(scope, settings, groups, stats)
    title = "Drift" + (f" of {scope.endpoint}" if scope.endpoint else "")
    return DriftResult(title=title, baseline=scope.baseline, current=scope.current, field=settings.field.value,
                       by=scope.by, endpoint=scope.endpoint, sample=scope.sample, seed=scope.seed,
                       alpha=settings.alpha, permutations=permutations, tests=tests_run, groups=groups,
                       drifted=bool(breaches), breaches=breaches, embeddings=stats,
                       pii_shown=settings.show_pii, notes=notes)


def _one_thread() -> Any:
    """Run the tests on one thread of each native pool (BLAS, scikit-learn's OpenMP).

    Their matrices are small (at most 10,000 x 384, k-means on 32 components): threading
    them costs more in start-up and spin-waiting than it saves, and right after embedding
    OpenVINO's own workers still hold both cores. Measured on 5,000 against 5,000 (loaded
    2-core machine): clustering 6.0 -> 0.3 CPU seconds, the MMD test 0.66 -> 0.19."""
    import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _group(frame, gi, name, rows_all, position, vectors_all, permutations, scope, settings, skip, redact) -> tuple:
    """One group's units, semantic test, topics and signal tests (not yet Holm-adjusted)."""
    import polars as pl

    mask = (frame["grp"] == name).to_numpy()
    g = frame.filter(pl.Series(mask))
    level = _unit_level(g)
    u = perm.units(g[f"unit_{level}"].to_numpy(), g["is_current"].to_numpy(),
                   permutations=permutations, seed=scope.seed + gi)
    rows = rows_all[mask]
    vectors = vectors_all[position[mask][rows]] if rows.any() else np.zeros((0, 1), np.float32)
    sem, shifts = _semantic(g, vectors, rows, u, settings, scope.seed, redact) if rows.any() else (None, [])
    tests = _signal_tests(g, u, skip)
    counts = g.group_by("is_current").agg(pl.len().alias("sampled"), pl.col("window_requests").first())
    by_window = {r["is_current"]: r for r in counts.iter_rows(named=True)}
    units_per = {c: int(np.count_nonzero(u.in_current == c)) for c in (False, True)}
    return name, by_window, level, units_per, sem, shifts, tests


def _decide(raw: list, settings: Settings) -> None:
    """Holm over every test of every group; mark what drifted (in place)."""
    family: list[tuple[Any, Any]] = []
    for _name, _bw, _lvl, _units, sem, _shifts, tests in raw:
        if sem is not None:
            family.append((sem, None))
        family.extend((tests, i) for i in range(len(tests)))
    p_values = [(item["p_value"] if idx is None else item[idx].p_value) for item, idx in family]
    adjusted = holm(p_values)
    for (item, idx), p_adj in zip(family, adjusted, strict=True):
        if idx is None:
            item["p_adjusted"] = p_adj
            item["drifted"] = bool(p_adj is not None and p_adj < settings.alpha
                                   and item["topic_shift"] >= TOPIC_SHIFT_FLOOR)
        else:
            t = item[idx]
            floor = signals.effect_floor(t.effect)
            drifted = bool(p_adj is not None and p_adj < settings.alpha and floor is not None
                           and t.effect_size is not None and abs(t.effect_size) >= floor)
            item[idx] = (t, p_adj, drifted)


def _signals_frame(tests: list) -> pl.DataFrame:
    import polars as pl

    rows = [{"signal": t.signal, "label": t.label, "test": t.test, "n_baseline": t.n_baseline,
             "n_current": t.n_current, "baseline": t.baseline, "current": t.current,
             "statistic": t.statistic, "p_value": t.p_value, "p_adjusted": p_adj, "p_value_iid": t.p_value_iid,
             "effect": t.effect, "effect_size": t.effect_size, "wasserstein": t.wasserstein,
             "drifted": drifted, "note": t.note} for t, p_adj, drifted in tests]
    schema = {"signal": pl.String, "label": pl.String, "test": pl.String, "n_baseline": pl.Int64,
              "n_current": pl.Int64, "baseline": pl.Float64, "current": pl.Float64, "statistic": pl.Float64,
              "p_value": pl.Float64, "p_adjusted": pl.Float64, "p_value_iid": pl.Float64, "effect": pl.String,
              "effect_size": pl.Float64, "wasserstein": pl.Float64, "drifted": pl.Boolean, "note": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _topics_frame(shifts: list[dict]) -> pl.DataFrame:
    import polars as pl

    schema = {"topic": pl.Int64, "name": pl.String, "n_baseline": pl.Int64, "n_current": pl.Int64,
              "share_baseline": pl.Float64, "share_current": pl.Float64, "change": pl.Float64,
              "p_value": pl.Float64, "p_adjusted": pl.Float64, "direction": pl.String,
              "examples": pl.List(pl.String)}
    frame = pl.DataFrame([{k: r[k] for k in schema} for r in shifts], schema=schema)
    return frame.sort(["change", "topic"], descending=[True, False])


def _breaches(groups: list[GroupDrift]) -> list[str]:
    out = []
    for g in groups:
        where = "" if g.group == "all" else f"{g.group}: "
        if g.semantic and g.semantic["drifted"]:
            moved = [f"{r['name']} {r['change']:+.0%}" for r in g.topics.iter_rows(named=True)
                     if r["direction"] != "steady"]
            out.append(f"{where}semantic drift (p={g.semantic['p_adjusted']:.3g} after Holm, "
                       f"{g.semantic['topic_shift']:.0%} of texts changed topic)"
                       + (f": {', '.join(moved)}" if moved else ""))
        for r in g.signals.filter(g.signals["drifted"]).iter_rows(named=True):
            out.append(f"{where}{r['label']}: {r['effect']} {r['effect_size']:.3g} "
                       f"(p={r['p_adjusted']:.3g} after Holm)")
    return out


def _notes(scope: data.Scope, settings: Settings, groups: list[GroupDrift], stats: EmbedStats | None) -> list[str]:
    notes = []
    for g in groups:
        sampled = g.sampled_baseline < g.requests_baseline or g.sampled_current < g.requests_current
        where = "" if g.group == "all" else f"{g.group}: "
        if sampled:
            n = min(g.sampled_baseline, g.sampled_current)
            bound = 1.96 * math.sqrt(0.25 / max(n, 1))
            notes.append(f"{where}sampled {g.sampled_baseline:,} of {g.requests_baseline:,} baseline and "
                         f"{g.sampled_current:,} of {g.requests_current:,} current requests (seed {scope.seed}); "
                         f"shares are within ±{bound:.1%} at 95% for independent requests, wider when users "
                         "repeat themselves")
        if g.unit != "user":
            notes.append(f"{where}fewer than {MIN_UNITS} users per window: permutations move whole "
                         f"{g.unit}s instead")
        if g.semantic is None:
            notes.append(f"{where}too few {settings.field.value} texts for the semantic test")
    if stats is not None and stats.computed and not stats.stored:
        notes.append(f"{stats.computed:,} embeddings were computed in memory (the database was opened "
                     "read-only); they are stored afterwards when the database can be written")
    return notes
