"""Encoder-decoder models: encoder, decoder and cross attention, each held to transformers' own eager
`output_attentions` on tiny random T5 (relative position bias), BART and Marian models, and the rest of a
run (residual streams, MLP neurons, scores, greedy output) to hooks on the model and its own `generate`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from attnwidget import AttentionExtractor
from attnwidget.engine import seq2seq
from attnwidget.engine.seq2seq import EncoderDecoderExtraction

from .tiny_models import SEQ2SEQ_KINDS, tiny_model

SOURCE = "The quick brown fox jumps over the lazy dog near the river bank."
TARGET = "Le renard saute."


@pytest.fixture(scope="module", params=SEQ2SEQ_KINDS)
def seq2seq_extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=tiny_model(request.param), tokenizer=bert_tokenizer
    )


@pytest.fixture(scope="module")
def run(seq2seq_extractor: AttentionExtractor) -> EncoderDecoderExtraction:
    result = seq2seq_extractor.extract_activations(SOURCE, target=TARGET)
    assert isinstance(result, EncoderDecoderExtraction)
    return result


def eager_outputs(model: Any, result: EncoderDecoderExtraction, **options: Any) -> Any:
    """transformers' own forward of the whole model on eager attention, weights returned."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            return model(
                input_ids=torch.from_numpy(result.encoder.input_ids)[None],
                decoder_input_ids=torch.from_numpy(result.decoder.input_ids)[None],
                output_attentions=True,
                **options,
            )
    finally:
        model.set_attn_implementation(previous)


def test_every_kind_equals_the_models_eager_attentions(seq2seq_extractor: AttentionExtractor, run: Any) -> None:
    source_len, decoder_len = run.encoder.seq_len, run.decoder.seq_len
    assert source_len != decoder_len  # so that a transposed or square cross map would fail
    expected = eager_outputs(seq2seq_extractor.model, run)
    references = {
        "encoder": expected.encoder_attentions,
        "decoder": expected.decoder_attentions,
        "cross": expected.cross_attentions,
    }
    shapes = {
        "encoder": (source_len, source_len),
        "decoder": (decoder_len, decoder_len),
        "cross": (decoder_len, source_len),
    }
    for kind, maps in references.items():
        part = run.part(kind)
        assert part.num_layers == len(maps)  # the decoders have one layer more than the encoders
        for layer, reference in enumerate(maps):
            ours = run.attention(layer, kind=kind)
            assert ours.shape == (reference.shape[1], *shapes[kind])
            np.testing.assert_allclose(ours, reference[0].numpy(), atol=1e-4, err_msg=f"{kind} layer {layer}")
            head = reference.shape[1] - 1
            np.testing.assert_allclose(run.attention(layer, head, kind=kind), reference[0, head].numpy(), atol=1e-4)
        np.testing.assert_allclose(run.attention(0, kind=kind).sum(-1), 1.0, atol=1e-5)


def test_the_dict_keys_name_each_kind(run: Any) -> None:
    assert run["attention_weights"][0].shape[-1] == run.encoder.seq_len
    assert run["cross_attention_weights"][-1].shape[-2:] == (run.decoder.seq_len, run.encoder.seq_len)
    np.testing.assert_array_equal(run["decoder_attention_weights"][1], run.attention(1, kind="decoder"))
    assert run["decoder_input_ids"][0] == seq2seq.decoder_start_id(run.decoder.layers.replayer.model)
    names = run.keys()  # the names of the dict that the replaced scripts returned, and the new kinds'
    for key in names:
        assert key in run and run[key] is not None
    with pytest.raises(KeyError, match="available"):
        run["top_predictions"]


