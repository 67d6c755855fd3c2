"""Per-head scores: one number per layer and head that says what the head does. Every such number in
attnwidget (the widget's head grid, head-roles list and layer statistics, the comparisons between prompts,
the figures, `Extraction.attention_stats`, the command line's "most focused heads") is defined here once
and computed here, from one layer's maps at a time, in one pass over each map.

A layer's maps ``A`` are float32 ``[heads, seq, seq]``: row ``i`` the query, column ``j`` the key, rows
summing to 1. Sums are accumulated in float64.

``induction``
    Prefix matching (Olsson et al. 2022). For query ``i``, its targets are the positions that followed an
    earlier occurrence of the same token: ``T(i) = {j + 1 : j < i - 1, ids[j] == ids[i]}`` (``j + 1 < i``,
    so a token that repeats its neighbour does not count the diagonal). A query's score is
    ``Σ_{t ∈ T(i)} A[i, t]`` (all earlier occurrences count; the targets are distinct positions, so it is
    at most 1); the head's score is the mean over the queries whose ``T(i)`` is non-empty.
``previous_token``
    Mean of ``A[i, i - 1]`` over ``i = 1 .. seq - 1``.
``first_token``
    Mean over all query rows of ``A[i, 0]``: attention to the first position (where most language models
    park attention they do not need: the "attention sink", often a BOS token).
``self``
    Mean over query rows of the diagonal ``A[i, i]``.
``local``
    Mean over query rows of ``Σ_{|i - j| ≤ w} A[i, j]`` with ``w = LOCAL_WINDOW = 3``: the token itself and
    its three neighbours on each side (for causal models only the three before it carry weight).
``peak``
    Mean over query rows of the row's largest weight (1: every query looks at one key only).
``entropy``
    Mean over query rows of ``-Σ_j A[i, j] ln A[i, j]`` (nats, ``0 ln 0 = 0``). Low: focused heads. Ranked
    ascending (most focused first).
``normalized_entropy``
    The same row entropy divided by ``ln`` of the number of keys the query sees (``i + 1`` for query ``i`` of a
    causal model, ``seq`` otherwise), averaged over the rows that see at least two keys: 0 for a head that
    always attends to one key, 1 for a uniform one, whatever the prompt's length (so prompts of different
    lengths compare). Ranked ascending.

A mean over no queries is NaN: ``previous_token`` of a one-token prompt, ``induction`` when no token occurs
twice (more than one position apart), ``normalized_entropy`` when no row sees two keys. `top_heads` ranks
NaN last.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

LOCAL_WINDOW = 3


@dataclass(frozen=True)
class Score:
    """What the views, figures and README call a score and how they rank and colour it."""

    name: str
    #: A few words, for a menu, a column title or a figure's panel.
    title: str
    #: One line that says what the number is.
    label: str
    #: Ranked lowest first (entropy: the most focused heads first).
    ascending: bool = False
    #: Values lie in [0, 1] (a share of attention): colour scales span 0..1 so that colours compare
    #: across prompts and models. False: the scale spans the values present.
    unit_interval: bool = True


SCORES: dict[str, Score] = {
    score.name: score
    for score in (
        Score("induction", "induction", "attention to the token after an earlier occurrence of this token"),
        Score("previous_token", "previous token", "mean attention to the previous token"),
        Score("first_token", "first token", "mean attention to the first token (the attention sink)"),
        Score("self", "self", "mean attention to the token itself"),
        Score("local", f"local (±{LOCAL_WINDOW})", f"mean attention within ±{LOCAL_WINDOW} tokens"),
        Score("peak", "peak weight", "mean of each query's largest weight"),
        Score("entropy", "entropy", "mean row entropy (nats; low = focused)", ascending=True, unit_interval=False),
        Score(
            "normalized_entropy",
            "normalized entropy",
            "mean row entropy / ln(keys the query sees): 0 focused, 1 uniform",
            ascending=True,
        ),
    )
}
SCORE_NAMES = tuple(SCORES)
#: What the widget's layer-statistics view shows, in its order.
LAYER_STAT_NAMES = ("peak", "entropy", "first_token", "previous_token")
#: Scores that do not depend on the prompt's length: prompts of different lengths are compared by them.
LENGTH_FREE_NAMES = ("peak", "normalized_entropy", "first_token", "previous_token")
#: Names used by earlier versions, still accepted where a score is named (``head_scores()["bos"]``).
FORMER_NAMES = {"bos": "first_token"}

# Rows per block of the row sweep (entropy, peak): its temporaries stay ~8 MiB at 4096 tokens, where one of
# the whole map (600 MB for 9 heads) would cost more in fresh pages than the arithmetic.
_SWEEP_ROWS = 512
# Pairs of (query, target) gathered at once by `induction_scores` (bounds its memory on very repetitive
# prompts, where there are up to seq² / 2 pairs).
_PAIR_CHUNK = 1 << 20
_SWEPT = frozenset({"peak", "entropy", "normalized_entropy"})


def canonical_name(name: str) -> str:
    """A score's name, with a former name (`FORMER_NAMES`) replaced by today's."""
    return FORMER_NAMES.get(name, name)


class ScoreTable(dict[str, np.ndarray]):
    """``{score name: values}``; indexing by a former name (``"bos"``) finds today's (``"first_token"``)."""

    def __missing__(self, key: str) -> np.ndarray:
        if key in FORMER_NAMES:
            return self[FORMER_NAMES[key]]
        raise KeyError(key)


