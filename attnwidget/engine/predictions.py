"""The model's next-token predictions, computed from its final hidden state only when asked.

A plain forward pass computes [seq, vocab] logits (400 MB for SmolLM2 at 2048 tokens). An extraction keeps
only the final hidden state ([seq, hidden]) and unembeds the positions someone looks at, a chunk of rows
at a time, keeping the top-k of each row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

# Rows unembedded at once: a [128, vocab] float32 block is 25 MB for SmolLM2.
_CHUNK = 128
# Vocabulary rows per matrix product (a plain linear unembedding): the weight's slab (2.4 MB for SmolLM2)
# stays in the cache for all the chunk's rows, where one product over the whole vocabulary streams the
# 113 MB weight from memory for every 128 rows: ~25% less time on one core, the same numbers bitwise.
_SLAB = 1024


class NextTokenPredictor:
    """Top-k next tokens and probabilities, exactly as the model's own softmax over its full logits."""

    def __init__(self, model: Any, tokenizer: Any, top_k: int) -> None:
        self.head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.tokenizer = tokenizer
        self.k = min(top_k, int(model.config.vocab_size))
        self._texts: dict[int, str] = {}

    def top_k(self, final_hidden: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """final_hidden [n, hidden] -> (ids int64 [n, k], probabilities float32 [n, k]), most likely first.

        `k` defaults to the predictor's own (the extractor's ``top_k``)."""
        k = self.k if k is None else min(int(k), int(self.head.weight.shape[0]))
        device = self.head.weight.device
        ids_out = np.zeros((len(final_hidden), k), dtype=np.int64)
        probs_out = np.zeros((len(final_hidden), k), dtype=np.float32)
        dtype = self.head.weight.dtype
        vocab = int(self.head.weight.shape[0])
        with torch.inference_mode():
            # Several chunks: one pair of [chunk, vocab] arrays for all of them (fresh pages for every chunk,
            # 25 MB each for SmolLM2, cost more than the log-softmax).
            reused = len(final_hidden) > _CHUNK
            logits_buffer = torch.empty((_CHUNK, vocab), dtype=dtype, device=device) if reused else None
            log_probs_buffer = torch.empty((_CHUNK, vocab), device=device) if reused else None
            for start in range(0, len(final_hidden), _CHUNK):
                rows = torch.from_numpy(final_hidden[start : start + _CHUNK]).to(device, dtype)
                logits = self._unembed(rows, None if logits_buffer is None else logits_buffer[: len(rows)]).float()
                if self.softcap:
                    logits = torch.tanh(logits / self.softcap) * self.softcap
                # log_softmax is one fused pass (logsumexp is ~4x slower on CPU); top-k of it = top-k of logits.
                if log_probs_buffer is None:
                    log_probs = torch.log_softmax(logits, dim=-1)
                else:
                    log_probs = torch.log_softmax(logits, dim=-1, out=log_probs_buffer[: len(rows)])
                log_probs, ids = log_probs.topk(k, dim=-1)
                ids_out[start : start + _CHUNK] = ids.cpu().numpy()
                probs_out[start : start + _CHUNK] = log_probs.exp().cpu().numpy()
        return ids_out, probs_out

    def _unembed(self, rows: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The head's logits of `rows` [n, hidden]; for a plain `nn.Linear`, computed as ``F.linear`` computes
        them (``addmm`` with the bias, ``mm`` without), `_SLAB` vocabulary rows per product, into `out`
        [n, vocab] when given."""
        head = self.head
        if type(head) is not torch.nn.Linear or len(rows) == 1:
            return head(rows)  # type: ignore[no-any-return]
        weight, bias = head.weight, head.bias
        if out is None:
            out = torch.empty((len(rows), weight.shape[0]), dtype=rows.dtype, device=rows.device)
        for first in range(0, weight.shape[0], _SLAB):
            part = slice(first, first + _SLAB)
            if bias is None:
                torch.mm(rows, weight[part].t(), out=out[:, part])
            else:
                torch.addmm(bias[part], rows, weight[part].t(), out=out[:, part])
        return out

    def texts(self, ids: np.ndarray) -> list[list[str]]:
        """Decoded text of each id, row by row (decoding is cached per id)."""
        rows = []
        for row in np.atleast_2d(ids):
            texts = []
            for token_id in row.tolist():
                if token_id not in self._texts:
                    self._texts[token_id] = self.tokenizer.decode([token_id])
                texts.append(self._texts[token_id])
            rows.append(texts)
        return rows
