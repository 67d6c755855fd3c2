"""TransformerLens and nnsight models, and TransformerLens caches (attnwidget/engine/interop.py).

Offline: tiny random-weight models saved to a temporary folder, with the bundled MiniLM tokenizer. A
TransformerLens 4 `TransformerBridge` is booted from that folder; its own cache (`run_with_cache`) is what
attnwidget must equal. Each test skips when its library is not installed (the dev extras install both).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, ModelLoadError
from attnwidget.engine.extractor import shared_extractor
from tests.tiny_models import tiny_model

PROMPT = "The cat sat on the mat and the cat"
KINDS = ["gpt2", "llama"]  # Conv1D with a joint query/key/value; Linear with grouped-query attention


@pytest.fixture(scope="module", params=KINDS)
def bridge(request: pytest.FixtureRequest, bert_tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A TransformerBridge booted offline from a saved tiny model (the bridge rewires that model in place)."""
    pytest.importorskip("transformer_lens")
    from transformer_lens.model_bridge import TransformerBridge

    model = tiny_model(request.param)
    folder = tmp_path_factory.mktemp(f"tl-{request.param}")
    model.save_pretrained(folder)
    return TransformerBridge.boot_transformers(str(folder), tokenizer=bert_tokenizer, hf_model=model, device="cpu")


def kind_of(bridge: Any) -> str:
    return "gpt2" if "GPT2" in type(bridge.original_model).__name__ else "llama"


def tl_cache(bridge: Any, ids: np.ndarray, **options: Any) -> Any:
    _, cache = bridge.run_with_cache(torch.from_numpy(ids)[None], **options)
    return cache


# ---- TransformerBridge -------------------------------------------------------------------------------------
def test_bridge_attention_residual_and_mlp_equal_transformer_lens_cache(bridge: Any) -> None:
    result = AttentionExtractor(model=bridge).extract_activations(PROMPT)  # the bridge's own tokenizer
    cache = tl_cache(bridge, result.input_ids)
    for layer in range(result.num_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"][0].numpy()
        np.testing.assert_allclose(result.attention(layer), pattern, atol=1e-5, rtol=0)
        np.testing.assert_allclose(
            result.residual_stream[layer], cache[f"blocks.{layer}.hook_resid_pre"][0].numpy(), atol=1e-5, rtol=0
        )
        np.testing.assert_allclose(
            result.residual_stream[layer + 1], cache[f"blocks.{layer}.hook_resid_post"][0].numpy(), atol=1e-5, rtol=0
        )
        np.testing.assert_allclose(
            result.neuron_activations(layer, "mlp"), cache[f"blocks.{layer}.mlp.hook_post"][0].numpy(), atol=1e-5
        )


def test_bridge_gives_the_bare_models_extraction_and_analyses(bridge: Any, bert_tokenizer: Any) -> None:
    kind = kind_of(bridge)
    bare = AttentionExtractor(model=tiny_model(kind), tokenizer=bert_tokenizer)  # same seed, same weights
    wrapped = AttentionExtractor(model=bridge)
    a, b = bare.extract_activations(PROMPT), wrapped.extract_activations(PROMPT)
    for layer in range(a.num_layers):
        np.testing.assert_allclose(b.attention(layer), a.attention(layer), atol=1e-6)
        np.testing.assert_allclose(b.value_weighted(layer), a.value_weighted(layer), atol=1e-5)
    np.testing.assert_allclose(b.residual_stream, a.residual_stream, atol=1e-6)
    np.testing.assert_allclose(b.mlp_activations, a.mlp_activations, atol=1e-6)
    assert b.top_predictions(4) == a.top_predictions(4)
    assert b.logit_lens(4) == a.logit_lens(4)
    np.testing.assert_allclose(b.logit_attribution(-1).heads, a.logit_attribution(-1).heads, atol=1e-5)
    effect = b.ablate(heads=[(1, 0)]).effect(-1)["delta"]
    assert effect == pytest.approx(a.ablate(heads=[(1, 0)]).effect(-1)["delta"], abs=1e-5)
    assert b.head_scores()["previous_token"] == pytest.approx(a.head_scores()["previous_token"], abs=1e-6)
    generated = wrapped.generate(PROMPT, max_new_tokens=3, stop_at_eos=False)
    assert list(generated.generated_ids) == list(
        bare.generate(PROMPT, max_new_tokens=3, stop_at_eos=False).generated_ids
    )
    assert wrapped.neuron_logit_effects(1, 2) == bare.neuron_logit_effects(1, 2)


def test_bridge_is_left_as_it_was(bridge: Any) -> None:
    hf = bridge.original_model
    hooks_before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in hf.modules())
    extractor = AttentionExtractor(model=bridge)
    result = extractor.extract_activations(PROMPT)
    result.attention(1), result.logit_attribution(-1), result.ablate(heads=[(0, 1)])
    # The bridge still runs eager attention with its own hooks, and nothing of attnwidget's stays on it.
    assert hf.config._attn_implementation == "eager"
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in hf.modules()) == hooks_before
    pattern = tl_cache(bridge, result.input_ids)["blocks.1.attn.hook_pattern"][0].numpy()
    np.testing.assert_allclose(result.attention(1), pattern, atol=1e-5, rtol=0)
    # Nothing was loaded twice: attnwidget's transformers model holds the bridge's own tensors.
    theirs = {p.data_ptr() for p in hf.parameters()}
    assert all(p.data_ptr() in theirs for p in extractor.model.parameters())
    assert extractor.model is not hf and extractor.tokenizer is bridge.tokenizer


