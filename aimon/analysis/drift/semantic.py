"""Semantic drift: did what the texts are about change between two windows?

The test is a kernel two-sample test (maximum mean discrepancy, MMD) with a Gaussian
kernel on the embeddings, approximated by random Fourier features so that each
permutation costs a matrix product: the statistic is the squared distance between the
windows' mean feature vectors, and its p-value comes from dealing users (not requests)
between the windows again (:mod:`.permutation`). The kernel's width is the median
distance between embeddings (the usual heuristic), measured on a seeded subsample.

Beside the test: the cosine distance between the windows' centroids, and topics. The
embeddings of both windows are clustered together with k-means (seeded); each topic is
named by the words most distinctive of its texts (class-based TF-IDF), and its share
before and after is compared with the same unit permutations, Holm-corrected over the
topics, so "grew" and "shrank" are claims with a p-value behind them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aimon.analysis.drift import permutation as perm
from aimon.analysis.toolkit.stats import holm

FEATURES = 512  # random Fourier features (256 frequencies, cos and sin)
BANDWIDTH_SAMPLE = 1000
MAX_TOPICS = 10
PCA_COMPONENTS = 32
SELECT_SAMPLE = 1500  # texts the number of topics is chosen on
MIN_TOPIC_CHANGE = 0.02  # a topic "grew" or "shrank" only by at least 2 points of share
NAME_WORDS = 3
MIN_WORD_DOCS = 5  # a word names a topic only when at least this many texts use it
EXTRA_STOP_WORDS = frozenset({"redacted", "ll", "ve", "don", "didn", "doesn", "isn", "s", "t", "d", "m", "re"})


@dataclass(frozen=True)
class SemanticTest:
    statistic: float  # squared MMD estimate (random-feature approximation)
    p_value: float
    centroid_distance: float  # 1 - cosine of the two windows' mean embeddings
    bandwidth: float


def random_features(vectors: np.ndarray, bandwidth: float, seed: int) -> np.ndarray:
    """Random Fourier features of a Gaussian kernel exp(-|x-y|^2 / (2 bandwidth^2))."""
    rng = np.random.default_rng(seed)
    freqs = rng.standard_normal((vectors.shape[1], FEATURES // 2)) / bandwidth
    proj = vectors.astype(np.float64) @ freqs
    return np.hstack([np.cos(proj), np.sin(proj)]) / np.sqrt(FEATURES // 2)


def median_distance(vectors: np.ndarray, seed: int) -> float:
    """The median Euclidean distance between distinct embeddings of a seeded subsample."""
    rng = np.random.default_rng(seed)
    pick = vectors if len(vectors) <= BANDWIDTH_SAMPLE else vectors[rng.choice(len(vectors), BANDWIDTH_SAMPLE, replace=False)]
    sq = np.clip(2 - 2 * (pick @ pick.T), 0, None) if np.allclose(np.linalg.norm(pick[:5], axis=1), 1, atol=1e-3) \
        else ((pick[:, None, :] - pick[None, :, :]) ** 2).sum(-1)
    upper = np.sqrt(sq[np.triu_indices(len(pick), k=1)])
    upper = upper[upper > 1e-6]
    return float(np.median(upper)) if upper.size else 1.0


def mmd_test(vectors: np.ndarray, rows: np.ndarray, current: np.ndarray, u: perm.Units, seed: int) -> SemanticTest:
    """The semantic two-sample test on ``vectors`` (one per selected row of ``rows``)."""
    cur = current[rows]
    bandwidth = median_distance(vectors, seed)
    stat, permuted = perm.mean_distance(u, random_features(vectors, bandwidth, seed), rows)
    a, b = vectors[~cur].mean(axis=0), vectors[cur].mean(axis=0)
    cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return SemanticTest(statistic=stat, p_value=perm.p_value(stat, permuted), centroid_distance=1 - cos,
                        bandwidth=bandwidth)


def cluster(vectors: np.ndarray, k: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K-means topics (labels per text, unit-length centroids in embedding space).

    Clustering runs on the first principal components (fast, and topics live there);
    k, when not given, is the one with the best silhouette on a seeded subsample."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    if n < 4:
        return np.zeros(n, dtype=np.int64), _centroids(vectors, np.zeros(n, dtype=np.int64), 1)
    space = PCA(n_components=min(PCA_COMPONENTS, n - 1, vectors.shape[1]), random_state=seed) \
        .fit_transform(vectors.astype(np.float32))
    if k is None:
        rng = np.random.default_rng(seed)
        probe = space if n <= SELECT_SAMPLE else space[np.sort(rng.choice(n, SELECT_SAMPLE, replace=False))]
        best, best_score = 2, -2.0
        for cand in range(2, min(MAX_TOPICS, len(probe) - 1) + 1):
            labels = KMeans(n_clusters=cand, n_init=1, random_state=seed).fit_predict(probe)
            if len(np.unique(labels)) < 2:
                continue
            score = silhouette_score(probe, labels, random_state=seed)
            if score > best_score + 1e-9:
                best, best_score = cand, score
        k = best
    k = min(k, n)
    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(space).astype(np.int64)
    return labels, _centroids(vectors, labels, k)


def _centroids(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, vectors.shape[1]))
    np.add.at(out, labels, vectors)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def topic_names(texts: list[str], labels: np.ndarray, k: int) -> list[str]:
    """Each topic's most distinctive words (class-based TF-IDF over its texts)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS)
    try:
        vec = CountVectorizer(stop_words=stop, token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
                              min_df=min(MIN_WORD_DOCS, max(1, len(texts) // 20)))
        counts = vec.fit_transform(texts)
    except ValueError:  # no word is used often enough
        return [f"topic {i + 1}" for i in range(k)]
    words = np.array(vec.get_feature_names_out())
    per_topic = np.zeros((k, len(words)))
    for t in range(k):
        per_topic[t] = np.asarray(counts[labels == t].sum(axis=0)).ravel()
    tf = per_topic / np.maximum(per_topic.sum(axis=1, keepdims=True), 1)
    avg = per_topic.sum() / k
    idf = np.log(1 + avg / np.maximum(per_topic.sum(axis=0), 1))
    score = tf * idf
    names = []
    for t in range(k):
        order = np.lexsort((words, -score[t]))  # by score, then alphabetically: deterministic
        top = [words[i] for i in order[:NAME_WORDS] if score[t, i] > 0]
        names.append(" · ".join(top) if top else f"topic {t + 1}")
    return names


def topic_shifts(labels: np.ndarray, k: int, rows: np.ndarray, current: np.ndarray, u: perm.Units,
                 alpha: float) -> list[dict]:
    """Per topic: counts and shares before and after, and the permutation p-value of the
    change (Holm over the topics)."""
    cur = current[rows]
    out = []
    for t in range(k):
        member = np.zeros(len(current))
        member[rows] = labels == t
        z, permuted = perm.proportion_statistics(u, member, rows)
        nb, nc = int(((labels == t) & ~cur).sum()), int(((labels == t) & cur).sum())
        out.append({"topic": t, "n_baseline": nb, "n_current": nc,
                    "share_baseline": nb / max(int((~cur).sum()), 1),
                    "share_current": nc / max(int(cur.sum()), 1),
                    "p_value": perm.p_value(z, permuted)})
    for row, adjusted in zip(out, holm([r["p_value"] for r in out]), strict=True):
        row["change"] = row["share_current"] - row["share_baseline"]
        row["p_adjusted"] = adjusted
        moved = adjusted is not None and adjusted < alpha and abs(row["change"]) >= MIN_TOPIC_CHANGE
        row["direction"] = ("grew" if row["change"] > 0 else "shrank") if moved else "steady"
    return out


def examples(vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray, texts: list[str],
             per_topic: int) -> dict[int, list[int]]:
    """For each topic, the positions of its texts nearest its centroid (distinct texts)."""
    out: dict[int, list[int]] = {}
    for t in range(len(centroids)):
        members = np.flatnonzero(labels == t)
        order = members[np.lexsort((members, -(vectors[members] @ centroids[t])))]
        picked: list[int] = []
        seen: set[str] = set()
        for i in order:
            if texts[i] not in seen:
                seen.add(texts[i])
                picked.append(int(i))
            if len(picked) == per_topic:
                break
        out[t] = picked
    return out
