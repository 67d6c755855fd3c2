"""Arrays → compact bytes for the browser. The one place that decides how numbers travel.

The widget (`widget.py`) and the standalone HTML export both use these functions, and `js/decode.ts`
reads what they write. Every encoding is little-endian, C order, and described here:

thumbnails
    uint8 ``[layers, heads, T, T]``; ``T = thumbnail_size(...) ≤ 128``. Square-root companded:
    a byte ``q`` stands for the weight ``(q / 255) ** 2``, so weights down to ~1.5e-5 stay non-zero.
    When ``seq_len > T`` the map is max-pooled over the bins ``pool_edges(seq_len, T)`` so that
    one-token-wide stripes (diagonal, previous-token, induction) survive.
attention map (the selected head)
    float16 of side ``n = min(seq_len, MAP_MAX_SIZE)`` (max-pooled as above when ``seq_len > n``).
    Layout ``"lower"`` (causal models): row ``i`` holds its ``i + 1`` values ``[0..i]``, rows
    concatenated, ``n (n + 1) / 2`` values. Layout ``"full"``: ``n × n`` values.
attention window (a zoomed part of the selected head, requested by the heatmap)
    float16 ``[rows, cols]``, layout ``"full"``, row-major: queries ``q0..q1``, keys ``k0..k1`` (half-open)
    of the exact map, each axis max-pooled over ``pool_edges(q1 - q0, rows)`` (resp. keys) when longer than
    ``MAP_MAX_SIZE``; masked (later) keys of a causal map are 0. See `encode_attention_window`.
stats
    float32 ``[len(STAT_NAMES), layers, heads]``, see `STAT_NAMES`.
neurons
    float16 ``[k, seq_len]``: the ``k`` neurons of one layer with the largest variance over tokens,
    most variable first (their indices travel as JSON ints).
prediction probabilities
    float16 ``[seq_len, k]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

# The grid's thumbnails get at most this many bytes in all; 30 x 9 heads gives 64² each.
THUMBNAIL_BUDGET = 1_200_000
THUMBNAIL_MAX_SIZE = 128
# The selected head is sent at full resolution up to this side, max-pooled above it: 1024² float16 in
# the lower triangle is 1 MiB, which keeps the initial state under 3 MiB at any length.
MAP_MAX_SIZE = 1024
# Every message must stay far below Tornado's 10 MiB limit.
MESSAGE_LIMIT = 8 * 1024 * 1024
FLOAT16_MAX = 65504.0

STAT_NAMES = ("peak", "entropy", "first", "previous")
STAT_LABELS = {
    "peak": "mean of each query's largest weight",
    "entropy": "mean row entropy (nats)",
    "first": "mean attention to the first token",
    "previous": "mean attention to the previous token",
}


# ---- pooling ---------------------------------------------------------------------------------------
def pool_edges(length: int, bins: int) -> np.ndarray:
    """Bin edges ``floor(i * length / bins)`` for ``i = 0..bins``: every bin non-empty when bins ≤ length."""
    if bins < 1 or bins > length:
        raise ValueError(f"bins must be in 1..{length}, got {bins}")
    return (np.arange(bins + 1, dtype=np.int64) * length) // bins


def max_pool(maps: np.ndarray, bins: int) -> np.ndarray:
    """Max-pool the last two axes (square, side n) of `maps` down to ``bins × bins``."""
    n = maps.shape[-1]
    if bins == n:
        return maps
    starts = pool_edges(n, bins)[:-1]
    pooled = np.maximum.reduceat(maps, starts, axis=-1)
    return np.maximum.reduceat(pooled, starts, axis=-2)


# ---- thumbnails and statistics ---------------------------------------------------------------------
def thumbnail_size(num_maps: int, seq_len: int, budget: int = THUMBNAIL_BUDGET) -> int:
    """Side of each thumbnail: as large as the byte budget allows, at most 128 and at most seq_len."""
    side = int(np.sqrt(budget / max(num_maps, 1)))
    return max(1, min(seq_len, THUMBNAIL_MAX_SIZE, side))


def compand_uint8(weights: np.ndarray) -> np.ndarray:
    """Weights in [0, 1] → uint8 with ``q = round(255 * sqrt(w))``."""
    return np.rint(np.sqrt(np.clip(weights, 0.0, 1.0)) * 255.0).astype(np.uint8)


def expand_uint8(codes: np.ndarray) -> np.ndarray:
    """The inverse of `compand_uint8`: ``(q / 255) ** 2`` as float32."""
    return np.square(codes.astype(np.float32) / 255.0)


# Rows per block in `layer_stats`: its scratch buffer stays ~4 MiB at 4096 tokens. Arrays of the layer's
# size as temporaries (600 MB at 4096 tokens) cost more in fresh pages than the arithmetic itself.
_STATS_BLOCK_ROWS = 256


def layer_stats(maps: np.ndarray) -> np.ndarray:
    """float32 [len(STAT_NAMES), heads] for one layer's maps [heads, seq, seq]."""
    heads, seq, _ = maps.shape
    entropy = np.zeros(heads, dtype=np.float64)
    peak = np.zeros(heads, dtype=np.float64)
    scratch = np.empty((min(_STATS_BLOCK_ROWS, seq), seq), dtype=np.float32)
    for head in range(heads):
        for start in range(0, seq, _STATS_BLOCK_ROWS):
            rows = maps[head, start : start + _STATS_BLOCK_ROWS]
            logs = scratch[: rows.shape[0]]
            np.maximum(rows, np.float32(1e-30), out=logs)
            np.log(logs, out=logs)
            logs *= rows
            entropy[head] -= logs.sum(axis=-1).sum(dtype=np.float64)
            peak[head] += rows.max(axis=-1).sum(dtype=np.float64)
    previous = np.diagonal(maps, offset=-1, axis1=1, axis2=2).sum(axis=-1) / seq if seq > 1 else np.zeros(heads)
    return np.stack([peak / seq, entropy / seq, maps[:, :, 0].mean(axis=-1), previous]).astype(np.float32)


