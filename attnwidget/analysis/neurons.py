"""Which neurons to show: the ones whose activation changes most, over tokens or between prompts.

In most language models the first token's activations are orders of magnitude larger than the others'
(the attention sink): left in, they alone would choose the neurons and set the colour scale. Every choice
and scale here leaves the first token out when there are more than two (`without_first_token`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def without_first_token(activations: np.ndarray) -> np.ndarray:
    """Rows [seq, ...] without the first token when there are more than two (else all of them)."""
    return activations[1:] if activations.shape[0] > 2 else activations


def top_variable_neurons(activations: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` columns of [seq, width] with the largest variance over tokens (after the first),
    largest first."""
    variance = without_first_token(activations).var(axis=0, dtype=np.float64)
    k = min(k, variance.shape[0])
    top = np.argpartition(-variance, k - 1)[:k]
    return top[np.argsort(-variance[top], kind="stable")]


def most_different_neurons(per_prompt: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Indices of the `k` neurons whose mean activation (over tokens after the first) differs most between
    prompts (largest max − min of the means), largest first. `per_prompt`: [seq_i, width] each."""
    means = np.stack([without_first_token(a).mean(axis=0) for a in per_prompt])  # [prompts, width]
    spread = means.max(axis=0) - means.min(axis=0)
    return np.argsort(-spread, kind="stable")[:k]


def colour_limit(values: np.ndarray) -> float:
    """The largest |value| of [k, seq] activations over tokens after the first: a diverging scale's end
    (the first token saturates instead of washing out every other cell). 1.0 when all are zero."""
    rest = values[:, 1:] if values.shape[1] > 2 else values
    limit = float(np.abs(rest).max()) if rest.size else 0.0
    return limit or 1.0
