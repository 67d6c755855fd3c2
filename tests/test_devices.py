"""Half precision and GPUs: the same engine on another dtype or device gives the same maps, neurons and
predictions, and everything built from them (widget, figures, export) works.

Tests marked `gpu` run only where CUDA is available (skipped otherwise); the bf16 tests on the CPU run
everywhere."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attnwidget import AttentionExtractor, AttentionVisualizer, AttentionWidget, export_html
from attnwidget.engine.extraction import Extraction
from tests.tiny_models import TINY_KINDS, tiny_model

PROMPT = "The cat sat on the mat. The cat sat on the mat again, and the dog watched the cat."
SHORT = "A dog barked."

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _extract(model: Any, tokenizer: Any, device: str | None = None, prompt: str = PROMPT) -> Extraction:
    return AttentionExtractor(model=model, tokenizer=tokenizer, device=device).extract_activations(prompt)


def _assert_rows_sum_to_one(result: Extraction) -> None:
    for layer in range(result.num_layers):
        maps = result.attention(layer)
        assert maps.dtype == np.float32
        assert np.isfinite(maps).all()
        np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)


def _assert_same(a: Extraction, b: Extraction, atol: float) -> None:
    """Same maps, residual stream, MLP neurons and predictions, within `atol`."""
    assert a.tokens == b.tokens
    for layer in range(a.num_layers):
        np.testing.assert_allclose(a.attention(layer), b.attention(layer), atol=atol, err_msg=f"layer {layer}")
        np.testing.assert_allclose(
            a.neuron_activations(layer, "residual"), b.neuron_activations(layer, "residual"), atol=atol * 10, rtol=1e-4
        )
        if a.layers.has_mlp:
            np.testing.assert_allclose(
                a.neuron_activations(layer, "mlp"), b.neuron_activations(layer, "mlp"), atol=atol * 10, rtol=1e-4
            )
    np.testing.assert_allclose(a.residual_stream, b.residual_stream, atol=atol * 10, rtol=1e-4)
    if a.top_probs is not None:
        assert b.top_probs is not None and b.top_token_ids is not None and a.top_token_ids is not None
        np.testing.assert_allclose(a.top_probs, b.top_probs, atol=atol)
        # Ties between random-weight logits may swap: compare the ids where the probabilities differ.
        apart = np.abs(np.diff(a.top_probs, axis=-1)) > 1e-4
        same = a.top_token_ids == b.top_token_ids
        assert same[:, :-1][apart].all() or same.mean() > 0.99
    assert a.head_scores().keys() == b.head_scores().keys()
    for name, values in a.head_scores().items():
        np.testing.assert_allclose(values, b.head_scores()[name], atol=1e-4, equal_nan=True, err_msg=name)


# ---- bf16 on the CPU (runs everywhere) ------------------------------------------------------------------
@pytest.mark.parametrize("kind", TINY_KINDS)
def test_bf16_model_on_cpu(kind: str, bert_tokenizer: Any) -> None:
    """A bf16 model: its blocks are replayed in bf16 (the residual buffer is float32, exact for bf16), maps
    are float32 rows summing to 1, and the residual stream and neurons come out as float32."""
    result = _extract(tiny_model(kind).to(torch.bfloat16), bert_tokenizer)
    _assert_rows_sum_to_one(result)
    assert result.residual_stream.dtype == np.float32
    recorded = result.layers.recording.get()
    assert recorded.input_dtypes is not None and set(recorded.input_dtypes) == {torch.bfloat16}
    if result.layers.has_mlp:
        assert result.neuron_activations(0, "mlp").dtype == np.float32
    AttentionWidget(result)


def test_bf16_replay_reproduces_the_pass(bert_tokenizer: Any) -> None:
    """The replayed block gets the input the pass gave it: its output equals the next recorded row."""
    result = _extract(tiny_model("llama").to(torch.bfloat16), bert_tokenizer)
    recorded = result.layers.recording.get()
    replayer = result.layers.replayer
    args, kwargs = recorded.block_calls[0]
    with torch.inference_mode():
        output = replayer.blocks[0](recorded.block_input(0, "cpu"), *args, **kwargs)
    output = output[0] if isinstance(output, tuple) else output
    assert output.dtype == torch.bfloat16
    assert torch.equal(output.float(), recorded.residual[:, 1])


# ---- CUDA ---------------------------------------------------------------------------------------------
@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("kind", TINY_KINDS)
def test_cuda_matches_cpu(kind: str, bert_tokenizer: Any) -> None:
    """float32 on the GPU: the recording stays there, and maps, neurons, predictions, head scores and the
    logit lens are the CPU's."""
    model = tiny_model(kind)
    on_cpu = _extract(model, bert_tokenizer)
    on_gpu = _extract(copy.deepcopy(model), bert_tokenizer, device="cuda")
    recorded = on_gpu.layers.recording.get()
    assert recorded.residual.device.type == "cuda"
    assert on_gpu.layers.attention_inputs(0).device.type == "cuda"
    _assert_same(on_cpu, on_gpu, atol=2e-5)
    if on_cpu.lens is not None:
        probs_cpu = on_cpu.logit_lens_arrays(3)[1]
        probs_gpu = on_gpu.logit_lens_arrays(3)[1]
        np.testing.assert_allclose(probs_cpu, probs_gpu, atol=2e-5)


@pytest.mark.gpu
@gpu
def test_cuda_model_already_on_the_gpu(bert_tokenizer: Any) -> None:
    """A model moved to the GPU before: the extractor works where it is (no device argument)."""
    model = tiny_model("llama").to("cuda")
    extractor = AttentionExtractor(model=model, tokenizer=bert_tokenizer)
    assert extractor.device.startswith("cuda")
    result = extractor.extract_activations(PROMPT)
    _assert_rows_sum_to_one(result)
    assert result.top_predictions(-1)


