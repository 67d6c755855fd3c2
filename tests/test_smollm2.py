"""The bundled SmolLM2-135M end to end: faithful, causal, and its known heads are where they should be."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget import AttentionExtractor
from tests.test_faithfulness import assert_faithful, eager_attention

pytestmark = pytest.mark.slow


def test_smollm2_matches_its_eager_attention(smollm2: AttentionExtractor) -> None:
    result = smollm2.extract_activations("The quick brown fox jumps over the lazy dog. " * 3)
    assert_faithful(result, eager_attention(smollm2.model, result.input_ids))


def test_smollm2_shape_and_tokens(smollm2: AttentionExtractor) -> None:
    info = smollm2.get_model_info()
    assert (info["num_layers"], info["num_heads"], info["num_key_value_heads"]) == (30, 9, 3)
    assert (info["hidden_size"], info["intermediate_size"], info["vocab_size"]) == (576, 1536, 49152)
    assert info["max_positions"] == 8192 and info["architecture"] == "LlamaForCausalLM"
    result = smollm2.extract_activations("Hello world,\nthe café is open")
    assert "".join(result.display_tokens) == "Hello world,↵the café is open"
    assert not any("Ġ" in t or "Ċ" in t for t in result.display_tokens)
    assert result.kv_group_of_head.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    maps = result.attention(5)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    assert np.triu(maps, 1).max() == 0.0
    # A sensible language model: after "Hello world," something plausible comes next.
    assert result.top_probs is not None and result.top_probs[-1, 0] > 0.05


def induction_scores(result: object, ids: np.ndarray, start: int) -> np.ndarray:
    """Mean attention from each repeated token to the token after its previous occurrence."""
    scores = np.zeros((result.num_layers, result.num_heads))  # type: ignore[attr-defined]
    for layer, maps in result.iter_attention():  # type: ignore[attr-defined]
        values = []
        for i in range(start, len(ids)):
            earlier = np.nonzero(ids[: i - 1] == ids[i])[0]
            if len(earlier):
                values.append(maps[:, i, earlier[-1] + 1])
        scores[layer] = np.mean(values, axis=0)
    return scores


def test_smollm2_has_its_induction_heads(smollm2: AttentionExtractor) -> None:
    rng = np.random.default_rng(0)
    text = smollm2.tokenizer.decode(rng.integers(1000, 20000, 50))
    result = smollm2.extract_activations(text + text)
    scores = induction_scores(result, result.input_ids, result.seq_len // 2)
    best = np.unravel_index(scores.argmax(), scores.shape)
    assert best == (18, 6) and scores[best] > 0.85
    assert scores[17, 3] > 0.7 and scores[17, 4] > 0.7
    assert np.median(scores) < 0.1, "most heads are not induction heads"
