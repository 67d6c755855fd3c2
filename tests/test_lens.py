"""The logit lens: each layer's residual stream through the model's final norm and unembedding.

Checked against an independent computation from the model's own modules, against the model's final
prediction at the last layer (exact ids, probabilities to 1e-5), on tiny GPT-2, GPT-Neo, Llama and the
bundled SmolLM2; and the widget traits that carry it (bytes, cache, pinned vs hovered, export state).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import attnwidget
from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.engine.lens import find_final_norm
from attnwidget.widgets import encode
from attnwidget.widgets.attention import LENS_CACHE_SIZE, LENS_K
from tests.tiny_models import tiny_model

PROMPT = "the cat sat on the mat and the dog sat on the rug"
CAUSAL_KINDS = ["gpt2", "gpt_neo", "llama"]


@pytest.fixture(scope="module", params=CAUSAL_KINDS)
def causal(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=tiny_model(request.param), tokenizer=bert_tokenizer
    )


@pytest.fixture(scope="module")
def gpt2_result(bert_tokenizer: Any) -> attnwidget.Extraction:
    return AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer).extract_activations(PROMPT)


@pytest.fixture(scope="module")
def bert_result(bert_tokenizer: Any) -> attnwidget.Extraction:
    return AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer).extract_activations(PROMPT)


def reference_lens(model: Any, residual: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent of attnwidget.lens: the model's norm and LM head called directly, full softmax."""
    with torch.no_grad():
        norm = find_final_norm(model)
        assert norm is not None
        logits = model.get_output_embeddings()(norm(torch.from_numpy(residual)))
        probs = torch.softmax(logits.double(), dim=-1)
        top = probs.topk(k, dim=-1)
    return top.indices.numpy(), top.values.float().numpy()


# ---- the final norm ---------------------------------------------------------------------------------------
def test_final_norm_is_found_on_each_architecture(bert_tokenizer: Any) -> None:
    gpt2, neo, llama = (tiny_model(kind) for kind in CAUSAL_KINDS)
    assert find_final_norm(gpt2) is gpt2.transformer.ln_f
    assert find_final_norm(neo) is neo.transformer.ln_f
    assert find_final_norm(llama) is llama.model.norm


def test_final_norm_of_last_layer_reproduces_final_hidden(causal: AttentionExtractor) -> None:
    result = causal.extract_activations(PROMPT)
    assert result.lens is not None and result.final_hidden is not None
    normed = result.lens.normed(result.residual_stream[-1])
    np.testing.assert_allclose(normed, result.final_hidden, atol=1e-5, rtol=0)


# ---- the lens -----------------------------------------------------------------------------------------------
def test_lens_shape_and_last_row_is_the_models_prediction(causal: AttentionExtractor) -> None:
    result = causal.extract_activations(PROMPT)
    for position in (0, 3, result.seq_len - 1, -1):
        lens = result.logit_lens(position)
        assert len(lens) == result.num_layers + 1
        assert all(len(row) == 5 for row in lens)
        final = result.top_predictions(position)[:5]
        assert [text for text, _ in lens[-1]] == [text for text, _ in final]
        np.testing.assert_allclose([p for _, p in lens[-1]], [p for _, p in final], atol=1e-5, rtol=0)
        # Ids, exactly: the arrays' last row against the predictor on the final hidden state.
        ids, probs = result.logit_lens_arrays(position, 5)
        assert result.predictor is not None
        final_ids, final_probs = result.predictor.top_k(result.final_hidden[[position]], k=5)
        assert ids[-1].tolist() == final_ids[0].tolist()
        np.testing.assert_allclose(probs[-1], final_probs[0], atol=1e-5, rtol=0)


def test_every_row_matches_an_independent_computation(causal: AttentionExtractor) -> None:
    result = causal.extract_activations(PROMPT)
    ids, probs = result.logit_lens_arrays(4, k=3)
    assert ids.shape == probs.shape == (result.num_layers + 1, 3)
    assert ids.dtype == np.int64 and probs.dtype == np.float32
    ref_ids, ref_probs = reference_lens(causal.model, result.residual_stream[:, 4], 3)
    np.testing.assert_allclose(probs, ref_probs, atol=1e-6, rtol=0)
    # Random tiny models give near-uniform rows where neighbours can tie within float error: compare ids
    # where the probabilities are clearly apart.
    assert ids[:, 0].tolist() == ref_ids[:, 0].tolist() or np.allclose(probs[:, 0], probs[:, 1], atol=1e-7)
    texts = result.logit_lens(4, k=3)
    assert result.predictor is not None
    assert [[t for t, _ in row] for row in texts] == result.predictor.texts(ids)
    assert np.all(np.diff(probs, axis=1) <= 0)  # most likely first


def test_lens_k_and_position_errors(gpt2_result: attnwidget.Extraction) -> None:
    r = gpt2_result
    assert [len(row) for row in r.logit_lens(1, k=1)] == [1] * (r.num_layers + 1)
    assert r.logit_lens_arrays(1, k=12)[0].shape == (r.num_layers + 1, 12)  # beyond the extractor's top_k
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive int"):
            r.logit_lens(1, k=bad)
    with pytest.raises(IndexError, match=rf"position {r.seq_len} is out of range.*0\.\.{r.seq_len - 1}"):
        r.logit_lens(r.seq_len)
    with pytest.raises(IndexError, match="out of range"):
        r.logit_lens(-r.seq_len - 1)
    with pytest.raises(TypeError):
        r.logit_lens("3")  # type: ignore[arg-type]


