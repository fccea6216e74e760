"""Permutation tests whose exchangeable unit is a user (or session), not a request.

Requests of one user (one session, one conversation) resemble each other: a session
keeps its topic, a heavy user keeps their habits. Shuffling single requests between the
two windows pretends they are independent, so any test that does so flags two halves of
stable traffic far more often than its nominal level (tests/test_drift_stats.py shows it).
Here the requests of one unit in one window move together: each permutation deals the
units, not the requests, between baseline and current, keeping the number of units on
each side. The p-value is ``(1 + #{permuted >= observed}) / (1 + permutations)``, valid
for any statistic; the same permutations serve every test of a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Statistics within this relative tolerance of the observed one count as ties (>=), so
# rounding in a sum taken in another order never makes a p-value too small.
TIE = 1e-9


@dataclass(frozen=True)
class Units:
    """The rows of both windows, each assigned to a unit within its window."""

    index: np.ndarray  # per row: its unit's number, 0..n_units-1
    in_current: np.ndarray  # per unit: True for a unit of the current window
    labels: np.ndarray  # (permutations, n_units) bool: current-window membership when dealt again

    @property
    def n_units(self) -> int:
        return int(self.in_current.size)

    @property
    def permutations(self) -> int:
        return int(self.labels.shape[0])


def units(unit_ids: np.ndarray, current: np.ndarray, *, permutations: int, seed: int) -> Units:
    """Units from per-row unit ids and window flags; a unit seen in both windows is two
    units (one per window). Permutations are drawn once from ``seed``."""
    key = np.char.add(np.where(current, "c:", "b:").astype(str), unit_ids.astype(str))
    uniq, index = np.unique(key, return_inverse=True)
    in_current = np.char.startswith(uniq.astype(str), "c:")
    rng = np.random.default_rng(seed)
    n_cur = int(in_current.sum())
    labels = np.zeros((permutations, uniq.size), dtype=bool)
    for p in range(permutations):
        labels[p, rng.permutation(uniq.size)[:n_cur]] = True
    return Units(index=index.astype(np.int64), in_current=in_current, labels=labels)


def p_value(observed: float, permuted: np.ndarray) -> float:
    """The permutation p-value of ``observed`` against the permuted statistics."""
    if not np.isfinite(observed):
        return 1.0
    hits = int(np.count_nonzero(permuted >= observed * (1 - TIE) - TIE))
    return (1 + hits) / (1 + permuted.size)


def unit_sums(u: Units, values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Per-unit sums of ``values`` (rows x k, or rows) over the rows selected by ``rows``."""
    idx = u.index if rows is None else u.index[rows]
    vals = values if values.ndim == 2 else values[:, None]
    out = np.zeros((u.n_units, vals.shape[1]), dtype=np.float64)
    np.add.at(out, idx, vals)
    return out


def mean_distance(u: Units, features: np.ndarray, rows: np.ndarray | None = None,
                  chunk: int = 256) -> tuple[float, np.ndarray]:
    """Squared distance between the two windows' mean feature vectors (request-weighted),
    observed and for every permutation: the MMD statistic when the features are a kernel's
    random features, the centroid distance when they are the embeddings themselves."""
    sums = unit_sums(u, features, rows)
    counts = unit_sums(u, np.ones(len(features)), rows)[:, 0]

    def stat(labels: np.ndarray) -> np.ndarray:
        lab = labels.astype(np.float64)
        n_cur = lab @ counts
        n_base = counts.sum() - n_cur
        cur = (lab @ sums) / np.maximum(n_cur, 1)[:, None]
        base = ((1 - lab) @ sums) / np.maximum(n_base, 1)[:, None]
        return ((cur - base) ** 2).sum(axis=1)

    observed = float(stat(u.in_current[None, :])[0])
    permuted = np.concatenate([stat(u.labels[i:i + chunk]) for i in range(0, u.permutations, chunk)])
    return observed, permuted


def ks_statistics(u: Units, values: np.ndarray, rows: np.ndarray, chunk: int = 128) -> tuple[float, np.ndarray]:
    """The two-sample Kolmogorov-Smirnov statistic D of ``values`` (over ``rows``), observed
    and for every permutation of the units."""
    vals = values[rows]
    order = np.argsort(vals, kind="stable")
    sorted_vals = vals[order]
    unit_of = u.index[rows][order]
    # D is taken where a run of equal values ends (the empirical CDFs step there).
    ends = np.flatnonzero(np.r_[sorted_vals[1:] != sorted_vals[:-1], True])

    def stat(labels: np.ndarray) -> np.ndarray:
        cur = labels[:, unit_of]
        n_cur = cur.sum(axis=1)
        n_base = cur.shape[1] - n_cur
        cum_cur = np.cumsum(cur, axis=1, dtype=np.int64)[:, ends]
        cum_base = (ends + 1)[None, :] - cum_cur
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.abs(cum_cur / n_cur[:, None] - cum_base / n_base[:, None]).max(axis=1)
        return np.where((n_cur > 0) & (n_base > 0), d, 0.0)

    observed = float(stat(u.in_current[None, :])[0])
    permuted = np.concatenate([stat(u.labels[i:i + chunk]) for i in range(0, u.permutations, chunk)])
    return observed, permuted


def _two_proportion_z(k_cur: np.ndarray, n_cur: np.ndarray, k_base: np.ndarray, n_base: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k_cur + k_base) / (n_cur + n_base)
        var = pooled * (1 - pooled) * (1 / n_cur + 1 / n_base)
        z = (k_cur / n_cur - k_base / n_base) / np.sqrt(var)
    return np.where(var > 0, np.abs(z), 0.0)


def proportion_statistics(u: Units, hits: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray]:
    """|z| of the pooled two-proportion test, observed and per permutation."""
    k = unit_sums(u, hits[rows].astype(np.float64), rows)[:, 0]
    n = unit_sums(u, np.ones(int(rows.sum()) if rows.dtype == bool else len(rows)), rows)[:, 0]

    def stat(labels: np.ndarray) -> np.ndarray:
        lab = labels.astype(np.float64)
        kc, nc = lab @ k, lab @ n
        return _two_proportion_z(kc, nc, k.sum() - kc, n.sum() - nc)

    return float(stat(u.in_current[None, :])[0]), stat(u.labels)


def chi_square_statistics(u: Units, codes: np.ndarray, rows: np.ndarray, categories: int) -> tuple[float, np.ndarray]:
    """Pearson's chi-square of the window x category table, observed and per permutation."""
    onehot = np.zeros((len(codes), categories))
    onehot[np.arange(len(codes)), codes] = 1
    counts = unit_sums(u, onehot[rows], rows)
    total = counts.sum(axis=0)

    def stat(labels: np.ndarray) -> np.ndarray:
        cur = labels.astype(np.float64) @ counts
        base = total[None, :] - cur
        table = np.stack([base, cur], axis=1)  # (p, 2, categories)
        expected = table.sum(axis=2, keepdims=True) * table.sum(axis=1, keepdims=True) / table.sum(axis=(1, 2), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            terms = np.where(expected > 0, (table - expected) ** 2 / expected, 0.0)
        return terms.sum(axis=(1, 2))

    return float(stat(u.in_current[None, :])[0]), stat(u.labels)