def test_residual_streams_and_neurons_are_the_models_own(seq2seq_extractor: AttentionExtractor, run: Any) -> None:
    model = seq2seq_extractor.model
    encoder_blocks = seq2seq.stacks(model)[0].blocks
    decoder_blocks = seq2seq.stacks(model)[1].blocks
    inputs: dict[str, list[torch.Tensor]] = {"encoder": [], "decoder": []}
    neurons: list[torch.Tensor] = []
    hidden = int(model.config.hidden_size)
    last = decoder_blocks[-1]
    projection = seq2seq.capture.find_mlp_output_projection(last, hidden)
    assert projection is not None
    handles = [
        block.register_forward_pre_hook(
            lambda _m, args, kwargs, name=name: inputs[name].append(
                (args[0] if args else kwargs["hidden_states"]).detach().clone()
            ),
            with_kwargs=True,
        )
        for name, blocks in (("encoder", encoder_blocks), ("decoder", decoder_blocks))
        for block in blocks
    ]
    handles.append(projection.register_forward_pre_hook(lambda _m, args: neurons.append(args[0].detach().clone())))
    try:
        eager_outputs(model, run)
    finally:
        for handle in handles:
            handle.remove()
    for name in ("encoder", "decoder"):
        residual = run.part(name).residual_stream
        for layer, expected in enumerate(inputs[name]):
            np.testing.assert_allclose(residual[layer], expected[0].numpy(), atol=1e-5, err_msg=f"{name} {layer}")
    np.testing.assert_allclose(run.decoder.neuron_activations(-1, "mlp"), neurons[0][0].numpy(), atol=1e-5)
    # Cross-attention reads the decoder's stream: its neurons are the decoder's.
    np.testing.assert_array_equal(run.cross.neuron_activations(-1, "mlp"), run.decoder.neuron_activations(-1, "mlp"))
    np.testing.assert_array_equal(
        run.neuron_activations(0, "residual", stack="decoder"), run.decoder.neuron_activations(0)
    )


def test_cross_scores_are_those_of_the_maps(run: Any) -> None:
    scores = run.head_scores("cross")
    for layer in range(run.cross.num_layers):
        maps = run.attention(layer, kind="cross")
        rows = -(maps * np.log(np.where(maps > 0, maps, 1))).sum(-1)  # [heads, T], nats
        expected = {"peak": maps.max(-1).mean(-1), "entropy": rows.mean(-1), "first_token": maps[..., 0].mean(-1)}
        for name, values in expected.items():
            np.testing.assert_allclose(scores[name][layer], values, rtol=1e-5, atol=1e-7, err_msg=name)
        normalized = (rows / np.log(run.encoder.seq_len)).mean(-1)
        np.testing.assert_allclose(scores["normalized_entropy"][layer], normalized, rtol=1e-5)
    assert np.isnan(scores["induction"]).all() and np.isnan(scores["previous_token"]).all()
    decoder_scores = run.head_scores("decoder")
    assert decoder_scores["previous_token"].shape == (run.decoder.num_layers, run.decoder.num_heads)
    assert not np.isnan(decoder_scores["previous_token"]).any()
    stats = run.attention_stats("cross")
    assert set(stats) == {f"layer_{i}" for i in range(run.cross.num_layers)}


def test_pooled_maps_of_cross_attention_are_rectangular(run: Any) -> None:
    cross = run.cross
    layers = list(cross.iter_pooled_attention(4, rows=(1, 3)))
    assert len(layers) == cross.num_layers
    _layer, pooled, kept = layers[-1]
    assert pooled is not None and kept is not None
    assert pooled.shape == (cross.num_heads, 4, 4)
    np.testing.assert_array_equal(kept, cross.attention(cross.num_layers - 1)[:, 1:3])
    np.testing.assert_allclose(
        cross.attention_rows(2), np.stack([run.attention(i, kind="cross")[:, 2] for i in range(cross.num_layers)])
    )


def test_a_dropped_recording_comes_back_with_the_same_maps(run: Any) -> None:
    before = {kind: run.attention(1, kind=kind).copy() for kind in seq2seq.KINDS}
    runs = run.decoder.layers.recording.runs
    run.encoder.layers.recording.drop()
    run.decoder.layers.recording.drop()
    for kind, maps in before.items():
        np.testing.assert_array_equal(run.attention(1, kind=kind), maps)
    assert run.decoder.layers.recording.runs == runs + 1


def test_without_a_target_the_model_writes_its_greedy_output(bert_tokenizer: Any) -> None:
    model = tiny_model("bart")
    extractor = AttentionExtractor(model_name="tiny-bart", model=model, tokenizer=bert_tokenizer)
    result = extractor.extract_activations(SOURCE)
    assert not result.target_given
    ids = torch.tensor([bert_tokenizer(SOURCE)["input_ids"]])
    steps = len(result.decoder.input_ids) - 1
    with torch.no_grad():
        expected = model.generate(ids, max_new_tokens=steps, do_sample=False, num_beams=1)[0].tolist()
    assert result.decoder.input_ids.tolist() == expected
    assert steps == seq2seq.DEFAULT_OUTPUT_TOKENS or expected[-1] == bert_tokenizer.sep_token_id
    assert result.target == bert_tokenizer.decode(expected[1:], skip_special_tokens=True)
    # The same source again is the same result (kept, not run again); a target makes another.
    assert extractor.extract_activations(SOURCE) is result
    assert extractor.extract_activations(SOURCE, target=TARGET) is not result
    assert [r.source for r in extractor.extract_batch([SOURCE, "Another source."])] == [SOURCE, "Another source."]


