"""The wire format: how arrays travel from Python to the views, as bytes. `js/decode.ts` reads what this
module writes; nothing else decides how a number is sent.

Every encoding is little-endian, C order. An array that needs a description travels as one
self-describing value, ``{"info": {...}, "data": bytes}`` (`Encoded`); ipywidgets sends the bytes as a
binary buffer, never as JSON numbers.

thumbnails
    uint8 ``[layers, heads, rows, cols]`` (``thumbnail_rows``, ``thumbnail_cols`` in the widget's ``_info``).
    A map whose keys are its queries (every model's self-attention) is square: ``rows = cols = T =
    thumbnail_size(...) ≤ 128`` (also ``thumbnail_size``). The cross-attention of an encoder-decoder run
    (rows: the decoder's ``seq_len`` tokens, columns: the source's ``key_len``) is ``min(T, seq_len) ×
    min(T, key_len)`` with ``T = thumbnail_size(maps, max(seq_len, key_len))``. Square-root companded: a
    byte ``q`` stands for the weight ``(q / 255) ** 2``, so weights down to ~1.5e-5 stay non-zero. A side
    longer than T is max-pooled (`attnwidget.analysis.pooling`) so that one-token-wide stripes (diagonal,
    previous-token, induction) survive.
attention map (`encode_attention_map`)
    float16 of side ``n = min(seq_len, max_side)`` (max-pooled above it). Layout ``"lower"`` (causal
    models): row ``i`` holds its ``i + 1`` values ``[0..i]``, rows concatenated, ``n (n + 1) / 2`` values.
    Layout ``"full"``: ``n × n`` values. info: ``{dtype, size, seq_len, layout, pooled}``.
    A rectangular map (cross-attention, ``[seq_len, key_len]``, never causal): layout ``"full"``, ``rows ×
    cols`` values row-major, ``rows = min(seq_len, max_side)``, ``cols = min(key_len, max_side)`` (each axis
    max-pooled above it); info ``{dtype, size (= rows), rows, cols, seq_len, key_len, layout, pooled}``.
attention window (`encode_attention_window`, a zoomed part of one head)
    float16 ``[rows, cols]`` row-major: queries ``q0..q1``, keys ``k0..k1`` (half-open) of the exact map,
    each axis max-pooled when longer than ``max_side``; masked (later) keys of a causal map are 0.
    info: ``{dtype, layout: "full", q0, q1, k0, k1, rows, cols, seq_len, pooled}``.
float16 / float32 arrays (`encode_float16`, `encode_float32`)
    per-head scores float32 ``[scores, layers, heads]``; neurons float16 ``[k, seq_len]``; prediction and
    logit-lens probabilities float16 ``[rows, k]``; logit attribution float32 ``[logit, total, embeddings,
    biases, mlp[layers], heads[layers × heads]]``; neuron logit effects float32 ``[k promoted, k
    suppressed]``. Their shapes are in the widget's ``_info`` or in the ``info`` beside them.
    Value-weighted maps (αᵢⱼ·‖W_O vⱼ‖, ``info.weighting == "value_weighted"``) travel like attention maps;
    their values are not weights in [0, 1] (float16 saturates at ±65504).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypedDict

import numpy as np

from ..analysis.pooling import max_pool, max_pool_2d


class Encoded(TypedDict):
    """One array on the wire: what it is (``info``, JSON) and its bytes (``data``)."""

    info: dict[str, Any]
    data: bytes


# The grid's thumbnails get at most this many bytes in all; 30 x 9 heads gives 64² each.
THUMBNAIL_BUDGET = 1_200_000
THUMBNAIL_MAX_SIZE = 128
# The selected head is sent at full resolution up to this side, max-pooled above it: 1024² float16 in
# the lower triangle is 1 MiB, which keeps the initial state under 3 MiB at any length.
MAP_MAX_SIZE = 1024
# Every message must stay far below Tornado's 10 MiB limit.
MESSAGE_LIMIT = 8 * 1024 * 1024
FLOAT16_MAX = 65504.0
EMPTY: dict[str, Any] = {}


# ---- numbers → bytes ----------------------------------------------------------------------------------
def to_float16(values: np.ndarray) -> np.ndarray:
    """float16, saturating instead of overflowing to inf.

    Converted by torch: numpy's float32 -> float16 cast slows down ~10x on the subnormal weights that
    softmax produces far from the attended tokens (12 ms for a 1024² map against ~1 ms)."""
    import torch

    clipped = np.clip(values, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float32, copy=False)
    return torch.from_numpy(np.ascontiguousarray(clipped)).to(torch.float16).numpy()


def encode_float16(values: np.ndarray) -> bytes:
    return to_float16(values).tobytes()


def encode_float32(values: np.ndarray) -> bytes:
    """float32 bytes; NaN stays NaN (the views show it as "undefined")."""
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


def decode_float16(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32).reshape(shape)


def decode_float32(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").reshape(shape)


def decode_uint8(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


# ---- thumbnails ------------------------------------------------------------------------------------
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


def thumbnail_shape(
    num_maps: int, seq_len: int, key_len: int | None = None, budget: int = THUMBNAIL_BUDGET
) -> tuple[int, int, int]:
    """``(T, rows, cols)``: the side T of `thumbnail_size` for the longer of the maps' sides, and each side
    capped at T (``rows = cols = T`` for self-attention; a cross-attention map [seq_len, key_len] stays a
    rectangle)."""
    keys = seq_len if key_len is None else key_len
    side = thumbnail_size(num_maps, max(seq_len, keys), budget)
    return side, min(side, seq_len), min(side, keys)


def thumbnails(maps: np.ndarray, rows: int, cols: int | None = None) -> np.ndarray:
    """One layer's maps [heads, seq, keys] → uint8 thumbnails [heads, rows, cols] (square: ``cols = rows``)."""
    return compand_uint8(max_pool_2d(maps, rows, rows if cols is None else cols))