@pytest.mark.gpu
@gpu
def test_cuda_padded_batch_matches_cpu(bert_tokenizer: Any) -> None:
    model = tiny_model("llama")
    cpu_results = AttentionExtractor(model=model, tokenizer=bert_tokenizer).extract_batch([PROMPT, SHORT])
    gpu_results = AttentionExtractor(model=copy.deepcopy(model), tokenizer=bert_tokenizer, device="cuda").extract_batch(
        [PROMPT, SHORT]
    )
    for a, b in zip(cpu_results, gpu_results):
        _assert_same(a, b, atol=2e-5)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_cuda_half_precision(kind: str, dtype: torch.dtype, bert_tokenizer: Any) -> None:
    """bf16/fp16 on the GPU: the recording stays there in the model's dtype, maps are float32 rows summing
    to 1, and they agree with the float32 model's within half-precision error."""
    model = tiny_model(kind)
    reference = _extract(copy.deepcopy(model), bert_tokenizer, device="cuda")
    result = _extract(model.to(dtype), bert_tokenizer, device="cuda")
    recorded = result.layers.recording.get()
    assert recorded.residual.device.type == "cuda" and recorded.residual.dtype == dtype
    _assert_rows_sum_to_one(result)
    assert result.residual_stream.dtype == np.float32
    for layer in range(result.num_layers):
        np.testing.assert_allclose(result.attention(layer), reference.attention(layer), atol=0.05)
    assert result.top_probs is not None and result.top_probs.dtype == np.float32
    assert result.logit_lens(2)


@pytest.mark.gpu
@gpu
def test_cuda_widget_figures_and_export(bert_tokenizer: Any, tmp_path: Path) -> None:
    """Widget, figures and the HTML export from a GPU extraction are those of the CPU one."""
    model = tiny_model("llama")
    on_cpu = _extract(model, bert_tokenizer)
    on_gpu = _extract(copy.deepcopy(model).to(torch.bfloat16), bert_tokenizer, device="cuda")
    exact = _extract(copy.deepcopy(model), bert_tokenizer, device="cuda")
    widget_cpu, widget_gpu = AttentionWidget(on_cpu), AttentionWidget(exact)
    assert widget_cpu._info["thumbnail_size"] == widget_gpu._info["thumbnail_size"]
    thumbs_cpu = np.frombuffer(widget_cpu._thumbnails, np.uint8).astype(int)
    thumbs_gpu = np.frombuffer(widget_gpu._thumbnails, np.uint8).astype(int)
    assert np.abs(thumbs_cpu - thumbs_gpu).max() <= 1
    widget_gpu.layer, widget_gpu.head, widget_gpu.token = 1, 2, 3
    assert widget_gpu._attention_map["info"]["layer"] == 1
    assert widget_gpu._lens["info"]["position"] == 3
    widget_bf16 = AttentionWidget(on_gpu, neuron_kind="mlp")
    assert widget_bf16._neurons["info"]["kind"] == "mlp"
    assert export_html(widget_bf16, tmp_path / "page.html").stat().st_size > 0
    # Logit attribution (one row replayed per layer) and value-weighted maps, from the GPU as on the CPU.
    parts_cpu, parts_gpu = on_cpu.logit_attribution(), exact.logit_attribution()
    assert parts_cpu.target_id == parts_gpu.target_id
    np.testing.assert_allclose(parts_cpu.heads, parts_gpu.heads, atol=1e-4)
    np.testing.assert_allclose(on_cpu.value_weighted(1), exact.value_weighted(1), atol=1e-4)
    viz = AttentionVisualizer()
    viz.plot_all_heads(on_gpu)
    viz.plot_layer_statistics(on_gpu)
    viz.plot_attention_heatmap(on_gpu.attention(0, 1), on_gpu.display_tokens, 0, 1)


# ---- encoder-decoder models -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["t5", "bart"])
def test_encoder_decoder_bf16_on_cpu(kind: str, bert_tokenizer: Any) -> None:
    """A bf16 encoder-decoder model: every kind's maps are float32 rows summing to 1, the widget builds."""
    model = tiny_model(kind).to(torch.bfloat16)
    run = AttentionExtractor(model=model, tokenizer=bert_tokenizer).extract_activations(PROMPT, target=SHORT)
    for part in (run.encoder, run.decoder, run.cross):
        _assert_rows_sum_to_one(part)
    AttentionWidget(run)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("kind", ["t5", "bart"])
def test_cuda_encoder_decoder_matches_cpu(kind: str, bert_tokenizer: Any) -> None:
    """Encoder, decoder and cross attention on the GPU equal the CPU's; the widget builds on each kind."""
    model = tiny_model(kind)
    on_gpu = copy.deepcopy(model)
    cpu = AttentionExtractor(model=model, tokenizer=bert_tokenizer, device="cpu").extract_activations(
        PROMPT, target=SHORT
    )
    cuda = AttentionExtractor(model=on_gpu, tokenizer=bert_tokenizer, device="cuda").extract_activations(
        PROMPT, target=SHORT
    )
    for kind_name in ("encoder", "decoder", "cross"):
        a, b = cpu.part(kind_name), cuda.part(kind_name)
        for layer in range(a.num_layers):
            np.testing.assert_allclose(
                a.attention(layer), b.attention(layer), atol=1e-5, err_msg=f"{kind_name} {layer}"
            )
        np.testing.assert_allclose(a.residual_stream, b.residual_stream, atol=1e-4, rtol=1e-4)
    widget = AttentionWidget(cuda)
    for kind_name in ("encoder", "decoder", "cross"):
        widget.kind = kind_name