def test_bad_input_gets_one_line_errors(seq2seq_extractor: AttentionExtractor, run: Any, bert_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="source is empty") as empty:
        seq2seq_extractor.extract_activations("   ", target=TARGET)
    assert "\n" not in str(empty.value)
    with pytest.raises(ValueError, match="target is empty"):
        seq2seq_extractor.extract_activations(SOURCE, target="")
    if seq2seq_extractor.get_model_info()["max_positions"]:  # BART and Marian: learned or fixed positions
        with pytest.raises(ValueError, match=r"target is \d+ decoder tokens .* accepts at most 128 positions"):
            seq2seq_extractor.extract_activations(SOURCE, target="word " * 200)
    with pytest.raises(TypeError, match="target must be a str"):
        seq2seq_extractor.extract_activations(SOURCE, target=3)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="kind must be one of 'encoder', 'decoder', 'cross'"):
        run.attention(0, kind="self")
    with pytest.raises(IndexError, match="layer"):
        run.attention(run.decoder.num_layers, kind="decoder")
    for refused in (
        lambda: run.cross.ablate(heads=[(0, 0)]),
        lambda: run.decoder.logit_attribution(),
        lambda: run.encoder.value_weighted(0),
    ):
        with pytest.raises(ValueError, match="not available for encoder-decoder models"):
            refused()
    with pytest.raises(ValueError, match=r"generation needs a causal language model.*encoder-decoder"):
        seq2seq_extractor.generate(SOURCE)
    decoder_only = AttentionExtractor(model_name="tiny-gpt2", model=tiny_model("gpt2"), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match=r"target= is for encoder-decoder models") as refused_target:
        decoder_only.extract_activations(SOURCE, target=TARGET)
    assert "\n" not in str(refused_target.value)


def test_a_saved_model_folder_loads_with_its_head(tmp_path: Any, bert_tokenizer: Any) -> None:
    tiny_model("t5").save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    extractor = AttentionExtractor(str(tmp_path), device="cpu")
    assert extractor.get_model_info()["architecture"] == "T5ForConditionalGeneration"
    assert extractor.extract_activations(SOURCE).decoder.seq_len > 1  # it can write: its head was loaded


def test_a_model_without_its_head_needs_a_target(bert_tokenizer: Any) -> None:
    import transformers

    bare = transformers.T5Model(tiny_model("t5").config).eval()
    extractor = AttentionExtractor(model_name="bare-t5", model=bare, tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match=r"no language-model head.*give target="):
        extractor.extract_activations(SOURCE)
    assert extractor.extract_activations(SOURCE, target=TARGET).cross.key_len == len(
        bert_tokenizer(SOURCE)["input_ids"]
    )


def test_a_model_without_sdpa_keeps_its_eager_maps(bert_tokenizer: Any) -> None:
    """The route for models outside sdpa: the maps transformers returns, kept per kind."""
    model = tiny_model("bart")
    model.set_attn_implementation("eager")  # as an architecture without sdpa is loaded
    model._supports_sdpa = False
    extractor = AttentionExtractor(model_name="tiny-bart-eager", model=model, tokenizer=bert_tokenizer)
    result = extractor.extract_activations(SOURCE, target=TARGET)
    assert result.decoder.layers.recording.get().stored_cross_attention is not None
    model._supports_sdpa = True
    expected = eager_outputs(model, result)
    for kind, maps in (("encoder", expected.encoder_attentions), ("cross", expected.cross_attentions)):
        np.testing.assert_allclose(result.attention(len(maps) - 1, kind=kind), maps[-1][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        result.attention(0, 1, kind="decoder"), expected.decoder_attentions[0][0, 1].numpy(), atol=1e-6
    )
    np.testing.assert_allclose(result.cross.neuron_activations(0, "mlp"), result.decoder.neuron_activations(0, "mlp"))