def test_show_takes_a_bridge(bridge: Any) -> None:
    widget = attnwidget.show(PROMPT, model=bridge)
    assert shared_extractor(bridge) is shared_extractor(bridge)
    assert widget.extraction.num_layers == 2
    assert widget._effects["info"]["unavailable"] is None  # the model is there: every view has its data
    assert widget._lens["info"].get("unavailable") is None


# ---- from_cache --------------------------------------------------------------------------------------------
def test_from_cache_shows_what_the_cache_holds_without_the_model(bridge: Any, tmp_path: Path) -> None:
    ids = AttentionExtractor(model=bridge).extract_activations(PROMPT).input_ids
    cache = tl_cache(bridge, ids)
    widget = attnwidget.from_cache(cache, torch.from_numpy(ids)[None])
    ex = widget.extraction
    for layer in range(ex.num_layers):
        np.testing.assert_array_equal(ex.attention(layer), cache[f"blocks.{layer}.attn.hook_pattern"][0].numpy())
        np.testing.assert_array_equal(ex.neuron_activations(layer, "mlp"), cache[f"blocks.{layer}.mlp.hook_post"][0])
    np.testing.assert_array_equal(ex.residual_stream[0], cache["blocks.0.hook_resid_pre"][0].numpy())
    np.testing.assert_array_equal(ex.residual_stream[-1], cache["blocks.1.hook_resid_post"][0].numpy())
    assert ex.display_tokens[:3] == ["[CLS]", "the", "cat"] and ex.is_causal
    assert ex.head_scores()["induction"].shape == (2, ex.num_heads)
    assert widget._neuron_widths == {"residual": ex.residual_stream.shape[-1], "mlp": ex.mlp_activations.shape[-1]}
    # The views that need the model say so; the panel opens on one that has something to show.
    assert widget.panel == "head-scores"
    for why in (widget._lens["info"]["unavailable"], widget._effects["info"]["unavailable"]):
        assert "needs the model" in why and "activation cache" in why
    assert "needs the model" in widget._ablation["info"]["unavailable"]
    with pytest.raises(traitlets.TraitError, match="value-weighted attention needs the model"):
        widget.weighting = "value_weighted"
    for call in (lambda: ex.ablate(heads=[(0, 0)]), lambda: ex.logit_lens(2), lambda: ex.top_predictions(2)):
        with pytest.raises(ValueError, match="needs the model"):
            call()
    assert attnwidget.export_html(widget, tmp_path / "page.html").stat().st_size > 0


