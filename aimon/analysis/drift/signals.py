"""Drift of the LLM signals between two windows, the test chosen by the signal's type.

- numeric (lengths, latency, TTFT, tokens, cost per request): Kolmogorov-Smirnov D with
  a permutation p-value; Wasserstein distance and the population stability index (PSI,
  ten bins at the baseline's deciles) as effect sizes;
- rates (errors, refusals, truncations): the pooled two-proportion z-test, Cohen's h as
  the effect size;
- mixes (model, endpoint, prompt version, language): Pearson's chi-square on the window
  x category table, PSI over the categories as the effect size.

Each statistic equals scipy's (``ks_2samp``, ``wasserstein_distance``,
``chi2_contingency(correction=False)``) and statsmodels' ``proportions_ztest``;
tests/test_drift_stats.py checks it. The p-value that decides comes from permuting users
(see :mod:`.permutation`); scipy's p-value, which assumes independent requests, is kept
beside it as ``p_value_iid``. A signal drifts when its Holm-adjusted p-value is below
alpha *and* its effect size reaches a floor: with thousands of requests a trivial shift
is "significant", and a gate in CI must not fire for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aimon.analysis.drift import permutation as perm

PSI_FLOOR = 0.1  # conventional "moderate shift" (0.25: major)
COHEN_H_FLOOR = 0.1  # e.g. an error rate going from 1.5% to 3%
MIN_VALUES = 20  # per window, below which a signal is not tested
EPS = 1e-4  # share given to an empty bin in PSI
TOP_CATEGORIES = 12  # rarer categories are pooled as "(other)"


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str  # numeric | rate | mix
    label: str


SIGNALS: tuple[Signal, ...] = (
    Signal("response_chars", "numeric", "response length (chars)"),
    Signal("prompt_chars", "numeric", "prompt length (chars)"),
    Signal("latency_ms", "numeric", "latency (ms)"),
    Signal("ttft_ms", "numeric", "time to first token (ms)"),
    Signal("input_tokens", "numeric", "input tokens"),
    Signal("output_tokens", "numeric", "output tokens"),
    Signal("cost_usd", "numeric", "cost per request (USD)"),
    Signal("error", "rate", "error rate"),
    Signal("refusal", "rate", "refusal rate"),
    Signal("truncated", "rate", "truncation rate"),
    Signal("model", "mix", "model mix"),
    Signal("endpoint", "mix", "endpoint mix"),
    Signal("prompt_version", "mix", "prompt version mix"),
    Signal("language", "mix", "language mix"),
)


@dataclass(frozen=True)
class SignalTest:
    """One signal's comparison of the two windows."""

    signal: str
    label: str
    test: str
    n_baseline: int
    n_current: int
    baseline: float | None  # mean, rate, or share of the top category
    current: float | None
    statistic: float | None
    p_value: float | None  # permutation of units
    p_value_iid: float | None  # scipy's, as if requests were independent
    effect: str | None  # psi | cohen_h
    effect_size: float | None
    wasserstein: float | None = None
    note: str | None = None


