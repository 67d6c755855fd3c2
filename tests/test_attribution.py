"""Logit attribution, value-weighted attention and neuron logit effects against an independent computation:
forward hooks on the transformers model in a plain forward pass capture each attention output projection's
input (the heads' outputs before projection), each MLP's output, the embeddings and the final residual; the
parts are then projected, normed and unembedded here by hand, with the model's own weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import transformers

from attnwidget import AttentionExtractor, LogitAttribution
from tests.tiny_models import VOCAB, tiny_model

PROMPT = "the cat sat on the mat and the cat sat on the"
ATOL = 1e-4


def perturbed(kind: str) -> Any:
    """A tiny model whose biases and norm weights are random too (initialised to 0 and 1 they would hide
    a missing bias term or a norm weight left out)."""
    model = tiny_model(kind)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
            elif "norm" in name or ".ln_" in name or name.startswith("transformer.ln_f"):
                parameter.copy_(1 + 0.3 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=perturbed(request.param), tokenizer=bert_tokenizer
    )


# ---- the independent computation ----------------------------------------------------------------------
class Parts:
    """One plain forward pass with hooks, and the model's pieces, named per architecture by hand."""

    def __init__(self, extractor: AttentionExtractor, prompt: str = PROMPT) -> None:
        model = extractor.model
        self.model = model
        self.gpt2 = model.config.model_type == "gpt2"
        base = model.transformer if self.gpt2 else model.model
        blocks = base.h if self.gpt2 else base.layers
        self.final_norm = base.ln_f if self.gpt2 else base.norm
        self.out_projections = [b.attn.c_proj if self.gpt2 else b.self_attn.o_proj for b in blocks]
        self.mlp_down = [b.mlp.c_proj if self.gpt2 else b.mlp.down_proj for b in blocks]
        self.num_heads = model.config.num_attention_heads
        self.num_kv_heads = getattr(model.config, "num_key_value_heads", None) or self.num_heads
        self.hidden = model.config.hidden_size
        self.head_dim = self.hidden // self.num_heads
        self.ids = torch.tensor([extractor.tokenizer(prompt)["input_ids"]])
        self.head_inputs: list[torch.Tensor] = []
        self.mlp_outputs: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.final_residual: torch.Tensor | None = None
        handles = []
        for block, projection in zip(blocks, self.out_projections):
            handles.append(projection.register_forward_pre_hook(lambda _m, a: self.head_inputs.append(a[0][0])))
            handles.append(block.mlp.register_forward_hook(lambda _m, _a, out: self.mlp_outputs.append(out[0])))
            source = block.attn.c_attn if self.gpt2 else block.self_attn.v_proj
            handles.append(source.register_forward_hook(lambda _m, _a, out: self.values.append(out[0])))

        def final(_m: Any, args: tuple[torch.Tensor, ...]) -> None:
            self.final_residual = args[0][0]

        handles.append(self.final_norm.register_forward_pre_hook(final))
        try:
            with torch.no_grad():
                output = model(self.ids, output_hidden_states=True)
        finally:
            for handle in handles:
                handle.remove()
        self.logits = output.logits[0].double()
        self.embeddings = output.hidden_states[0][0].double()
        if self.gpt2:  # c_attn gives query, key and value side by side
            self.values = [v[:, 2 * self.hidden :] for v in self.values]

    def out_weight(self, layer: int) -> torch.Tensor:
        """[hidden, heads · dim], as y = W x."""
        weight = self.out_projections[layer].weight.detach().double()
        return weight.t() if self.gpt2 else weight

    def out_bias(self, layer: int) -> torch.Tensor:
        bias = self.out_projections[layer].bias
        return torch.zeros(self.hidden, dtype=torch.float64) if bias is None else bias.detach().double()

    def head_output(self, layer: int, head: int, position: int) -> torch.Tensor:
        cut = slice(head * self.head_dim, (head + 1) * self.head_dim)
        return self.out_weight(layer)[:, cut] @ self.head_inputs[layer][position, cut].double()

    def frozen(self, part: torch.Tensor, position: int) -> torch.Tensor:
        """The final norm applied to `part` with the real residual's statistics (no bias)."""
        real = self.final_residual[position].double()  # type: ignore[index]
        weight = self.final_norm.weight.detach().double()
        if self.gpt2:
            std = torch.sqrt(real.var(unbiased=False) + self.final_norm.eps)
            return (part - part.mean()) / std * weight
        rms = torch.sqrt((real * real).mean() + self.final_norm.variance_epsilon)
        return part / rms * weight

    def direction(self, target: int, contrast: int | None) -> torch.Tensor:
        unembedding = self.model.get_output_embeddings().weight.detach().double()
        return unembedding[target] - (unembedding[contrast] if contrast is not None else 0)

    def expected(self, position: int, target: int, contrast: int | None) -> dict[str, Any]:
        u = self.direction(target, contrast)
        layers = len(self.out_projections)
        heads = np.array(
            [
                [
                    float(self.frozen(self.head_output(layer, head, position), position) @ u)
                    for head in range(self.num_heads)
                ]
                for layer in range(layers)
            ]
        )
        mlp = np.array(
            [float(self.frozen(self.mlp_outputs[layer][position].double(), position) @ u) for layer in range(layers)]
        )
        biases = sum(float(self.frozen(self.out_bias(layer), position) @ u) for layer in range(layers))
        if self.gpt2:
            biases += float(self.final_norm.bias.detach().double() @ u)
        logit = float(self.logits[position, target] - (self.logits[position, contrast] if contrast is not None else 0))
        return {
            "heads": heads,
            "mlp": mlp,
            "embeddings": float(self.frozen(self.embeddings[position], position) @ u),
            "biases": biases,
            "logit": logit,
        }