# ---- one head's map --------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _lower_mask(size: int) -> np.ndarray:
    # Cached: building index arrays for 1024² costs ~10 ms, a third of a head switch.
    mask = np.tri(size, dtype=bool)
    mask.setflags(write=False)
    return mask


def _check_square(weights: np.ndarray) -> None:
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"expected a square [seq, seq] map, got shape {weights.shape}")


def encode_attention_map(
    weights: np.ndarray, causal: bool, max_side: int = MAP_MAX_SIZE, *, rectangular: bool = False
) -> Encoded:
    """One head's [seq, seq] map → `Encoded` float16 (see the module docstring). A cross-attention map
    [seq, keys] (`rectangular`, or any map whose sides differ; never causal) travels as rows × cols, even
    when the two texts happen to have as many tokens."""
    if weights.ndim == 2 and not causal and (rectangular or weights.shape[0] != weights.shape[1]):
        seq_len, key_len = (int(n) for n in weights.shape)
        return encode_rectangular_map(weights, max(1, min(seq_len, max_side)), max(1, min(key_len, max_side)))
    _check_square(weights)
    seq_len = weights.shape[0]
    size = max(1, min(seq_len, max_side))
    pooled = max_pool(weights, size)
    data = encode_float16(pooled[_lower_mask(size)] if causal else pooled)
    info = {"dtype": "float16", "size": size, "seq_len": seq_len, "layout": "lower" if causal else "full"}
    return {"info": {**info, "pooled": size < seq_len}, "data": data}


def encode_rectangular_map(weights: np.ndarray, rows: int, cols: int) -> Encoded:
    """A cross-attention map [seq, keys] → `Encoded` float16 ``rows × cols`` row-major (each axis max-pooled
    when longer than it has values)."""
    seq_len, key_len = (int(n) for n in weights.shape)
    data = encode_float16(max_pool_2d(weights, rows, cols))
    info = {"dtype": "float16", "size": rows, "rows": rows, "cols": cols, "seq_len": seq_len, "key_len": key_len}
    return {"info": {**info, "layout": "full", "pooled": rows < seq_len or cols < key_len}, "data": data}


def decode_attention_map(encoded: Encoded) -> np.ndarray:
    """The inverse of `encode_attention_map`: float32 [size, size], zeros above the diagonal if causal
    ([rows, cols] for a rectangular map)."""
    info = encoded["info"]
    if "cols" in info:
        return decode_float16(encoded["data"], (int(info["rows"]), int(info["cols"])))
    size = int(info["size"])
    values = np.frombuffer(encoded["data"], dtype="<f2").astype(np.float32)
    if info["layout"] == "full":
        return values.reshape(size, size)
    full = np.zeros((size, size), dtype=np.float32)
    full[_lower_mask(size)] = values
    return full


def encode_attention_window(
    weights: np.ndarray, window: tuple[int, int, int, int], max_side: int = MAP_MAX_SIZE
) -> Encoded:
    """Queries ``q0:q1`` × keys ``k0:k1`` of one head's [seq, seq] map → `Encoded` float16 [rows, cols].

    Each side is sent exactly up to `max_side` values, max-pooled above; at most ``max_side²`` float16 values
    (2 MiB for 1024), far below `MESSAGE_LIMIT`. `window` must lie inside the map (the widget checks it)."""
    _check_square(weights)
    q0, q1, k0, k1 = window
    rows, cols = min(q1 - q0, max_side), min(k1 - k0, max_side)
    block = max_pool_2d(weights[q0:q1, k0:k1], rows, cols)
    info = {"dtype": "float16", "layout": "full", "q0": q0, "q1": q1, "k0": k0, "k1": k1, "rows": rows, "cols": cols}
    info.update(seq_len=int(weights.shape[0]), pooled=rows < q1 - q0 or cols < k1 - k0)
    return {"info": info, "data": encode_float16(block)}


def decode_attention_window(encoded: Encoded) -> np.ndarray:
    """The inverse of `encode_attention_window`: float32 [rows, cols]."""
    info = encoded["info"]
    return decode_float16(encoded["data"], (int(info["rows"]), int(info["cols"])))
