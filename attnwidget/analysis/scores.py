"""Head-role scores: one number per layer and head that says what kind of head it is.

Every score is exact by its definition below, computed from one layer's maps ``A`` (float32
``[heads, seq, seq]``, row ``i`` the query, column ``j`` the key, rows summing to 1) at a time, so that
all maps are never held at once. Sums are accumulated in float64.

``entropy``
    Mean over query rows ``i`` of ``-Σ_j A[i, j] ln A[i, j]`` (nats, ``0 ln 0 = 0``). Low: focused heads.
    The one score ranked ascending (most focused first, `ASCENDING`).
``bos``
    Mean over all query rows of ``A[i, 0]``: attention to the first position (BOS / attention sink).
``previous_token``
    Mean of ``A[i, i - 1]`` over ``i = 1 .. seq - 1``.
``induction``
    Prefix matching (Olsson et al. 2022). For query ``i``, its targets are the positions that followed an
    earlier occurrence of the same token: ``T(i) = {j + 1 : j < i - 1, ids[j] == ids[i]}`` (``j + 1 < i``,
    so a token that repeats its neighbour does not count the diagonal). A query's score is
    ``Σ_{t ∈ T(i)} A[i, t]`` (all earlier occurrences count; the targets are distinct positions, so it is
    at most 1); the head's score is the mean over the queries whose ``T(i)`` is non-empty.
``self``
    Mean over query rows of the diagonal ``A[i, i]``.
``local``
    Mean over query rows of ``Σ_{|i - j| ≤ w} A[i, j]`` with ``w = LOCAL_WINDOW = 3``: the token itself and
    its three neighbours on each side (for causal models only the three before it carry weight).

A mean over no queries is NaN: ``previous_token`` of a one-token prompt, and ``induction`` when no token
occurs twice (more than one position apart). `top_heads` ranks NaN last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

SCORE_NAMES = ("induction", "previous_token", "bos", "self", "local", "entropy")
LOCAL_WINDOW = 3
SCORE_LABELS = {
    "induction": "attention to the token after an earlier occurrence of this token",
    "previous_token": "attention to the previous token",
    "bos": "attention to the first token",
    "self": "attention to the token itself",
    "local": f"attention within ±{LOCAL_WINDOW} tokens",
    "entropy": "mean row entropy (nats; low = focused)",
}
# Ranked low first: for entropy the interesting heads (most focused) have the smallest values.
ASCENDING = frozenset({"entropy"})
# Pairs of (query, target) gathered at once by `induction_scores` (bounds its memory on very repetitive
# prompts, where there are up to seq² / 2 pairs).
_PAIR_CHUNK = 1 << 20


# ---- one layer's maps [heads, seq, seq] → [heads] -------------------------------------------------------
def _check_maps(maps: np.ndarray) -> None:
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
        raise ValueError(f"expected maps of shape [heads, seq, seq], got {maps.shape}")


def entropy_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over query rows of ``-Σ p ln p`` (nats)."""
    _check_maps(maps)
    heads, seq, _ = maps.shape
    out = np.zeros(heads)
    tiny = np.finfo(maps.dtype).tiny if maps.dtype.kind == "f" else np.finfo(np.float64).tiny
    for h in range(heads):  # one head at a time: one temporary of [seq, seq], not [heads, seq, seq]
        p = maps[h]
        # p ln p with 0 ln 0 = 0: below the smallest normal float, p ln p is < 1e-36 and counts as 0.
        terms = np.maximum(p, tiny)
        np.log(terms, out=terms)
        terms *= p
        out[h] = -terms.sum(dtype=np.float64) / seq
    return out


def bos_scores(maps: np.ndarray) -> np.ndarray:
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


