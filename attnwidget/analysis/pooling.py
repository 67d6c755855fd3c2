"""Max-pooling of attention maps: how a long map is shown at fewer pixels without losing thin patterns.

Max (not mean) keeps one-token-wide stripes (the diagonal, a previous-token or induction stripe) visible at
any size. Bins are ``pool_edges(length, bins)``: bin ``i`` covers ``floor(i·length/bins)`` up to
``floor((i+1)·length/bins)``, so every bin is non-empty; `js/decode.ts` (`poolEdges`, `binOf`) uses the same.
"""

from __future__ import annotations

import numpy as np


def pool_edges(length: int, bins: int) -> np.ndarray:
    """Bin edges ``floor(i * length / bins)`` for ``i = 0..bins``: every bin non-empty when bins ≤ length."""
    if bins < 1 or bins > length:
        raise ValueError(f"bins must be in 1..{length}, got {bins}")
    return (np.arange(bins + 1, dtype=np.int64) * length) // bins


def max_pool_2d(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Max-pool the last two axes of `values` ([..., r, c]) to ``rows × cols``.

    Columns first: reducing along the contiguous last axis of a C-order array is ~16x faster than along
    the rows (measured: 0.07 s against 1.1 s for 9 × 4096² → 64², the thumbnails of one SmolLM2 layer),
    and the second reduction then runs on the already narrowed array."""
    if cols != values.shape[-1]:
        values = np.maximum.reduceat(values, pool_edges(values.shape[-1], cols)[:-1], axis=-1)
    if rows != values.shape[-2]:
        values = np.maximum.reduceat(values, pool_edges(values.shape[-2], rows)[:-1], axis=-2)
    return values


def max_pool(maps: np.ndarray, bins: int) -> np.ndarray:
    """Max-pool square maps ([..., n, n]) to ``bins × bins``."""
    return max_pool_2d(maps, bins, bins)