# ---- one layer's maps [heads, seq, seq] → [heads] -------------------------------------------------------
def _check_maps(maps: np.ndarray) -> None:
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
        raise ValueError(f"expected maps of shape [heads, seq, seq], got {maps.shape}")


def row_sweep(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entropy, peak), each float64 [heads, seq]: every query row's entropy ``-Σ p ln p`` (nats, 0 ln 0 = 0)
    and its largest weight. The one O(seq²) pass of the scores, a block of rows at a time.

    Through torch's elementwise kernels (``entr``, ``amax``) rather than numpy's: 0.24 s against 0.44 s for
    one SmolLM2 layer at 4096 tokens (9 × 4096², 2 CPU cores); terms in the maps' precision, sums in float64."""
    _check_maps(maps)
    import torch

    heads, seq, _ = maps.shape
    entropy = torch.zeros((heads, seq), dtype=torch.float64)
    peak = torch.zeros((heads, seq), dtype=torch.float64)
    source = torch.from_numpy(np.ascontiguousarray(maps if maps.dtype.kind == "f" else maps.astype(np.float64)))
    with torch.inference_mode():
        for head in range(heads):
            for start in range(0, seq, _SWEEP_ROWS):
                rows = source[head, start : start + _SWEEP_ROWS]
                entropy[head, start : start + rows.shape[0]] = torch.special.entr(rows).sum(-1, dtype=torch.float64)
                peak[head, start : start + rows.shape[0]] = rows.amax(-1)
    return entropy.numpy(), peak.numpy()


def row_entropy(maps: np.ndarray) -> np.ndarray:
    """float64 [heads, seq]: the entropy (nats) of every query row (see `row_sweep`)."""
    return row_sweep(maps)[0]


def keys_seen(seq: int, causal: bool) -> np.ndarray:
    """How many keys each query row sees: ``i + 1`` for query ``i`` of a causal model, else ``seq``."""
    return np.arange(1, seq + 1) if causal else np.full(seq, seq)


def _normalized(entropy_rows: np.ndarray, causal: bool) -> np.ndarray:
    seen = keys_seen(entropy_rows.shape[-1], causal)
    rows = seen >= 2
    if not rows.any():
        return np.full(entropy_rows.shape[0], np.nan)
    return (entropy_rows[:, rows] / np.log(seen[rows])).mean(axis=-1)


def entropy_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over query rows of ``-Σ p ln p`` (nats)."""
    return row_entropy(maps).mean(axis=-1)


def normalized_entropy_scores(maps: np.ndarray, causal: bool) -> np.ndarray:
    """float64 [heads]: mean over rows that see ≥ 2 keys of the row entropy / ln(keys seen)."""
    return _normalized(row_entropy(maps), causal)


def peak_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over query rows of the row's largest weight."""
    return row_sweep(maps)[1].mean(axis=-1)


def first_token_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over all query rows of ``A[i, 0]``."""
    _check_maps(maps)
    return maps[:, :, 0].mean(axis=-1, dtype=np.float64)


def _diagonal_sum(maps: np.ndarray, offset: int) -> np.ndarray:
    return np.diagonal(maps, offset=offset, axis1=1, axis2=2).sum(axis=-1, dtype=np.float64)


def previous_token_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean of ``A[i, i - 1]`` over ``i ≥ 1`` (NaN for a one-token prompt)."""
    _check_maps(maps)
    seq = maps.shape[1]
    if seq < 2:
        return np.full(maps.shape[0], np.nan)
    return _diagonal_sum(maps, -1) / (seq - 1)