def attention_summary(
    layers: Iterable[tuple[int, np.ndarray]], num_layers: int, num_heads: int, seq_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """One pass over every layer's maps: (thumbnails uint8 [L, H, T, T], stats float32 [S, L, H])."""
    side = thumbnail_size(num_layers * num_heads, seq_len)
    thumbnails = np.zeros((num_layers, num_heads, side, side), dtype=np.uint8)
    stats = np.zeros((len(STAT_NAMES), num_layers, num_heads), dtype=np.float32)
    for layer, maps in layers:
        thumbnails[layer] = compand_uint8(max_pool(maps, side))
        stats[:, layer] = layer_stats(maps)
    return thumbnails, stats


# ---- the selected head -----------------------------------------------------------------------------
def map_size(seq_len: int) -> int:
    return min(seq_len, MAP_MAX_SIZE)


@lru_cache(maxsize=4)
def _lower_mask(size: int) -> np.ndarray:
    # Cached: building index arrays for 1024² costs ~10 ms, a third of a head switch.
    mask = np.tri(size, dtype=bool)
    mask.setflags(write=False)
    return mask


def encode_attention_map(weights: np.ndarray, causal: bool) -> tuple[bytes, dict[str, Any]]:
    """One head's [seq, seq] map → (float16 bytes, info); info describes the layout for the decoder."""
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"expected a square [seq, seq] map, got shape {weights.shape}")
    seq_len = weights.shape[0]
    size = map_size(seq_len)
    pooled = max_pool(weights, size)
    data = to_float16(pooled[_lower_mask(size)] if causal else pooled).tobytes()
    info = {
        "dtype": "float16",
        "size": size,
        "seq_len": seq_len,
        "layout": "lower" if causal else "full",
        "pooled": size < seq_len,
    }
    return data, info


def decode_attention_map(data: bytes, info: dict[str, Any]) -> np.ndarray:
    """The inverse of `encode_attention_map`: float32 [size, size], zeros above the diagonal if causal."""
    size = int(info["size"])
    values = np.frombuffer(data, dtype="<f2").astype(np.float32)
    if info["layout"] == "full":
        return values.reshape(size, size)
    full = np.zeros((size, size), dtype=np.float32)
    full[_lower_mask(size)] = values
    return full


