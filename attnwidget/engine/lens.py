"""The logit lens: what the model would predict next if the residual stream stopped after each layer.

For one position, every row of the residual stream (the embeddings, then the output of each layer) goes
through the model's own final norm and unembedding; a softmax over the vocabulary gives the top-k tokens
and their probabilities. That is (layers + 1) rows unembedded, computed only for the position asked
about, so it stays cheap at any prompt length.

The last row is the model's own last hidden state (`Extraction.final_hidden`, which is the final norm
applied to the output of the last layer), so the lens ends exactly on the model's prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .predictions import NextTokenPredictor

# Attribute names of the norm applied after the last block, looked up on `model.base_model` (and on its
# `decoder`, where OPT-style models keep it): Llama/Mistral/Qwen/SmolLM `norm`, GPT-2/GPT-Neo/GPT-J
# `ln_f`, OPT `final_layer_norm`, Phi `final_layernorm`.
FINAL_NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "final_norm", "norm_f")


def find_final_norm(model: Any) -> torch.nn.Module | None:
    """The model's final norm (the module between the last block and the unembedding), or None."""
    base = getattr(model, "base_model", model)
    for owner in (base, getattr(base, "decoder", None), model):
        if owner is None:
            continue
        for name in FINAL_NORM_NAMES:
            module = getattr(owner, name, None)
            if isinstance(module, torch.nn.Module):
                return module
    return None


class LensProjector:
    """The model's final norm + unembedding, applied to residual-stream rows (top-k of each row's softmax)."""

    def __init__(self, model: Any, predictor: NextTokenPredictor) -> None:
        self.norm = find_final_norm(model)
        self.predictor = predictor
        self.model_name = type(model).__name__

    @property
    def vocab_size(self) -> int:
        return int(self.predictor.head.weight.shape[0])

    def normed(self, rows: np.ndarray) -> np.ndarray:
        """Apply the final norm to rows [n, hidden] (float32 out); the identity if the model has none."""
        if self.norm is None:
            return np.asarray(rows, dtype=np.float32)
        weight = next(self.norm.parameters(), None)
        device = weight.device if weight is not None else torch.device("cpu")
        dtype = weight.dtype if weight is not None else torch.float32
        with torch.inference_mode():
            out = self.norm(torch.from_numpy(np.ascontiguousarray(rows)).to(device, dtype))
        return out.float().cpu().numpy()

    def top_k(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Already-normed rows [n, hidden] → (ids int64 [n, k], probabilities float32 [n, k])."""
        return self.predictor.top_k(np.ascontiguousarray(rows, dtype=np.float32), k=k)

    def texts(self, ids: np.ndarray) -> list[list[str]]:
        return self.predictor.texts(ids)


def lens_arrays(
    projector: LensProjector, residual: np.ndarray, final_hidden: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """One position: residual [layers + 1, hidden] and the model's final hidden row [hidden] →
    (ids int64 [layers + 1, k], probs float32 [layers + 1, k]); the last row is the model's prediction."""
    rows = np.empty_like(residual, dtype=np.float32)
    rows[:-1] = projector.normed(residual[:-1])
    rows[-1] = final_hidden
    return projector.top_k(rows, k)