def test_encoder_has_no_lens(bert_result: attnwidget.Extraction) -> None:
    assert bert_result.lens is None
    with pytest.raises(ValueError, match="not a causal language model") as caught:
        bert_result.logit_lens(0)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="not a causal language model"):
        bert_result.logit_lens_arrays(0)


def test_extraction_repr_leaves_the_lens_out(gpt2_result: attnwidget.Extraction) -> None:
    assert "LensProjector" not in repr(gpt2_result)


# ---- the widget -----------------------------------------------------------------------------------------------
def lens_probs(w: AttentionWidget) -> np.ndarray:
    rows, k = len(w._lens["tokens"]), w._lens["info"]["k"]
    return encode.decode_float16(w._lens["data"], (rows, k))


def test_widget_lens_traits_follow_pinned_then_hovered(gpt2_result: attnwidget.Extraction) -> None:
    r = gpt2_result
    w = AttentionWidget(r)
    assert w._lens["info"] == {"position": -1, "k": 0} and w._lens["tokens"] == [] and w._lens["data"] == b""
    w.token = 3
    assert w._lens["info"] == {"position": 3, "k": LENS_K}
    assert len(w._lens["tokens"]) == r.num_layers + 1 and all(len(row) == LENS_K for row in w._lens["tokens"])
    assert len(w._lens["data"]) == (r.num_layers + 1) * LENS_K * 2
    expected = r.logit_lens(3, LENS_K)
    assert w._lens["tokens"] == [[t for t, _ in row] for row in expected]
    np.testing.assert_allclose(lens_probs(w), [[p for _, p in row] for row in expected], rtol=1e-3, atol=1e-7)
    # Hover does not replace a pinned token...
    w.hovered_token = 5
    assert w._lens["info"]["position"] == 3
    # ...and takes over once nothing is pinned.
    w.token = -1
    assert w._lens["info"]["position"] == 5
    w.hovered_token = 6
    assert w._lens["info"]["position"] == 6
    # The pointer leaving keeps the last rows (the view says "last hovered").
    w.hovered_token = -1
    assert w._lens["info"]["position"] == 6 and len(w._lens["tokens"]) == r.num_layers + 1


def test_widget_lens_is_cached_per_position(gpt2_result: attnwidget.Extraction, monkeypatch: Any) -> None:
    w = AttentionWidget(gpt2_result)
    calls: list[int] = []
    original = type(gpt2_result).logit_lens_arrays

    def counting(self: Any, position: int, k: int = 5) -> Any:
        calls.append(position)
        return original(self, position, k)

    monkeypatch.setattr(type(gpt2_result), "logit_lens_arrays", counting)
    for position in (1, 2, 1, 2, 1):
        w.hovered_token = position
    assert calls == [1, 2]
    w.token = 2
    w.token = 1
    assert calls == [1, 2]
    assert len(w._lens_cache) <= LENS_CACHE_SIZE


def test_widget_lens_state_is_bytes_and_exported(gpt2_result: attnwidget.Extraction) -> None:
    w = AttentionWidget(gpt2_result, token=2)
    state = w.state_for_export()
    assert state["_lens"]["info"] == {"position": 2, "k": LENS_K}
    assert isinstance(state["_lens"]["data"], bytes) and len(state["_lens"]["tokens"]) == gpt2_result.num_layers + 1
    assert not any(isinstance(v, float) for v in state["_lens"]["info"].values())
    unpinned = AttentionWidget(gpt2_result).state_for_export()
    assert unpinned["_lens"]["info"]["position"] == -1


def test_widget_lens_for_an_encoder_says_why(bert_result: attnwidget.Extraction) -> None:
    w = AttentionWidget(bert_result, token=1)
    assert w._lens["info"]["position"] == -1
    assert "not a causal language model" in w._lens["info"]["unavailable"]
    w.token = 2
    w.hovered_token = 0
    assert w._lens["tokens"] == [] and w._lens["data"] == b""


def test_export_html_carries_the_pinned_lens(gpt2_result: attnwidget.Extraction, tmp_path: Any) -> None:
    from attnwidget.output.export import export_html

    w = AttentionWidget(gpt2_result, token=4)
    page = export_html(w, tmp_path / "lens.html").read_text(encoding="utf-8")
    assert '"_lens":{"info":{"position":4,"k":5}' in page


# ---- the bundled SmolLM2 -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_smollm2_lens_ends_on_the_models_prediction(smollm2: AttentionExtractor) -> None:
    result = smollm2.extract_activations("The quick brown fox jumps over the lazy dog. The quick brown")
    assert result.lens is not None and result.final_hidden is not None
    assert find_final_norm(smollm2.model) is smollm2.model.model.norm
    np.testing.assert_allclose(result.lens.normed(result.residual_stream[-1]), result.final_hidden, atol=1e-4)
    for position in (0, 5, -1):
        lens = result.logit_lens(position, k=5)
        assert len(lens) == 31
        final = result.top_predictions(position)[:5]
        assert [t for t, _ in lens[-1]] == [t for t, _ in final]
        np.testing.assert_allclose([p for _, p in lens[-1]], [p for _, p in final], atol=1e-5, rtol=0)
        ids, _ = result.logit_lens_arrays(position, 5)
        assert result.predictor is not None
        final_ids, _ = result.predictor.top_k(result.final_hidden[[position]], k=5)
        assert ids[-1].tolist() == final_ids[0].tolist()
    # A repeated phrase: the model's own prediction after the second "brown" is " fox", confidently.
    assert result.logit_lens(-1)[-1][0][0] == " fox"