# ---- a window of the selected head -----------------------------------------------------------------
def max_pool_2d(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Max-pool a [r, c] array to ``rows × cols`` over the bins ``pool_edges`` of each axis."""
    if rows != values.shape[0]:
        values = np.maximum.reduceat(values, pool_edges(values.shape[0], rows)[:-1], axis=0)
    if cols != values.shape[1]:
        values = np.maximum.reduceat(values, pool_edges(values.shape[1], cols)[:-1], axis=1)
    return values


def check_window(window: Any, seq_len: int) -> tuple[int, int, int, int] | None:
    """A window ``[q0, q1, k0, k1]`` (list/tuple, or a dict with those keys; empty or None: no window) →
    a tuple of ints with ``0 ≤ q0 < q1 ≤ seq_len`` and ``0 ≤ k0 < k1 ≤ seq_len``; ValueError otherwise."""
    if window is None or (isinstance(window, (list, tuple, dict)) and len(window) == 0):
        return None
    names = ("q0", "q1", "k0", "k1")
    if isinstance(window, dict):
        if set(window) != set(names):
            raise ValueError(f"a map window dict needs exactly the keys q0, q1, k0, k1, got {sorted(window)!r}")
        window = [window[name] for name in names]
    if not isinstance(window, (list, tuple)) or len(window) != 4:
        raise ValueError(f"a map window is [q0, q1, k0, k1] (or [] for none), got {window!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in window):
        raise ValueError(f"a map window's bounds must be ints, got {window!r}")
    q0, q1, k0, k1 = (int(v) for v in window)
    if not (0 <= q0 < q1 <= seq_len and 0 <= k0 < k1 <= seq_len):
        raise ValueError(
            f"a map window [q0, q1, k0, k1] needs 0 <= q0 < q1 <= {seq_len} and 0 <= k0 < k1 <= {seq_len} "
            f"(the prompt has {seq_len} tokens), got {list(window)!r}"
        )
    return q0, q1, k0, k1


def encode_attention_window(
    weights: np.ndarray, window: tuple[int, int, int, int], max_side: int = MAP_MAX_SIZE
) -> tuple[bytes, dict[str, Any]]:
    """Queries ``q0:q1`` × keys ``k0:k1`` of one head's [seq, seq] map → (float16 bytes [rows, cols], info).

    Each side is sent exactly up to `max_side` values, max-pooled above; at most ``max_side²`` float16 values
    (2 MiB for 1024), far below `MESSAGE_LIMIT`."""
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"expected a square [seq, seq] map, got shape {weights.shape}")
    checked = check_window(list(window), weights.shape[0])
    if checked is None:
        raise ValueError("an empty window has nothing to encode")
    q0, q1, k0, k1 = checked
    rows, cols = min(q1 - q0, max_side), min(k1 - k0, max_side)
    block = max_pool_2d(weights[q0:q1, k0:k1], rows, cols)
    info = {
        "dtype": "float16",
        "layout": "full",
        "q0": q0,
        "q1": q1,
        "k0": k0,
        "k1": k1,
        "rows": rows,
        "cols": cols,
        "seq_len": int(weights.shape[0]),
        "pooled": rows < q1 - q0 or cols < k1 - k0,
    }
    return to_float16(block).tobytes(), info


def decode_attention_window(data: bytes, info: dict[str, Any]) -> np.ndarray:
    """The inverse of `encode_attention_window`: float32 [rows, cols]."""
    return decode_float16(data, (int(info["rows"]), int(info["cols"])))


# ---- neurons and predictions -----------------------------------------------------------------------
def to_float16(values: np.ndarray) -> np.ndarray:
    """float16, saturating instead of overflowing to inf.

    Converted by torch: numpy's float32 -> float16 cast slows down ~10x on the subnormal weights that
    softmax produces far from the attended tokens (12 ms for a 1024² map against ~1 ms)."""
    import torch

    clipped = np.clip(values, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float32, copy=False)
    return torch.from_numpy(np.ascontiguousarray(clipped)).to(torch.float16).numpy()


def top_variable_neurons(activations: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` columns of [seq, width] with the largest variance over tokens, largest first.

    The first token is left out when there are more than two: in most language models its activations are
    orders of magnitude larger than the others' (an attention sink) and would decide the choice alone.
    """
    rows = activations[1:] if activations.shape[0] > 2 else activations
    variance = rows.var(axis=0, dtype=np.float64)
    k = min(k, variance.shape[0])
    top = np.argpartition(-variance, k - 1)[:k]
    return top[np.argsort(-variance[top], kind="stable")]


def encode_neurons(activations: np.ndarray, k: int) -> tuple[bytes, list[int]]:
    """[seq, width] activations → (float16 bytes [k, seq], neuron indices)."""
    indices = top_variable_neurons(activations, k)
    values = np.ascontiguousarray(activations[:, indices].T)
    return to_float16(values).tobytes(), [int(i) for i in indices]


def decode_float16(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32).reshape(shape)


def decode_uint8(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def decode_float32(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").reshape(shape)
