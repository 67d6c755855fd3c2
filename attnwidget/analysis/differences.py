"""How much each attention head changes between prompts: the numbers behind `CompareWidget`.

Every distance below lies in [0, 1] (0: the same, 1: as different as possible) and is computed for each
layer and head. With more than two prompts a head's score is the mean of its distance over every pair.

Map distances (only when every prompt has the same number of tokens, so that row i of one map and row i
of the other are the same query position):

``js``
    Jensen-Shannon divergence in bits between the two maps' rows, averaged over query rows:
    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q) / 2``, with ``0 log 0 = 0``.
``tv``
    Total variation between the rows, averaged over query rows: ``½ Σ_j |p_j − q_j|`` (the mean
    absolute difference of the row, times its length, halved).

Statistic distance (any lengths: it compares what each head does, not where):

``stats``
    The mean over the four head statistics of `head_statistics` of ``|s_a − s_b|``.

`head_statistics` gives, per head, four numbers in [0, 1] that do not grow with the prompt's length:

``peak``      mean over query rows of the row's largest weight;
``entropy``   mean over query rows that see at least two keys of the row's entropy divided by the log of
              the number of keys it sees (``i + 1`` for query ``i`` of a causal model, ``n`` otherwise):
              0 for a head that always attends to one key, 1 for a uniform head;
``first``     mean over query rows of the weight on the first token;
``previous``  mean over query rows ``i ≥ 1`` of the weight on token ``i − 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..engine.extraction import Extraction
from ..widgets import encode

HEAD_STAT_NAMES = ("peak", "entropy", "first", "previous")
HEAD_STAT_LABELS = {
    "peak": "mean largest weight of a query",
    "entropy": "mean row entropy / log(keys seen)",
    "first": "mean attention to the first token",
    "previous": "mean attention to the previous token",
}
METRICS = ("js", "tv", "stats")
METRIC_LABELS = {
    "js": "Jensen-Shannon divergence (bits) per query row, averaged",
    "tv": "total variation ½Σ|Δ| per query row, averaged",
    "stats": "mean |difference| of peak, normalised entropy, first- and previous-token attention",
}


def head_statistics(maps: np.ndarray, causal: bool) -> np.ndarray:
    """float64 [len(HEAD_STAT_NAMES), heads] for one layer's maps [heads, n, n] (see the module docstring)."""
    maps = np.asarray(maps, dtype=np.float64)
    heads, n, _ = maps.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(maps > 0, maps * np.log(np.where(maps > 0, maps, 1.0)), 0.0)
    entropy = -terms.sum(axis=-1)  # [heads, n]
    keys_seen = np.arange(1, n + 1) if causal else np.full(n, n)
    rows = keys_seen >= 2
    normalised = (entropy[:, rows] / np.log(keys_seen[rows])).mean(axis=-1) if rows.any() else np.zeros(heads)
    previous = np.diagonal(maps, offset=-1, axis1=1, axis2=2).mean(axis=-1) if n > 1 else np.zeros(heads)
    return np.stack([maps.max(axis=-1).mean(axis=-1), normalised, maps[:, :, 0].mean(axis=-1), previous])


def js_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (bits) between matching rows of p and q [..., n] → [...]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
        return terms.sum(axis=-1)

    return np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)


def tv_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total variation ½ Σ |p − q| between matching rows [..., n] → [...]."""
    diff = np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64)
    return np.abs(diff).sum(axis=-1) / 2


@dataclass
class HeadDifferences:
    """Per-head distances between prompts and the statistics they come from.

    Attributes
    ----------
    scores : {metric: float32 [layers, heads]} for every metric in `metrics`.
    metrics : the metrics computed: ``("js", "tv", "stats")`` when every prompt has the same length,
        ``("stats",)`` otherwise.
    statistics : float32 [prompts, len(HEAD_STAT_NAMES), layers, heads] (see `head_statistics`).
    pairs : the prompt pairs each score averages over.
    """

    scores: dict[str, np.ndarray]
    metrics: tuple[str, ...]
    statistics: np.ndarray
    pairs: list[tuple[int, int]]

    def ranking(self, metric: str, k: int | None = None) -> list[tuple[int, int, float]]:
        """(layer, head, score) of the heads that change most, largest first (ties: lower layer, head)."""
        if metric not in self.scores:
            raise ValueError(f"metric must be one of {', '.join(map(repr, self.metrics))}, got {metric!r}")
        scores = self.scores[metric]
        order = np.lexsort((np.arange(scores.size), -scores.ravel()))
        heads = scores.shape[1]
        top = order if k is None else order[:k]
        return [(int(i // heads), int(i % heads), float(scores.ravel()[i])) for i in top]


def same_length(extractions: Sequence[Extraction]) -> bool:
    return len({ex.seq_len for ex in extractions}) == 1


def compute(
    extractions: Sequence[Extraction], thumbnail_budget: int = encode.THUMBNAIL_BUDGET
) -> tuple[HeadDifferences, list[np.ndarray]]:
    """One pass over every layer of every prompt: (differences, uint8 thumbnails [L, H, T, T] per prompt).

    The thumbnails (see `attnwidget.encode`) share `thumbnail_budget` bytes between the prompts.
    """
    count = len(extractions)
    first = extractions[0]
    layers, heads = first.num_layers, first.num_heads
    pairs = list(combinations(range(count), 2))
    with_maps = same_length(extractions)
    metrics = METRICS if with_maps else ("stats",)
    scores = {metric: np.zeros((layers, heads), dtype=np.float64) for metric in metrics}
    statistics = np.zeros((count, len(HEAD_STAT_NAMES), layers, heads), dtype=np.float64)
    sides = [encode.thumbnail_size(layers * heads, ex.seq_len, thumbnail_budget // count) for ex in extractions]
    thumbnails = [np.zeros((layers, heads, s, s), dtype=np.uint8) for s in sides]
    for per_prompt in zip(*(ex.iter_attention() for ex in extractions)):
        layer = per_prompt[0][0]
        maps = [m for _, m in per_prompt]
        for i, (ex, layer_maps) in enumerate(zip(extractions, maps)):
            statistics[i, :, layer] = head_statistics(layer_maps, ex.is_causal)
            thumbnails[i][layer] = encode.compand_uint8(encode.max_pool(layer_maps, sides[i]))
        for a, b in pairs:
            if with_maps:
                scores["js"][layer] += js_rows(maps[a], maps[b]).mean(axis=-1)
                scores["tv"][layer] += tv_rows(maps[a], maps[b]).mean(axis=-1)
            scores["stats"][layer] += np.abs(statistics[a, :, layer] - statistics[b, :, layer]).mean(axis=0)
    result = HeadDifferences(
        scores={metric: (value / len(pairs)).astype(np.float32) for metric, value in scores.items()},
        metrics=metrics,
        statistics=statistics.astype(np.float32),
        pairs=pairs,
    )
    return result, thumbnails


def head_differences(extractions: Sequence[Extraction]) -> HeadDifferences:
    """Per-head distances between two or more extractions of one model (see the module docstring)."""
    return compute(extractions)[0]