def psi(base: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index of two share vectors: sum (c - b) * ln(c / b)."""
    b = np.maximum(base / max(base.sum(), 1e-300), EPS)
    c = np.maximum(cur / max(cur.sum(), 1e-300), EPS)
    return float(((c - b) * np.log(c / b)).sum())


def decile_counts(base: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in bins cut at the baseline's deciles (ties merge bins)."""
    edges = np.unique(np.quantile(base, np.linspace(0.1, 0.9, 9)))
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return b.astype(float), c.astype(float)


def _numeric(sig: Signal, values: np.ndarray, cur_rows: np.ndarray, u: perm.Units) -> SignalTest:
    from scipy import stats as st

    present = np.isfinite(values)
    b, c = values[present & ~cur_rows], values[present & cur_rows]
    if min(b.size, c.size) < MIN_VALUES:
        return _untested(sig, b.size, c.size, "KS")
    d, permuted = perm.ks_statistics(u, values, present)
    return SignalTest(sig.name, sig.label, "KS", b.size, c.size, float(b.mean()), float(c.mean()), d,
                      perm.p_value(d, permuted), float(st.ks_2samp(b, c).pvalue), "psi",
                      psi(*decile_counts(b, c)), wasserstein=float(st.wasserstein_distance(b, c)))


def cohen_h(p1: float, p2: float) -> float:
    """Cohen's h: the difference of arcsine-transformed proportions."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def _rate(sig: Signal, values: np.ndarray, cur_rows: np.ndarray, u: perm.Units) -> SignalTest:
    from aimon.analysis.toolkit.stats import two_proportion_z

    present = np.isfinite(values)
    b, c = values[present & ~cur_rows], values[present & cur_rows]
    if min(b.size, c.size) < MIN_VALUES:
        return _untested(sig, b.size, c.size, "two-proportion z")
    if b.sum() + c.sum() == 0:
        return SignalTest(sig.name, sig.label, "two-proportion z", b.size, c.size, 0.0, 0.0, 0.0, 1.0, 1.0,
                          "cohen_h", 0.0, note="none in either window")
    z, permuted = perm.proportion_statistics(u, values > 0.5, present)
    _, p_iid = two_proportion_z(int(c.sum()), c.size, int(b.sum()), b.size)
    return SignalTest(sig.name, sig.label, "two-proportion z", b.size, c.size, float(b.mean()), float(c.mean()),
                      z, perm.p_value(z, permuted), p_iid, "cohen_h", cohen_h(float(c.mean()), float(b.mean())))


def _mix(sig: Signal, values: np.ndarray, cur_rows: np.ndarray, u: perm.Units) -> SignalTest:
    from scipy import stats as st

    present = values != None  # noqa: E711 - an object array of labels
    labels = values[present].astype(str)
    if min(int((present & ~cur_rows).sum()), int((present & cur_rows).sum())) < MIN_VALUES:
        return _untested(sig, int((present & ~cur_rows).sum()), int((present & cur_rows).sum()), "chi-square")
    names, counts = np.unique(labels, return_counts=True)
    keep = names[np.argsort(-counts, kind="stable")][:TOP_CATEGORIES]
    labels = np.where(np.isin(labels, keep), labels, "(other)")
    names, codes_present = np.unique(labels, return_inverse=True)
    codes = np.zeros(len(values), dtype=np.int64)
    codes[present] = codes_present
    table = np.zeros((2, names.size))
    np.add.at(table, (cur_rows[present].astype(int), codes_present), 1)
    top = int(np.argmax(table[0])) if table[0].sum() else int(np.argmax(table[1]))
    shares = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    if names.size < 2:
        return SignalTest(sig.name, sig.label, "chi-square", int(table[0].sum()), int(table[1].sum()),
                          1.0, 1.0, 0.0, 1.0, 1.0, "psi", 0.0, note=f"one value: {names[0]}")
    chi2, permuted = perm.chi_square_statistics(u, codes, present, names.size)
    p_iid = float(st.chi2_contingency(table, correction=False).pvalue)
    return SignalTest(sig.name, sig.label, "chi-square", int(table[0].sum()), int(table[1].sum()),
                      float(shares[0, top]), float(shares[1, top]), chi2, perm.p_value(chi2, permuted), p_iid,
                      "psi", psi(table[0], table[1]), note=f"share of {names[top]}")


def _untested(sig: Signal, nb: int, nc: int, test: str) -> SignalTest:
    return SignalTest(sig.name, sig.label, test, nb, nc, None, None, None, None, None, None, None,
                      note=f"fewer than {MIN_VALUES} values in a window" if nb + nc else "not logged")


def test_signal(sig: Signal, values: np.ndarray, current: np.ndarray, u: perm.Units) -> SignalTest:
    """Compare one signal's values (one per row, NaN/None when missing) between windows."""
    if sig.kind == "numeric":
        return _numeric(sig, values.astype(np.float64), current, u)
    if sig.kind == "rate":
        return _rate(sig, values.astype(np.float64), current, u)
    return _mix(sig, values, current, u)


def effect_floor(effect: str | None) -> float | None:
    """The effect size a test must reach to count as drift."""
    return {"psi": PSI_FLOOR, "cohen_h": COHEN_H_FLOOR}.get(effect or "")