def assert_matches(got: LogitAttribution, want: dict[str, Any]) -> None:
    np.testing.assert_allclose(got.heads, want["heads"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(got.mlp, want["mlp"], atol=ATOL, rtol=0)
    assert got.embeddings == pytest.approx(want["embeddings"], abs=ATOL)
    assert got.biases == pytest.approx(want["biases"], abs=ATOL)
    assert got.logit == pytest.approx(want["logit"], abs=ATOL)
    assert got.total == pytest.approx(got.logit, abs=1e-6)


# ---- logit attribution ------------------------------------------------------------------------------------
def test_attribution_matches_hooks_at_several_positions(extractor: AttentionExtractor) -> None:
    # A model's first attribution checks its blocks by running them through (the "block" replay); later
    # ones take the MLP output as the block's output minus input and attention: both against the hooks.
    result = extractor.extract_activations(PROMPT)
    parts = Parts(extractor)
    for position in (-1, 3, 1, result.seq_len - 2):
        got = result.logit_attribution(position)
        absolute = position % result.seq_len
        assert got.position == absolute
        assert got.target_id == int(parts.logits[absolute].argmax())  # None: the top prediction
        assert_matches(got, parts.expected(absolute, got.target_id, None))


def test_attribution_parts_are_not_trivial(extractor: AttentionExtractor) -> None:
    # The comparison above means something only if every kind of part is there.
    got = extractor.extract_activations(PROMPT).logit_attribution(-1, target=7)
    assert got.heads.dtype == np.float64 and got.heads.shape == (
        extractor.model.config.num_hidden_layers,
        Parts(extractor).num_heads,
    )
    assert got.mlp.dtype == np.float64 and got.mlp.shape == (extractor.model.config.num_hidden_layers,)
    assert np.abs(got.heads).min() > 0 and np.abs(got.mlp).min() > 0 and got.embeddings != 0
    if extractor.model.config.model_type == "gpt2":
        assert abs(got.biases) > 1e-3  # output-projection and final-norm biases


def test_logit_is_the_plain_forward_logit(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    with torch.no_grad():
        logits = extractor.model(torch.tensor([result.input_ids.tolist()])).logits[0]
    for position, target in ((-1, 11), (2, 2054)):
        got = result.logit_attribution(position, target=target)
        assert got.logit == pytest.approx(float(logits[position, target]), abs=ATOL)
        assert got.total == pytest.approx(float(logits[position, target]), abs=ATOL)


def test_text_target_and_contrast(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    parts = Parts(extractor)
    dog, cat = (extractor.tokenizer.convert_tokens_to_ids(t) for t in ("dog", "cat"))
    got = result.logit_attribution(-1, target="dog", contrast="cat")
    assert (got.target, got.target_id, got.contrast, got.contrast_id) == ("dog", dog, "cat", cat)
    assert_matches(got, parts.expected(result.seq_len - 1, dog, cat))
    alone = [result.logit_attribution(-1, target=t) for t in (dog, cat)]
    np.testing.assert_allclose(got.heads, alone[0].heads - alone[1].heads, atol=1e-9)
    assert got.logit == pytest.approx(alone[0].logit - alone[1].logit, abs=1e-9)
    assert alone[0].contrast is None and alone[0].contrast_id is None


def test_bad_targets(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    with pytest.raises(ValueError, match=r"'the cat' is 2 tokens \('the', 'cat'\)"):
        result.logit_attribution(target="the cat")
    with pytest.raises(ValueError, match="0 tokens"):
        result.logit_attribution(target="")
    with pytest.raises(ValueError, match=r"contrast 'on the' is 2 tokens"):
        result.logit_attribution(target="dog", contrast="on the")
    for bad in (VOCAB, -1):
        with pytest.raises(ValueError, match=rf"target {bad} is not a token id: the vocabulary has {VOCAB}"):
            result.logit_attribution(target=bad)
    with pytest.raises(TypeError):
        result.logit_attribution(target=True)
    with pytest.raises(TypeError):
        result.logit_attribution(target=3.0)
    with pytest.raises(IndexError, match="position 99"):
        result.logit_attribution(99)


def test_encoder_has_no_logit(bert_tokenizer: Any) -> None:
    encoder = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match="not a causal language model with an unembedding"):
        encoder.extract_activations(PROMPT).logit_attribution()
    with pytest.raises(ValueError, match="not a causal language model"):
        encoder.neuron_logit_effects(0, 0)


def test_blocks_with_norms_after_attention_are_refused(bert_tokenizer: Any) -> None:
    # OLMo2 normalises the attention output before adding it: its heads do not add up to what the block
    # writes, so attributing to them would be wrong.
    torch.manual_seed(0)
    config = transformers.Olmo2Config(
        num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64, vocab_size=VOCAB
    )
    olmo = AttentionExtractor(model=transformers.Olmo2ForCausalLM(config).eval(), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match="cannot be split into head outputs"):
        olmo.extract_activations(PROMPT).logit_attribution()


# ---- value-weighted attention ---------------------------------------------------------------------------
def test_value_weighted_matches_hand_computation(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    parts = Parts(extractor)
    model = extractor.model
    model.set_attn_implementation("eager")  # the weights from the model itself, not from attnwidget
    try:
        with torch.no_grad():
            maps = model(parts.ids, output_attentions=True).attentions
    finally:
        model.set_attn_implementation("sdpa")
    group = parts.num_heads // parts.num_kv_heads
    d = parts.head_dim
    for layer in range(model.config.num_hidden_layers):
        alpha = maps[layer][0].double()  # [heads, seq, seq]
        values = parts.values[layer].double()  # [seq, kv_heads · dim], the value bias included
        weight = parts.out_weight(layer)
        norms = torch.stack(
            [
                (values[:, (h // group) * d : (h // group + 1) * d] @ weight[:, h * d : (h + 1) * d].t()).norm(dim=-1)
                for h in range(parts.num_heads)
            ]
        )
        want = (alpha * norms[:, None, :]).numpy()
        got = result.value_weighted(layer)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-4)
        np.testing.assert_allclose(result.value_weighted(layer, 1), want[1], atol=1e-6, rtol=1e-4)
        # It is not the plain map: the norms differ between keys.
        assert not np.allclose(got, result.attention(layer), atol=1e-3)
    with pytest.raises(IndexError, match="layer"):
        result.value_weighted(5)
    with pytest.raises(IndexError, match="head"):
        result.value_weighted(0, parts.num_heads)


# ---- neuron logit effects ---------------------------------------------------------------------------------
def test_neuron_logit_effects_match_hand_computation(extractor: AttentionExtractor) -> None:
    parts = Parts(extractor)
    for layer, neuron in ((0, 5), (1, 17), (-1, -1)):
        down = parts.mlp_down[layer].weight.detach().double()
        width = down.shape[0] if parts.gpt2 else down.shape[1]
        column = down[neuron % width] if parts.gpt2 else down[:, neuron % width]
        direction = column * parts.final_norm.weight.detach().double()
        effects = extractor.model.get_output_embeddings().weight.detach().double() @ direction
        order = torch.argsort(effects, descending=True)
        got = extractor.neuron_logit_effects(layer, neuron, k=4)
        assert [text for text, _ in got["promoted"]] == [extractor.tokenizer.decode([int(i)]) for i in order[:4]]
        assert [text for text, _ in got["suppressed"]] == [
            extractor.tokenizer.decode([int(i)]) for i in order.flip(0)[:4]
        ]
        np.testing.assert_allclose([v for _, v in got["promoted"]], effects[order[:4]].numpy(), atol=1e-6)
        np.testing.assert_allclose([v for _, v in got["suppressed"]], effects[order.flip(0)[:4]].numpy(), atol=1e-6)


def test_neuron_out_of_range(extractor: AttentionExtractor) -> None:
    width = extractor.get_model_info()["intermediate_size"]
    with pytest.raises(
        IndexError, match=rf"neuron {width} is out of range: .* \(valid: 0..{width - 1} or -{width}..-1\)"
    ):
        extractor.neuron_logit_effects(0, width)
    with pytest.raises(IndexError, match="layer 2 is out of range"):
        extractor.neuron_logit_effects(2, 0)
    with pytest.raises(ValueError, match="k must be a positive int"):
        extractor.neuron_logit_effects(0, 0, k=0)


def test_models_outside_the_attention_interface_are_refused(bert_tokenizer: Any) -> None:
    neo = AttentionExtractor(model=tiny_model("gpt_neo"), tokenizer=bert_tokenizer)
    result = neo.extract_activations(PROMPT)
    with pytest.raises(ValueError, match="attention interface"):
        result.logit_attribution()
    with pytest.raises(ValueError, match="attention interface"):
        result.value_weighted(0)


@pytest.mark.slow
def test_smollm2_paris(smollm2: AttentionExtractor) -> None:
    result = smollm2.extract_activations("The capital of France is")
    with torch.no_grad():
        logits = smollm2.model(torch.tensor([result.input_ids.tolist()])).logits[0, -1].double()
    got = result.logit_attribution(target=" Paris", contrast=" London")
    paris, london = got.target_id, got.contrast_id
    assert (got.target, got.contrast) == (" Paris", " London")
    assert got.logit == pytest.approx(float(logits[paris] - logits[london]), abs=1e-3)
    assert got.total == pytest.approx(got.logit, abs=1e-4)
    assert got.logit > 0  # the model prefers Paris
    top = result.logit_attribution()
    assert top.target_id == int(logits.argmax())