def test_from_cache_with_token_texts_a_filtered_cache_and_a_batch(bridge: Any) -> None:
    extractor = AttentionExtractor(model=bridge)
    ids = extractor.extract_activations(PROMPT).input_ids
    texts = bridge.tokenizer.convert_ids_to_tokens(ids.tolist())
    no_mlp = tl_cache(bridge, ids, names_filter=lambda name: name.endswith(("pattern", "resid_pre", "resid_post")))
    ex = attnwidget.from_cache(no_mlp, texts, model_name="tiny").extraction
    assert ex.display_tokens == texts and ex.model_name == "tiny" and ex.mlp_activations is None
    # Texts stand for ids: the repeated "the" and "cat" repeat theirs (the induction score reads them).
    assert ex.input_ids[2] == ex.input_ids[9] and ex.input_ids[1] == ex.input_ids[5] != ex.input_ids[2]
    assert "mlp" not in attnwidget.from_cache(no_mlp, texts)._neuron_widths

    other = extractor.extract_activations("A dog ran in the park and a dog").input_ids
    assert len(other) == len(ids)
    _, both = bridge.run_with_cache(torch.from_numpy(np.stack([ids, other])))
    second = attnwidget.from_cache(both, other, batch=1).extraction
    np.testing.assert_allclose(
        second.attention(1), extractor.extract_activations("A dog ran in the park and a dog").attention(1), atol=1e-5
    )

    # The patterns alone: every attention view; the neuron plot says nothing of it was recorded.
    patterns_only = tl_cache(bridge, ids, names_filter=lambda name: name.endswith("hook_pattern"))
    shown = attnwidget.from_cache(patterns_only, texts)
    np.testing.assert_array_equal(shown.extraction.attention(1), patterns_only["blocks.1.attn.hook_pattern"][0].numpy())
    assert shown.extraction.head_scores()["induction"].shape == (ex.num_layers, ex.num_heads)
    assert shown._neuron_widths == {"residual": 0} and shown.neuron_k == 1
    assert (
        shown._neurons["info"]["k"] == 0
        and "no residual activations were recorded" in shown._neurons["info"]["unavailable"]
    )
    with pytest.raises(ValueError, match="holds no attention patterns"):
        attnwidget.from_cache(tl_cache(bridge, ids, names_filter=lambda name: "resid" in name), texts)
    with pytest.raises(ValueError, match=f"tokens has 3 tokens, the cache's attention maps {len(ids)}"):
        attnwidget.from_cache(no_mlp, texts[:3])
    with pytest.raises(IndexError, match=r"batch must be an int in 0\.\.1"):
        attnwidget.from_cache(both, other, batch=2)


# ---- nnsight -----------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::FutureWarning")  # nnsight 0.8 calls LanguageModel deprecated, still its name
@pytest.mark.parametrize("kind", KINDS)
def test_nnsight_model_gives_the_bare_models_extraction(kind: str, bert_tokenizer: Any) -> None:
    nnsight = pytest.importorskip("nnsight")
    language_model = nnsight.LanguageModel(tiny_model(kind), tokenizer=bert_tokenizer)
    a = AttentionExtractor(model=tiny_model(kind), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    b = AttentionExtractor(model=language_model).extract_activations(PROMPT)
    for layer in range(a.num_layers):
        np.testing.assert_array_equal(b.attention(layer), a.attention(layer))
    np.testing.assert_array_equal(b.residual_stream, a.residual_stream)
    np.testing.assert_array_equal(b.mlp_activations, a.mlp_activations)
    assert b.top_predictions(3) == a.top_predictions(3)
    assert attnwidget.show(PROMPT, model=language_model).extraction.seq_len == a.seq_len
    with language_model.trace(PROMPT):  # nnsight still traces its model afterwards
        logits = language_model.output.logits.save()
    assert logits.shape[1] == a.seq_len


# ---- without the libraries ---------------------------------------------------------------------------------
def test_a_model_whose_library_cannot_be_imported_is_a_one_line_error(
    bridge: Any, bert_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    nnsight = pytest.importorskip("nnsight")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        language_model = nnsight.LanguageModel(tiny_model("gpt2"), tokenizer=bert_tokenizer)
    monkeypatch.setitem(sys.modules, "transformer_lens", None)
    monkeypatch.setitem(sys.modules, "nnsight", None)
    with pytest.raises(ModelLoadError, match=r"TransformerLens cannot be imported .*attnwidget\[transformer-lens\]"):
        AttentionExtractor(model=bridge)
    with pytest.raises(ModelLoadError, match=r"nnsight cannot be imported .*attnwidget\[nnsight\]") as error:
        attnwidget.show(PROMPT, model=language_model)
    assert "\n" not in str(error.value)


def test_attnwidget_imports_and_works_without_the_libraries() -> None:
    code = textwrap.dedent(
        """
        import sys
        import attnwidget
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("transformer_lens", "nnsight"))
        assert not loaded, loaded
        sys.modules["transformer_lens"] = sys.modules["nnsight"] = None
        import torch
        torch.manual_seed(0)
        scores = torch.randn(2, 1, 3, 4, 4).masked_fill(torch.ones(4, 4, dtype=torch.bool).triu(1), -torch.inf)
        cache = {f"blocks.{l}.attn.hook_pattern": scores[l].softmax(-1) for l in range(2)}
        cache |= {f"blocks.{l}.hook_resid_pre": torch.randn(1, 4, 24) for l in range(2)}
        cache["blocks.1.hook_resid_post"] = torch.randn(1, 4, 24)
        w = attnwidget.from_cache(cache, ["a", " b", " a", " b"])
        assert w.extraction.is_causal and w.extraction.model_name == "TransformerLens cache", w.extraction
        print(w.extraction.head_scores()["induction"].shape)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 3)"
