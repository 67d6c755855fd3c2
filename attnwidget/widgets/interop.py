"""`from_cache`: the widget for activations another library already computed (a TransformerLens
`ActivationCache`), without the model. The engine half is `attnwidget.engine.interop`."""

from __future__ import annotations

from typing import Any

from ..engine.interop import extraction_from_cache
from .attention import AttentionWidget


def from_cache(
    cache: Any, tokens: Any, *, batch: int = 0, model_name: str | None = None, **widget_options: Any
) -> AttentionWidget:
    """An `AttentionWidget` of the attention patterns (and residual stream, and MLP neurons where it holds
    them) of a TransformerLens `ActivationCache`, without running a model.

    `tokens`: the token texts (``bridge.to_str_tokens(prompt)``) or ids (``bridge.to_tokens(prompt)``, read by
    the tokenizer of the cache's model). `batch`: which prompt of a batched cache. `model_name`: the name the
    views show (the cache's model's, else "TransformerLens cache"). Keyword options go to `AttentionWidget`.

    The token strip, head grid, heatmap, head scores, layer statistics and neuron plot show what the cache
    holds; the views that need the model (predictions, logit lens, effects, ablation, value-weighted maps) say
    so. ``AttentionExtractor(model=bridge)`` (or ``attnwidget.show(prompt, model=bridge)``) runs the model
    and gives every view.

    >>> logits, cache = bridge.run_with_cache(prompt)                                  # doctest: +SKIP
    >>> attnwidget.from_cache(cache, bridge.to_str_tokens(prompt))                     # doctest: +SKIP
    """
    return AttentionWidget(extraction_from_cache(cache, tokens, batch, model_name), **widget_options)