def induction_pairs(input_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(queries, targets, number of scored queries): every pair ``(i, j + 1)`` with ``j < i - 1`` and
    ``ids[j] == ids[i]``, as two int64 arrays, and how many distinct queries ``i`` have one."""
    ids = np.asarray(input_ids).reshape(-1)
    order = np.argsort(ids, kind="stable")  # positions grouped by token, ascending within a group
    sorted_ids = ids[order]
    bounds = np.flatnonzero(np.diff(sorted_ids)) + 1
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


def induction_scores(
    maps: np.ndarray, input_ids: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, int] | None = None
) -> np.ndarray:
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
    *,
    window: int = LOCAL_WINDOW,
    pairs: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> dict[str, np.ndarray]:
    """Every score of one layer: ``{name: float64 [heads]}`` in `SCORE_NAMES` order."""
    if maps.shape[-1] != len(np.asarray(input_ids).reshape(-1)):
        raise ValueError(f"maps cover {maps.shape[-1]} tokens but input_ids has {len(input_ids)}")
    return {
        "induction": induction_scores(maps, input_ids, pairs),
        "previous_token": previous_token_scores(maps),
        "bos": bos_scores(maps),
        "self": self_scores(maps),
        "local": local_scores(maps, window),
        "entropy": entropy_scores(maps),
    }


# ---- every layer ------------------------------------------------------------------------------------
class HeadScoreAccumulator:
    """Scores of every layer, fed one layer's maps at a time (`add`, or `tap` on an iterator that some
    other consumer reads too, so that one pass over the maps serves both)."""

    def __init__(self, num_layers: int, num_heads: int, input_ids: np.ndarray, window: int = LOCAL_WINDOW) -> None:
        self.input_ids = np.asarray(input_ids).reshape(-1)
        self.window = window
        self._pairs = induction_pairs(self.input_ids)
        self._scores = {name: np.full((num_layers, num_heads), np.nan) for name in SCORE_NAMES}
        self._seen = np.zeros(num_layers, dtype=bool)

    def add(self, layer: int, maps: np.ndarray) -> None:
        for name, values in layer_scores(maps, self.input_ids, window=self.window, pairs=self._pairs).items():
            self._scores[name][layer] = values
        self._seen[layer] = True

    def tap(self, layers: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``layers`` unchanged, scoring each on the way."""
        for layer, maps in layers:
            self.add(layer, maps)
            yield layer, maps

    @property
    def complete(self) -> bool:
        return bool(self._seen.all())

    def result(self) -> dict[str, np.ndarray]:
        if not self.complete:
            missing = np.flatnonzero(~self._seen).tolist()
            raise ValueError(f"layers {missing} were never scored")
        return {name: values.copy() for name, values in self._scores.items()}


def head_scores(
    layers: Iterable[tuple[int, np.ndarray]],
    num_layers: int,
    num_heads: int,
    input_ids: np.ndarray,
    window: int = LOCAL_WINDOW,
) -> dict[str, np.ndarray]:
    """``{name: float64 [layers, heads]}`` from ``(layer, maps [heads, seq, seq])`` pairs."""
    accumulator = HeadScoreAccumulator(num_layers, num_heads, input_ids, window)
    for layer, maps in layers:
        accumulator.add(layer, maps)
    return accumulator.result()


def top_heads(scores: np.ndarray, k: int = 10, *, ascending: bool = False) -> list[tuple[int, int, float]]:
    """The `k` best heads of one score ``[layers, heads]`` as ``(layer, head, value)``, highest first
    (lowest first with ``ascending=True``, as for entropy; see `ASCENDING`). NaN ranks last; ties keep
    (layer, head) order."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected scores of shape [layers, heads], got {values.shape}")
    if k < 0:
        raise ValueError(f"k must be ≥ 0, got {k}")
    flat = values.reshape(-1)
    key = flat if ascending else -flat
    order = np.lexsort((np.arange(flat.size), np.where(np.isnan(key), np.inf, key), np.isnan(key)))
    heads = values.shape[1]
    return [(int(i // heads), int(i % heads), float(flat[i])) for i in order[:k]]
