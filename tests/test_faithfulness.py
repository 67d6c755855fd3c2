"""Reported attention equals the model's own eager attention, for every layer and head."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import transformers

from attnwidget import AttentionExtractor, Extraction
from tests.tiny_models import TINY_KINDS, tiny_model

PROMPT = "the quick brown fox jumps over the lazy dog and the fox runs"


def eager_attention(model: Any, input_ids: np.ndarray) -> list[np.ndarray]:
    """The model's own weights from its eager path with output_attentions (the reference)."""
    previous = model.config._attn_implementation
    if previous != "eager":
        model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(input_ids)[None], output_attentions=True)
    finally:
        if previous != "eager":
            model.set_attn_implementation(previous)
    assert out.attentions is not None and all(a is not None for a in out.attentions)
    return [a[0].numpy() for a in out.attentions]


def assert_faithful(extraction: Extraction, reference: list[np.ndarray], tolerance: float = 1e-5) -> None:
    assert len(reference) == extraction.num_layers
    for layer, expected in enumerate(reference):
        got = extraction.attention(layer)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=tolerance, rtol=0, err_msg=f"layer {layer}")
        for head in range(extraction.num_heads):
            np.testing.assert_allclose(extraction.attention(layer, head), expected[head], atol=tolerance, rtol=0)


@pytest.mark.parametrize("kind", TINY_KINDS)
def test_tiny_models_match_eager(kind: str, bert_tokenizer: Any) -> None:
    model = tiny_model(kind)
    extractor = AttentionExtractor(model=model, tokenizer=bert_tokenizer)
    result = extractor.extract_activations(PROMPT)
    assert_faithful(result, eager_attention(model, result.input_ids))
    # The model is left on the attention setting it came with.
    assert model.config._attn_implementation == ("eager" if kind == "gpt_neo" else "sdpa")


def test_gpt_neo_local_layer_is_windowed(bert_tokenizer: Any) -> None:
    model = tiny_model("gpt_neo")
    result = AttentionExtractor(model=model, tokenizer=bert_tokenizer).extract_activations(PROMPT)
    window = model.config.window_size
    local = result.attention(1)  # attention_types: global, local
    rows, cols = np.nonzero(local.max(axis=0) > 0)
    assert (rows - cols).max() < window, "the local layer attends beyond its window"
    assert (rows - cols).max() >= window - 1
    glob = result.attention(0)
    assert glob[:, -1, 0].min() > 0, "the global layer reaches the first token"


def test_gqa_heads_share_their_kv_group(bert_tokenizer: Any) -> None:
    result = AttentionExtractor(model=tiny_model("llama"), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    assert result.num_heads == 6 and result.num_kv_heads == 2
    assert result.kv_group_of_head.tolist() == [0, 0, 0, 1, 1, 1]


def test_causal_rows_sum_to_one(tiny_extractor: AttentionExtractor) -> None:
    result = tiny_extractor.extract_activations(PROMPT)
    for layer in range(result.num_layers):
        maps = result.attention(layer)
        np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-5)
        if result.is_causal:
            assert np.triu(maps, k=1).max() == 0.0
        else:
            assert np.triu(maps, k=1).max() > 0.0


def test_model_set_to_eager_is_captured_through_sdpa_and_restored(bert_tokenizer: Any) -> None:
    model = tiny_model("llama")
    model.set_attn_implementation("eager")
    result = AttentionExtractor(model=model, tokenizer=bert_tokenizer).extract_activations(PROMPT)
    assert model.config._attn_implementation == "eager"
    assert_faithful(result, eager_attention(model, result.input_ids))


def test_batch_equals_single_runs_without_padding_leaks(tiny_extractor: AttentionExtractor) -> None:
    prompts = ["a short one", PROMPT, "the fox"]
    batched = tiny_extractor.extract_batch(prompts)
    for prompt, result in zip(prompts, batched):
        tiny_extractor._recent.clear()
        single = tiny_extractor.extract_activations(prompt)
        assert result.seq_len == single.seq_len
        assert result.residual_stream.shape == single.residual_stream.shape
        np.testing.assert_allclose(result.residual_stream, single.residual_stream, atol=1e-4)
        for layer in range(single.num_layers):
            np.testing.assert_allclose(result.attention(layer), single.attention(layer), atol=1e-5)
        if single.top_probs is not None:
            np.testing.assert_allclose(result.top_probs, single.top_probs, atol=1e-5)


def test_stablelm_outside_the_attention_interface_is_read_eager_and_restored(bert_tokenizer: Any) -> None:
    # StableLM is built with sdpa but does not dispatch through transformers' attention interface: under
    # sdpa it returns no weights. Its pass (and every replay of its blocks) runs eager instead.
    torch.manual_seed(0)
    config = transformers.StableLmConfig(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=32, intermediate_size=64,
        vocab_size=30522, max_position_embeddings=128,
    )  # fmt: skip
    model = transformers.StableLmForCausalLM(config).eval()
    assert model.config._attn_implementation == "sdpa"
    extractor = AttentionExtractor(model=model, tokenizer=bert_tokenizer)
    assert extractor.route == "eager"
    result = extractor.extract_activations(PROMPT)
    assert model.config._attn_implementation == "sdpa", "the model is left as it came"
    assert_faithful(result, eager_attention(model, result.input_ids))
    # MLP neurons come from a replay under the same (eager) attention: equal to a hook on the eager model.
    captured: list[torch.Tensor] = []
    projection = model.model.layers[1].mlp.down_proj
    handle = projection.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
    try:
        eager_attention(model, result.input_ids)
    finally:
        handle.remove()
    np.testing.assert_array_equal(result.neuron_activations(1, "mlp"), captured[0][0].numpy())
