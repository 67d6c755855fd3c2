"""Per-head scores: one number per layer and head that says what the head does. Every such number in
attnwidget (the widget's head grid, head-roles list and layer statistics, the comparisons between prompts,
the figures, `Extraction.attention_stats`, the command line's "most focused heads") is defined here once
and computed here (`LayerScorer`), from one layer's maps a block of query rows at a time, in one pass over
each map: whole maps (`layer_scores`), or blocks as `Extraction.iter_pooled_attention` computes them, with
each row's entropy and peak taken from the softmax's own numbers (`row_softmax`).

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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

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
_SWEPT = frozenset({"peak", "entropy", "normalized_entropy"})
#: Scores that do not depend on the prompt's length: prompts of different lengths are compared by them.
LENGTH_FREE_NAMES = ("peak", "normalized_entropy", "first_token", "previous_token")
#: Names used by earlier versions, still accepted where a score is named (``head_scores()["bos"]``).
FORMER_NAMES = {"bos": "first_token"}

# Rows per block when a whole map is scored (`layer_scores`): the temporaries of the row statistics stay
# ~8 MiB at 4096 tokens, where whole-map ones (600 MB for 9 heads) would cost more in fresh pages than the
# arithmetic.
_SWEEP_ROWS = 512
# Pairs of (query, target) gathered at once for the induction score (bounds its memory on very repetitive
# prompts, where there are up to seq² / 2 pairs).
_PAIR_CHUNK = 1 << 20


def canonical_name(name: str) -> str:
    """A score's name, with a former name (`FORMER_NAMES`) replaced by today's."""
    return FORMER_NAMES.get(name, name)


class ScoreTable(dict[str, np.ndarray]):
    """``{score name: values}``; indexing by a former name (``"bos"``) finds today's (``"first_token"``)."""

    def __missing__(self, key: str) -> np.ndarray:
        if key in FORMER_NAMES:
            return self[FORMER_NAMES[key]]
        raise KeyError(key)


# ---- one layer, a block of query rows at a time ------------------------------------------------------
def _check_maps(maps: np.ndarray) -> None:
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
        raise ValueError(f"expected maps of shape [heads, seq, seq], got {maps.shape}")


