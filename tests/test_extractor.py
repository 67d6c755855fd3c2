"""AttentionExtractor: the API of the scripts attnwidget replaces, bad input, and the generic routes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import transformers

from attnwidget import AttentionExtractor, AttentionUnavailableError, Extraction
from tests.tiny_models import VOCAB, tiny_model

PROMPT = "Once upon a time there was a little fox"


@pytest.fixture
def gpt2(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-gpt2", model=tiny_model("gpt2"), tokenizer=bert_tokenizer)


def test_result_reads_like_the_original_dict(tiny_extractor: AttentionExtractor) -> None:
    result = tiny_extractor.extract_activations(PROMPT)
    info = tiny_extractor.get_model_info()
    n = result.seq_len
    assert isinstance(result, Extraction)
    assert result["tokens"] == result.tokens and len(result["tokens"]) == n
    assert result["input_ids"].dtype == np.int64 and result["input_ids"].shape == (n,)
    layers = result["attention_weights"]
    assert len(layers) == info["num_layers"]
    assert layers[0].shape == (info["num_heads"], n, n)
    assert layers[-1].shape == layers[info["num_layers"] - 1].shape
    assert len(layers[:]) == info["num_layers"]
    hidden = result["hidden_states"]
    assert len(hidden) == info["num_layers"] + 1 and hidden[0].shape == (n, info["hidden_size"])
    assert result["mlp_activations"].shape == (info["num_layers"], n, info["intermediate_size"])
    assert set(result.keys()) >= {"tokens", "attention_weights", "input_ids", "hidden_states"}
    with pytest.raises(KeyError, match="available"):
        result["no such key"]


def test_display_tokens_have_no_tokenizer_artefacts(bert_tokenizer: Any) -> None:
    # The SmolLM2-style byte-level BPE is checked in test_smollm2; here WordPiece (## pieces).
    extractor = AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer)
    result = extractor.extract_activations("unbelievably\nfast")
    assert not any(t.startswith("##") for t in result.display_tokens)
    assert "↵" not in "".join(result.display_tokens)  # WordPiece drops the newline itself
    assert result.display_tokens[0] == "[CLS]" and result.display_tokens[-1] == "[SEP]"


def test_top_predictions_equal_the_models_own_softmax(gpt2: AttentionExtractor) -> None:
    result = gpt2.extract_activations(PROMPT)
    with torch.no_grad():
        logits = gpt2.model(torch.from_numpy(result.input_ids)[None]).logits[0]
    probs, ids = torch.softmax(logits, -1).topk(10)
    # One position on its own (computed lazily, before the full table exists) ...
    text, probability = result.top_predictions(-1)[0]
    assert text == gpt2.tokenizer.decode([int(ids[-1, 0])])
    assert probability == pytest.approx(float(probs[-1, 0]), abs=1e-6)
    # ... and the full [seq, k] table.
    assert result.top_probs is not None and result.top_token_ids is not None
    assert result.top_probs.shape == (result.seq_len, 10)
    assert np.all(np.diff(result.top_probs, axis=-1) <= 0)
    np.testing.assert_array_equal(result.top_token_ids, ids.numpy())
    np.testing.assert_allclose(result.top_probs, probs.numpy(), atol=1e-6)
    assert result.top_tokens is not None and result.top_tokens[-1][0] == text
    assert result.top_predictions(-1)[0] == (text, pytest.approx(probability, abs=1e-7))


def test_encoder_has_no_next_token_predictions(bert_tokenizer: Any) -> None:
    result = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    assert result.top_probs is None and not result.is_causal
    with pytest.raises(ValueError, match="not a causal language model"):
        result.top_predictions(0)


def test_residual_stream_matches_hidden_states(gpt2: AttentionExtractor) -> None:
    result = gpt2.extract_activations(PROMPT)
    with torch.no_grad():
        out = gpt2.model(torch.from_numpy(result.input_ids)[None], output_hidden_states=True)
    # transformers' last hidden state has GPT-2's final layer norm applied; ours is the raw residual.
    for layer in range(result.num_layers):
        np.testing.assert_allclose(result.residual_stream[layer], out.hidden_states[layer][0].numpy(), atol=1e-5)
    final = gpt2.model.transformer.ln_f(torch.from_numpy(result.residual_stream[-1]))
    np.testing.assert_allclose(final.detach().numpy(), out.hidden_states[-1][0].numpy(), atol=1e-5)


def test_mlp_neurons_are_the_activations_after_the_nonlinearity(gpt2: AttentionExtractor) -> None:
    result = gpt2.extract_activations(PROMPT)
    block = gpt2.model.transformer.h[1]
    residual_mid = torch.from_numpy(result.residual_stream[1])
    with torch.no_grad():
        attn_out = block.attn(block.ln_1(residual_mid)[None])[0][0]
        mid = residual_mid + attn_out
        expected = block.mlp.act(block.mlp.c_fc(block.ln_2(mid)))
    np.testing.assert_allclose(result.neuron_activations(1, "mlp"), expected.numpy(), atol=1e-5)


def test_attention_stats_per_layer_and_head(gpt2: AttentionExtractor) -> None:
    stats = gpt2.get_attention_stats(PROMPT)
    result = gpt2.extract_activations(PROMPT)
    assert list(stats) == ["layer_0", "layer_1"]
    maps = result.attention(1)
    layer = stats["layer_1"]
    assert layer["mean"] == pytest.approx(float(maps.mean()))
    assert layer["std"] == pytest.approx(float(maps.std()))
    assert layer["max"] == pytest.approx(float(maps.max()))
    p = maps[2]
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=-1).mean()
    assert layer["per_head"]["entropy"][2] == pytest.approx(float(entropy), abs=1e-5)
    assert len(layer["per_head"]["mean"]) == result.num_heads
    # The first query row of a causal model sees one token: zero entropy contributes to the mean.
    assert 0 < layer["entropy"] < np.log(result.seq_len)


def test_compare_prompts_and_neuron_activations(gpt2: AttentionExtractor) -> None:
    prompts = ["The cat sat on the mat", "A cat was sitting on a mat", "The cat sat on the mat"]
    results = gpt2.compare_prompts(prompts)
    assert list(results) == prompts[:2]
    assert results[prompts[0]].seq_len != results[prompts[1]].seq_len
    last = gpt2.get_neuron_activations(prompts[1], -1)
    np.testing.assert_array_equal(last, results[prompts[1]].residual_stream[-1])
    mlp = gpt2.get_neuron_activations(prompts[1], 0, kind="mlp")
    assert mlp.shape == (results[prompts[1]].seq_len, 128)


def test_model_info_keys(tiny_extractor: AttentionExtractor) -> None:
    info = tiny_extractor.get_model_info()
    for key in (
        "num_layers", "num_heads", "num_key_value_heads", "hidden_size", "intermediate_size", "vocab_size",
        "max_positions", "total_parameters", "model_type", "architecture",
    ):  # fmt: skip
        assert key in info
    assert info["total_parameters"] == sum(p.numel() for p in tiny_extractor.model.parameters())
    assert info["vocab_size"] == VOCAB and info["max_positions"] == 128


# ---- bad input: one clear error, and the extractor still works afterwards ----------------------------
@pytest.mark.parametrize(
    ("prompt", "error", "message"),
    [
        ("", ValueError, "prompt is empty"),
        ("   \n\t", ValueError, "prompt is empty"),
        (None, TypeError, "prompt must be a str, got NoneType"),
        (42, TypeError, "prompt must be a str, got int"),
        (b"bytes", TypeError, "prompt must be a str, got bytes"),
        ("word " * 200, ValueError, r"prompt is \d+ tokens; tiny-gpt2 accepts at most 128 positions"),
    ],
)
def test_bad_prompts(gpt2: AttentionExtractor, prompt: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        gpt2.extract_activations(prompt)
    assert "\n" not in str(caught.value)
    assert gpt2.extract_activations(PROMPT).seq_len > 0


def test_bad_indices_name_the_valid_range(gpt2: AttentionExtractor) -> None:
    result = gpt2.extract_activations(PROMPT)
    with pytest.raises(IndexError, match=r"layer 2 is out of range.*has 2 \(valid: 0\.\.1 or -2\.\.-1\)"):
        result.attention(2)
    with pytest.raises(IndexError, match=r"head 4 is out of range.*\(valid: 0\.\.3 or -4\.\.-1\)"):
        result.attention(0, 4)
    with pytest.raises(IndexError, match="layer -3"):
        result["attention_weights"][-3]
    with pytest.raises(IndexError, match="layer 5"):
        gpt2.get_neuron_activations(PROMPT, 5)
    with pytest.raises(TypeError, match="layer must be an int"):
        result.attention(1.5)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="kind must be one of 'residual', 'mlp'"):
        gpt2.get_neuron_activations(PROMPT, 0, kind="attention")
    np.testing.assert_array_equal(result.attention(-1, -1), result.attention(1, 3))


def test_constructor_arguments_are_checked(bert_tokenizer: Any) -> None:
    with pytest.raises(TypeError, match="pass both model= and tokenizer="):
        AttentionExtractor(model=tiny_model("gpt2"))
    with pytest.raises(ValueError, match="top_k must be a positive int"):
        AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer, top_k=0)
    with pytest.raises(TypeError, match="prompts must be a list of strings"):
        AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer).extract_batch("one string")


# ---- other routes -------------------------------------------------------------------------------------
def test_generic_eager_route_for_models_outside_the_attention_interface(bert_tokenizer: Any) -> None:
    torch.manual_seed(0)
    config = transformers.BloomConfig(n_layer=2, hidden_size=32, n_head=4, vocab_size=VOCAB)
    model = transformers.BloomForCausalLM(config).eval()  # ALiBi attention, no AttentionInterface
    extractor = AttentionExtractor(model=model, tokenizer=bert_tokenizer)
    assert extractor.route == "eager"
    result = extractor.extract_activations(PROMPT)
    with torch.no_grad():
        reference = model(torch.from_numpy(result.input_ids)[None], output_attentions=True).attentions
    for layer in range(2):
        np.testing.assert_allclose(result.attention(layer), reference[layer][0].numpy(), atol=1e-6)
    assert result.mlp_activations is not None and result.mlp_activations.shape[-1] == 128


def test_a_model_without_attention_says_so(bert_tokenizer: Any) -> None:
    config = transformers.MambaConfig(num_hidden_layers=2, hidden_size=32, vocab_size=VOCAB, state_size=4)
    with pytest.raises(AttentionUnavailableError, match="has no attention heads"):
        AttentionExtractor(model=transformers.MambaForCausalLM(config), tokenizer=bert_tokenizer)


def test_an_attention_call_we_did_not_expect_is_refused(bert_tokenizer: Any) -> None:
    """A block whose attention runs twice would put a map at the wrong layer: the pass is refused, in a line."""
    model = tiny_model("llama")
    attention = model.model.layers[1].self_attn
    once = attention.forward

    def twice(*args: Any, **kwargs: Any) -> Any:
        once(*args, **kwargs)
        return once(*args, **kwargs)

    attention.forward = twice
    extractor = AttentionExtractor(model_name="tiny-llama", model=model, tokenizer=bert_tokenizer)
    if extractor.route != "sdpa":
        pytest.skip("the calls are counted on the sdpa route")
    with pytest.raises(AttentionUnavailableError) as error:
        extractor.extract_activations(PROMPT)
    layers = model.config.num_hidden_layers
    assert f"{layers + 1} attention calls seen in its forward pass for {layers} expected" in str(error.value)
    assert "\n" not in str(error.value)


def test_hostile_text_is_kept_verbatim(gpt2: AttentionExtractor) -> None:
    prompt = '</script><img src=x onerror="alert(1)"> \u2028 e\u0301 👩‍🚀'
    result = gpt2.extract_activations(prompt)
    assert result.prompt == prompt
    assert "<" in "".join(result.display_tokens)