def self_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean of the diagonal ``A[i, i]``."""
    _check_maps(maps)
    return _diagonal_sum(maps, 0) / maps.shape[1]


def local_scores(maps: np.ndarray, window: int = LOCAL_WINDOW) -> np.ndarray:
    """float64 [heads]: mean over query rows of the weight on keys ``j`` with ``|i - j| ≤ window``."""
    _check_maps(maps)
    if window < 0:
        raise ValueError(f"window must be ≥ 0, got {window}")
    seq = maps.shape[1]
    total = np.zeros(maps.shape[0])
    for offset in range(-min(window, seq - 1), min(window, seq - 1) + 1):
        total += _diagonal_sum(maps, offset)
    return total / seq


InductionPairs = tuple[np.ndarray, np.ndarray, int]


def induction_pairs(input_ids: np.ndarray) -> InductionPairs:
    """(queries, targets, number of scored queries): every pair ``(i, j + 1)`` with ``j < i - 1`` and
    ``ids[j] == ids[i]``, as two int64 arrays, and how many distinct queries ``i`` have one."""
    ids = np.asarray(input_ids).reshape(-1)
    order = np.argsort(ids, kind="stable")  # positions grouped by token, ascending within a group
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    queries: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for group in np.split(order, bounds):
        if len(group) < 2:
            continue
        later, earlier = np.tril_indices(len(group), k=-1)  # pairs (a, b) with b < a
        q, j = group[later], group[earlier]
        keep = j < q - 1
        queries.append(q[keep])
        targets.append(j[keep] + 1)
    if not queries:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    q_all = np.concatenate(queries).astype(np.int64)
    t_all = np.concatenate(targets).astype(np.int64)
    return q_all, t_all, int(np.unique(q_all).size)


def induction_scores(maps: np.ndarray, input_ids: np.ndarray, pairs: InductionPairs | None = None) -> np.ndarray:
    """float64 [heads]: prefix-matching score (see the module docstring); NaN when no query has a target.

    The mean over scored queries of each query's summed target weight equals the sum over all
    (query, target) pairs divided by the number of scored queries. `pairs` (from `induction_pairs`) can be
    passed to reuse them across layers."""
    _check_maps(maps)
    queries, targets, count = pairs if pairs is not None else induction_pairs(input_ids)
    if count == 0:
        return np.full(maps.shape[0], np.nan)
    total = np.zeros(maps.shape[0])
    for start in range(0, len(queries), _PAIR_CHUNK):
        q, t = queries[start : start + _PAIR_CHUNK], targets[start : start + _PAIR_CHUNK]
        total += maps[:, q, t].sum(axis=-1, dtype=np.float64)
    return total / count


def layer_scores(
    maps: np.ndarray,
    input_ids: np.ndarray,
    causal: bool = True,
    *,
    names: Collection[str] = SCORE_NAMES,
    window: int = LOCAL_WINDOW,
    pairs: InductionPairs | None = None,
) -> ScoreTable:
    """The scores `names` of one layer, ``{name: float64 [heads]}`` in `SCORE_NAMES` order, with one sweep
    over the rows for those that need one (peak, entropy, normalized entropy)."""
    _check_maps(maps)
    if maps.shape[-1] != len(np.asarray(input_ids).reshape(-1)):
        raise ValueError(f"maps cover {maps.shape[-1]} tokens but input_ids has {len(input_ids)}")
    unknown = set(names) - set(SCORE_NAMES)
    if unknown:
        raise ValueError(f"unknown scores {sorted(unknown)}; known: {', '.join(SCORE_NAMES)}")
    entropy_rows, peak_rows = row_sweep(maps) if _SWEPT & set(names) else (None, None)
    computed: dict[str, Any] = {
        "induction": lambda: induction_scores(maps, input_ids, pairs),
        "previous_token": lambda: previous_token_scores(maps),
        "first_token": lambda: first_token_scores(maps),
        "self": lambda: self_scores(maps),
        "local": lambda: local_scores(maps, window),
        "peak": lambda: peak_rows.mean(axis=-1),  # type: ignore[union-attr]
        "entropy": lambda: entropy_rows.mean(axis=-1),  # type: ignore[union-attr]
        "normalized_entropy": lambda: _normalized(entropy_rows, causal),  # type: ignore[arg-type]
    }
    return ScoreTable((name, computed[name]()) for name in SCORE_NAMES if name in names)


# ---- every layer ------------------------------------------------------------------------------------
class ScoreAccumulator:
    """Scores of every layer, fed one layer's maps at a time (`add`, or `tap` on an iterator that another
    consumer reads too, so that one pass over the maps serves both)."""

    def __init__(
        self,
        num_layers: int,
        num_heads: int,
        input_ids: np.ndarray,
        causal: bool = True,
        names: Collection[str] = SCORE_NAMES,
        window: int = LOCAL_WINDOW,
    ) -> None:
        self.input_ids = np.asarray(input_ids).reshape(-1)
        self.causal = causal
        self.names = [name for name in SCORE_NAMES if name in names]
        self.window = window
        self._pairs = induction_pairs(self.input_ids) if "induction" in self.names else None
        self._scores = {name: np.full((num_layers, num_heads), np.nan) for name in self.names}
        self._seen = np.zeros(num_layers, dtype=bool)

    def add(self, layer: int, maps: np.ndarray) -> ScoreTable:
        """Score one layer; returns its scores ``{name: [heads]}`` too."""
        scores = layer_scores(
            maps, self.input_ids, self.causal, names=self.names, window=self.window, pairs=self._pairs
        )
        for name, values in scores.items():
            self._scores[name][layer] = values
        self._seen[layer] = True
        return scores

    def tap(self, layers: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``layers`` unchanged, scoring each on the way."""
        for layer, maps in layers:
            self.add(layer, maps)
            yield layer, maps

    @property
    def complete(self) -> bool:
        return bool(self._seen.all())

    def result(self) -> ScoreTable:
        """``{name: float64 [layers, heads]}`` (copies)."""
        if not self.complete:
            missing = np.flatnonzero(~self._seen).tolist()
            raise ValueError(f"layers {missing} were never scored")
        return ScoreTable((name, values.copy()) for name, values in self._scores.items())