def row_softmax(logits: torch.Tensor, finite_keys: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(weights, entropy, peak)``: the softmax over the last axis of `logits` ``[..., keys]`` (−∞ where a
    key is masked; a row masked whole gives zeros, as `LayerAttentionInputs.weights` makes it), and every
    row's entropy (nats) and largest weight, float32 ``[...]``. `logits` is overwritten. `finite_keys`: how
    many leading keys hold no −∞ in any row (a causal block's keys before its first row), which saves a pass.

    The weights are bitwise those of ``torch.softmax(logits)``: the rows are first shifted by their maximum
    ``m``, which is what the softmax itself subtracts (``x - m - 0 == x - m``). The statistics come from the
    same numbers without a logarithm per weight: with ``z = Σ exp(s - m)`` the largest weight is ``1 / z``
    (``exp(0) / z``) and ``-Σ p ln p = ln z - Σ p (s - m)``, a sum of non-negative terms (no cancellation).
    Per weight that is one multiply-add against ``entr``'s logarithm: 0.6 against 7.6 ns on one core."""
    import torch

    top = logits.amax(-1, keepdim=True)
    logits.sub_(top)  # ≤ 0; NaN in a row masked whole (−∞ − −∞)
    weights = torch.softmax(logits, dim=-1)
    masked_rows = bool(torch.isinf(top).any())
    if masked_rows:
        weights.nan_to_num_(nan=0.0)
    peak = weights.amax(-1)
    # Masked keys (weight 0) add nothing to the sum below: 0 instead of −∞ (0 · −∞ is NaN).
    logits[..., finite_keys:].nan_to_num_(nan=0.0, neginf=0.0)
    entropy = logits.mul_(weights).sum(-1).neg_().sub_(peak.log())
    if masked_rows:
        entropy.masked_fill_(peak == 0, 0.0)
    return weights, entropy, peak


class LayerScorer:
    """The scores of one layer, fed its maps a block of query rows at a time (`add_rows`): the one
    implementation of every score's definition (see the module docstring). A block is float
    ``[heads, rows, keys]``, torch on any device or numpy; keys beyond a block's last column count as 0
    (a causal layer's block may stop at its last row's own position). Sums are taken in float64; what each
    block adds stays on its device until `result`."""

    def __init__(
        self,
        num_heads: int,
        input_ids: np.ndarray,
        causal: bool = True,
        names: Collection[str] = SCORE_NAMES,
        window: int = LOCAL_WINDOW,
        pairs: InductionPairs | None = None,
        indices: dict[Any, Any] | None = None,
        keys: int | None = None,
    ) -> None:
        unknown = set(names) - set(SCORE_NAMES)
        if unknown:
            raise ValueError(f"unknown scores {sorted(unknown)}; known: {', '.join(SCORE_NAMES)}")
        if window < 0:
            raise ValueError(f"window must be ≥ 0, got {window}")
        self.names = [name for name in SCORE_NAMES if name in names]
        self.num_heads = num_heads
        self.seq = len(np.asarray(input_ids).reshape(-1))
        self.causal = causal
        # Keys every query row sees when they are another text's tokens (cross-attention: the source's
        # length); None: the maps are square (``seq``, or ``i + 1`` for a causal one).
        self.keys = keys
        self.window = window
        self._rows_wanted = bool(_SWEPT & set(self.names))
        # The offsets of A[i, i + offset] that the diagonal scores read.
        wanted = set()
        if "local" in self.names:
            wanted |= set(range(-min(window, self.seq - 1), min(window, self.seq - 1) + 1))
        if "previous_token" in self.names and self.seq > 1:
            wanted.add(-1)
        if "self" in self.names:
            wanted.add(0)
        self._offsets = sorted(wanted)
        self._pairs: InductionPairs | None = None
        if "induction" in self.names:
            queries, targets, count = pairs if pairs is not None else induction_pairs(input_ids)
            if np.any(np.diff(queries) < 0):  # each block reads its queries' pairs as one slice
                order = np.argsort(queries, kind="stable")
                queries, targets = queries[order], targets[order]
            self._pairs = (queries, targets, count)
        # Index tensors of the diagonals and pairs per block (start, rows, keys, device), shared by the
        # scorers of every layer of one pass (`ScoreAccumulator.scorer`): every layer has the same blocks.
        self._indices: dict[Any, Any] = {} if indices is None else indices
        # What each block added: {part: [tensor, ...]}, reduced and copied to the host by `result`.
        self._parts: dict[str, list[Any]] = {"entropy": [], "peak": [], "first": [], "diagonals": [], "induction": []}
        self._rows_seen = 0

    def add_rows(self, start: int, weights: Any, entropy: Any | None = None, peak: Any | None = None) -> None:
        """Query rows ``start .. start + len`` of the layer's maps, ``weights [heads, rows, keys]``, and
        optionally their rows' `entropy` and `peak` ``[heads, rows]`` (from `row_softmax`); without them they
        are computed here from the weights (``entr``: a logarithm per weight)."""
        import torch

        if isinstance(weights, np.ndarray):  # a view (torch reads numpy's strides), a copy only if read-only
            weights = torch.from_numpy(weights if weights.flags.writeable else weights.copy())
        block = weights
        if not block.is_floating_point():
            block = block.double()
        heads, rows, keys = block.shape
        parts = self._parts
        with torch.inference_mode():
            if self._rows_wanted:
                if entropy is None or peak is None:
                    entropy = torch.special.entr(block).sum(-1, dtype=torch.float64)
                    peak = block.amax(-1)
                parts["entropy"].append(entropy)
                parts["peak"].append(peak)
            if "first_token" in self.names:
                parts["first"].append(block[:, :, 0].sum(-1, dtype=torch.float64))
            columns, inside = None, None
            pair_chunks: list[Any] = []
            if self._offsets or self._pairs is not None:
                columns, inside, pair_chunks = self._block_indices(start, rows, keys, block.device)
            if columns is not None and self._offsets:
                # Row i's keys i + offset, all offsets in one gather (keys outside 0..keys-1 count as 0).
                picked = block.gather(2, columns.expand(heads, rows, len(self._offsets)))
                parts["diagonals"].append((picked * inside).sum(1, dtype=torch.float64))
            for q, t, flat in pair_chunks:  # targets precede their query: within the block's keys
                picked = block.reshape(heads, -1).index_select(1, flat) if block.is_contiguous() else block[:, q, t]
                parts["induction"].append(picked.sum(-1, dtype=torch.float64))
        self._rows_seen += rows

    def _block_indices(self, start: int, rows: int, keys: int, device: Any) -> tuple[Any, Any, list[Any]]:
        """(diagonal columns [rows, offsets] clamped to the keys, where they are inside [rows, offsets],
        [(query rows, targets, query row · keys + target), ...] of the induction pairs whose query is in the
        block)."""
        import torch

        key = (start, rows, keys, str(device))
        found = self._indices.get(key)
        if found is None:
            offsets = torch.tensor(self._offsets, dtype=torch.int64, device=device)
            columns = torch.arange(start, start + rows, device=device)[:, None] + offsets
            inside = ((columns >= 0) & (columns < keys)).to(torch.float32)
            chunks = []
            if self._pairs is not None:
                queries, targets, _count = self._pairs
                low, high = (int(i) for i in np.searchsorted(queries, [start, start + rows]))
                for first in range(low, high, _PAIR_CHUNK):
                    last = min(high, first + _PAIR_CHUNK)
                    q = torch.from_numpy(queries[first:last] - start).to(device)
                    t = torch.from_numpy(targets[first:last]).to(device)
                    chunks.append((q, t, q * keys + t))  # and their places in the flattened block
            found = (columns.clamp_(0, max(keys - 1, 0)), inside, chunks)
            self._indices[key] = found
        return found  # type: ignore[no-any-return]

    def result(self) -> ScoreTable:
        """``{name: float64 [heads]}`` in `SCORE_NAMES` order, once every query row was added."""
        if self._rows_seen != self.seq:
            raise ValueError(f"{self._rows_seen} query rows were scored, the maps have {self.seq}")
        seq, heads = self.seq, self.num_heads
        parts = self._parts

        def rows(name: str) -> np.ndarray:  # [heads, seq]
            return np.concatenate([_host(part) for part in parts[name]], axis=-1)

        def total(name: str, shape: tuple[int, ...]) -> np.ndarray:
            return sum((_host(part) for part in parts[name]), np.zeros(shape))

        nan = np.full(heads, np.nan)
        entropy = rows("entropy") if self._rows_wanted else None
        diagonals = dict(zip(self._offsets, total("diagonals", (heads, len(self._offsets))).T))
        pairs = self._pairs
        computed: dict[str, Any] = {
            "induction": lambda: nan if pairs is None or pairs[2] == 0 else total("induction", (heads,)) / pairs[2],
            "previous_token": lambda: nan if seq < 2 else diagonals[-1] / (seq - 1),
            "first_token": lambda: total("first", (heads,)) / seq,
            "self": lambda: diagonals[0] / seq,
            "local": lambda: sum(diagonals[o] for o in self._offsets if abs(o) <= self.window) / seq,
            "peak": lambda: rows("peak").mean(axis=-1),
            "entropy": lambda: entropy.mean(axis=-1),  # type: ignore[union-attr]
            "normalized_entropy": lambda: _normalized(entropy, self.causal, self.keys),  # type: ignore[arg-type]
        }
        return ScoreTable((name, np.asarray(computed[name](), dtype=np.float64)) for name in self.names)

    def row_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(entropy, peak), each float64 [heads, seq]: every query row's, once every row was added."""
        parts = self._parts
        return tuple(np.concatenate([_host(p) for p in parts[name]], axis=-1) for name in ("entropy", "peak"))  # type: ignore[return-value]


def _host(values: Any) -> np.ndarray:
    """float64 numpy of a small torch result (on any device)."""
    return values.detach().to("cpu").double().numpy()  # type: ignore[no-any-return]


def _score_maps(
    maps: np.ndarray,
    input_ids: np.ndarray | None,
    causal: bool,
    names: Collection[str],
    window: int = LOCAL_WINDOW,
    pairs: InductionPairs | None = None,
) -> ScoreTable:
    """Whole maps ``[heads, seq, seq]`` through a `LayerScorer`, `_SWEEP_ROWS` query rows at a time."""
    _check_maps(maps)
    seq = maps.shape[-1]
    ids = np.zeros(seq, np.int64) if input_ids is None else np.asarray(input_ids).reshape(-1)
    if len(ids) != seq:
        raise ValueError(f"maps cover {seq} tokens but input_ids has {len(ids)}")
    scorer = LayerScorer(maps.shape[0], ids, causal, names, window, pairs)
    if maps.dtype.kind != "f":
        maps = maps.astype(np.float64)
    for start in range(0, seq, _SWEEP_ROWS):
        scorer.add_rows(start, maps[:, start : start + _SWEEP_ROWS])
    return scorer.result()


def row_sweep(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entropy, peak), each float64 [heads, seq]: every query row's entropy ``-Σ p ln p`` (nats, 0 ln 0 = 0)
    and its largest weight, as `LayerScorer` takes them from weights alone."""
    _check_maps(maps)
    scorer = LayerScorer(maps.shape[0], np.zeros(maps.shape[-1], np.int64), names=("entropy", "peak"))
    if maps.dtype.kind != "f":
        maps = maps.astype(np.float64)
    for start in range(0, maps.shape[-1], _SWEEP_ROWS):
        scorer.add_rows(start, maps[:, start : start + _SWEEP_ROWS])
    return scorer.row_statistics()


def row_entropy(maps: np.ndarray) -> np.ndarray:
    """float64 [heads, seq]: the entropy (nats) of every query row (see `row_sweep`)."""
    return row_sweep(maps)[0]


def keys_seen(seq: int, causal: bool) -> np.ndarray:
    """How many keys each query row sees: ``i + 1`` for query ``i`` of a causal model, else ``seq``."""
    return np.arange(1, seq + 1) if causal else np.full(seq, seq)


def _normalized(entropy_rows: np.ndarray, causal: bool, keys: int | None = None) -> np.ndarray:
    rows_count = entropy_rows.shape[-1]
    seen = keys_seen(rows_count, causal) if keys is None else np.full(rows_count, keys)
    rows = seen >= 2
    if not rows.any():
        return np.full(entropy_rows.shape[0], np.nan)
    return (entropy_rows[:, rows] / np.log(seen[rows])).mean(axis=-1)


def entropy_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over query rows of ``-Σ p ln p`` (nats)."""
    return _score_maps(maps, None, True, ("entropy",))["entropy"]


def normalized_entropy_scores(maps: np.ndarray, causal: bool) -> np.ndarray:
    """float64 [heads]: mean over rows that see ≥ 2 keys of the row entropy / ln(keys seen)."""
    return _score_maps(maps, None, causal, ("normalized_entropy",))["normalized_entropy"]


def peak_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over query rows of the row's largest weight."""
    return _score_maps(maps, None, True, ("peak",))["peak"]


def first_token_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean over all query rows of ``A[i, 0]``."""
    return _score_maps(maps, None, True, ("first_token",))["first_token"]


def previous_token_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean of ``A[i, i - 1]`` over ``i ≥ 1`` (NaN for a one-token prompt)."""
    return _score_maps(maps, None, True, ("previous_token",))["previous_token"]


def self_scores(maps: np.ndarray) -> np.ndarray:
    """float64 [heads]: mean of the diagonal ``A[i, i]``."""
    return _score_maps(maps, None, True, ("self",))["self"]


def local_scores(maps: np.ndarray, window: int = LOCAL_WINDOW) -> np.ndarray:
    """float64 [heads]: mean over query rows of the weight on keys ``j`` with ``|i - j| ≤ window``."""
    return _score_maps(maps, None, True, ("local",), window)["local"]


InductionPairs = tuple[np.ndarray, np.ndarray, int]


def induction_pairs(input_ids: np.ndarray) -> InductionPairs:
    """(queries, targets, number of scored queries): every pair ``(i, j + 1)`` with ``j < i - 1`` and
    ``ids[j] == ids[i]``, as two int64 arrays ordered by query, and how many distinct queries ``i`` have
    one."""
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
    order = np.lexsort((t_all, q_all))
    return q_all[order], t_all[order], int(np.unique(q_all).size)


def induction_scores(maps: np.ndarray, input_ids: np.ndarray, pairs: InductionPairs | None = None) -> np.ndarray:
    """float64 [heads]: prefix-matching score (see the module docstring); NaN when no query has a target.

    The mean over scored queries of each query's summed target weight equals the sum over all
    (query, target) pairs divided by the number of scored queries. `pairs` (from `induction_pairs`) can be
    passed to reuse them across layers."""
    _check_maps(maps)
    return _score_maps(maps, input_ids, True, ("induction",), pairs=pairs)["induction"]


def layer_scores(
    maps: np.ndarray,
    input_ids: np.ndarray,
    causal: bool = True,
    *,
    names: Collection[str] = SCORE_NAMES,
    window: int = LOCAL_WINDOW,
    pairs: InductionPairs | None = None,
) -> ScoreTable:
    """The scores `names` of one layer's whole maps, ``{name: float64 [heads]}`` in `SCORE_NAMES` order
    (a `LayerScorer` fed the maps a block of rows at a time)."""
    return _score_maps(maps, input_ids, causal, names, window, pairs)


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
        self._heads = num_heads
        self._indices: dict[Any, Any] = {}  # shared by the scorers of every layer (same blocks)
        self._scores = {name: np.full((num_layers, num_heads), np.nan) for name in self.names}
        self._seen = np.zeros(num_layers, dtype=bool)

    def add(self, layer: int, maps: np.ndarray) -> ScoreTable:
        """Score one layer; returns its scores ``{name: [heads]}`` too."""
        scores = layer_scores(
            maps, self.input_ids, self.causal, names=self.names, window=self.window, pairs=self._pairs
        )
        return self.put(layer, scores)

    def scorer(self) -> LayerScorer:
        """A `LayerScorer` for one layer with this accumulator's settings, for a caller that computes the
        maps a block of rows at a time (hand its `result()` to `put`)."""
        return LayerScorer(
            self._heads, self.input_ids, self.causal, self.names, self.window, self._pairs, self._indices
        )

    def put(self, layer: int, scores: ScoreTable) -> ScoreTable:
        """Keep one layer's scores ``{name: [heads]}`` (from `add`, or from a `scorer()`); returns them."""
        for name in self.names:
            self._scores[name][layer] = scores[name]
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
