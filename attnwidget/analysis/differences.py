"""How much each attention head changes between prompts: the numbers behind `CompareWidget`.

Every distance below lies in [0, 1] (0: the same, 1: as different as possible) and is computed for each
layer and head. With more than two prompts a head's score is the mean of its distance over every pair.

Map distances (only when every prompt has the same number of tokens, so that row i of one map and row i
of the other are the same query position):

``js``
    Jensen-Shannon divergence in bits between the two maps' rows, averaged over query rows:
    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q) / 2``, with ``0 log 0 = 0``.
``tv``
    Total variation between the rows, averaged over query rows: ``½ Σ_j |p_j − q_j|``.

Score distance (any lengths: it compares what each head does, not where; the only one for the cross-attention
of encoder-decoder runs, whose scores over the source are peak, normalized entropy and first-token attention,
the previous-token score being undefined there):

``stats``
    The mean over the length-free scores of `attnwidget.analysis.scores` (`STAT_NAMES`: peak weight,
    normalized entropy, first-token and previous-token attention, each in [0, 1]) of ``|s_a − s_b|``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import numpy as np

from .scores import LENGTH_FREE_NAMES, SCORES, ScoreTable, layer_scores, top_heads

#: The scores compared by the ``stats`` metric, in the order of `HeadDifferences.statistics`.
STAT_NAMES = LENGTH_FREE_NAMES
METRICS = ("js", "tv", "stats")


def stats_label(names: Collection[str] = STAT_NAMES) -> str:
    """What the ``stats`` metric is, over the scores `names` it is defined for (all of `STAT_NAMES`, or those
    a cross-attention map has)."""
    return "mean |difference| of " + ", ".join(SCORES[name].title for name in STAT_NAMES if name in names)


METRIC_LABELS = {
    "js": "Jensen-Shannon divergence (bits) per query row, averaged",
    "tv": "total variation ½Σ|Δ| per query row, averaged",
    "stats": stats_label(),
}


class AttentionSource(Protocol):
    """What the comparison reads of a prompt (an `attnwidget.Extraction` is one)."""

    @property
    def num_layers(self) -> int: ...
    @property
    def num_heads(self) -> int: ...
    @property
    def seq_len(self) -> int: ...
    @property
    def is_causal(self) -> bool: ...
    @property
    def input_ids(self) -> np.ndarray: ...
    def iter_attention(self) -> Iterator[tuple[int, np.ndarray]]: ...


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
    """Per-head distances between prompts and the scores they come from.

    Attributes
    ----------
    scores : {metric: float32 [layers, heads]} for every metric in `metrics`.
    metrics : the metrics computed: ``("js", "tv", "stats")`` when every prompt has the same length,
        ``("stats",)`` otherwise.
    statistics : float32 [prompts, len(STAT_NAMES), layers, heads]: each prompt's length-free scores.
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
        return top_heads(self.scores[metric], k)


class DifferenceAccumulator:
    """`HeadDifferences`, fed one layer of every prompt at a time (so a caller's own pass over the maps,
    the compare widget's thumbnails, serves it too)."""

    def __init__(self, sources: Sequence[AttentionSource]) -> None:
        first = sources[0]
        self.count = len(sources)
        self.pairs = list(combinations(range(self.count), 2))
        # Map distances compare row i of one map with row i of the other, over the same keys: prompts of one
        # length, and not cross-attention (an encoder-decoder run's, whose keys are each run's own source).
        cross = any(getattr(s, "stack", None) == "cross" for s in sources)
        self.metrics = METRICS if len({s.seq_len for s in sources}) == 1 and not cross else ("stats",)
        shape = (first.num_layers, first.num_heads)
        self._sums = {metric: np.zeros(shape) for metric in self.metrics}
        self._statistics = np.zeros((self.count, len(STAT_NAMES), *shape))

    def add(self, layer: int, maps: Sequence[np.ndarray], scores: Sequence[ScoreTable]) -> None:
        """One layer: every prompt's maps [heads, n, n] and its scores (with at least `STAT_NAMES`)."""
        for prompt, table in enumerate(scores):
            self._statistics[prompt, :, layer] = [table[name] for name in STAT_NAMES]
        for a, b in self.pairs:
            if "js" in self._sums:
                self._sums["js"][layer] += js_rows(maps[a], maps[b]).mean(axis=-1)
                self._sums["tv"][layer] += tv_rows(maps[a], maps[b]).mean(axis=-1)
            change = np.abs(self._statistics[a, :, layer] - self._statistics[b, :, layer])
            # A score undefined for a prompt (NaN, e.g. a one-token prompt) does not count.
            defined = ~np.isnan(change)
            self._sums["stats"][layer] += np.where(defined, change, 0.0).sum(axis=0) / np.maximum(
                defined.sum(axis=0), 1
            )

    def result(self) -> HeadDifferences:
        return HeadDifferences(
            scores={metric: (total / len(self.pairs)).astype(np.float32) for metric, total in self._sums.items()},
            metrics=self.metrics,
            statistics=self._statistics.astype(np.float32),
            pairs=self.pairs,
        )


def head_differences(sources: Sequence[AttentionSource]) -> HeadDifferences:
    """Per-head distances between two or more extractions of one model (see the module docstring)."""
    accumulator = DifferenceAccumulator(sources)
    for per_prompt in zip(*(s.iter_attention() for s in sources)):
        layer = per_prompt[0][0]
        maps = [m for _, m in per_prompt]
        tables = [layer_scores(m, s.input_ids, s.is_causal, names=STAT_NAMES) for s, m in zip(sources, maps)]
        accumulator.add(layer, maps, tables)
    return accumulator.result()