def head_scores(
    layers: Iterable[tuple[int, np.ndarray]],
    num_layers: int,
    num_heads: int,
    input_ids: np.ndarray,
    causal: bool = True,
    window: int = LOCAL_WINDOW,
) -> ScoreTable:
    """``{name: float64 [layers, heads]}`` from ``(layer, maps [heads, seq, seq])`` pairs."""
    accumulator = ScoreAccumulator(num_layers, num_heads, input_ids, causal, window=window)
    for layer, maps in layers:
        accumulator.add(layer, maps)
    return accumulator.result()


# ---- ranking ------------------------------------------------------------------------------------------
def top_heads(scores: np.ndarray, k: int | None = 10, *, ascending: bool = False) -> list[tuple[int, int, float]]:
    """The `k` best heads of one score ``[layers, heads]`` as ``(layer, head, value)`` (all with
    ``k=None``), highest first (lowest first with ``ascending=True``, as for entropy: see
    `Score.ascending`). NaN ranks last; ties keep (layer, head) order. The one ranking of heads in
    attnwidget (``js/ranking.ts`` is its mirror)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected scores of shape [layers, heads], got {values.shape}")
    if k is not None and k < 0:
        raise ValueError(f"k must be ≥ 0, got {k}")
    flat = values.reshape(-1)
    key = flat if ascending else -flat
    order = np.lexsort((np.arange(flat.size), np.where(np.isnan(key), np.inf, key), np.isnan(key)))
    heads = values.shape[1]
    return [(int(i // heads), int(i % heads), float(flat[i])) for i in order[:k]]


def focused_heads(scores: ScoreTable) -> list[tuple[int, int, float, float]]:
    """Every head as ``(layer, head, entropy, first_token)``, most focused first (lowest `entropy`), except
    that heads which mostly look at the first token (the attention sink: ``first_token ≥ 0.5``) come last:
    they are focused, but on nothing in particular. The first is a head whose map usually reads as a pattern.
    """
    entropy, first = scores["entropy"], scores["first_token"]
    heads = [
        (layer, head, float(entropy[layer, head]), float(first[layer, head]))
        for layer in range(entropy.shape[0])
        for head in range(entropy.shape[1])
    ]
    return sorted(heads, key=lambda h: (h[3] >= 0.5, h[2]))


def score_info() -> list[dict[str, Any]]:
    """Every score as the views receive it: ``{name, title, label, ascending, unit_interval}``."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "label": s.label,
            "ascending": s.ascending,
            "unit_interval": s.unit_interval,
        }
        for s in SCORES.values()
    ]
