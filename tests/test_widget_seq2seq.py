"""AttentionWidget over an encoder-decoder run (tiny random T5): the `kind` trait, the parts' arrays, the views
offered. The source and the target have different lengths, so every rectangular shape is checked as such."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.engine.seq2seq import KINDS, EncoderDecoderExtraction
from attnwidget.widgets import encode
from attnwidget.widgets.attention import PREDICTION_VIEWS, SEQ2SEQ_VIEWS
from tests.tiny_models import tiny_model

SOURCE = "The cat sat on the mat today."
TARGET = "Le chat."


@pytest.fixture(scope="module")
def t5(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-t5", model=tiny_model("t5"), tokenizer=bert_tokenizer)


@pytest.fixture(scope="module")
def run(t5: AttentionExtractor) -> EncoderDecoderExtraction:
    result = t5.extract_activations(SOURCE, target=TARGET)
    assert result.encoder.seq_len != result.decoder.seq_len
    assert result.encoder.num_layers != result.decoder.num_layers  # 2 encoder blocks, 3 decoder blocks
    return result


def test_defaults_to_cross_and_offers_no_prediction_views(run: EncoderDecoderExtraction) -> None:
    w = AttentionWidget(run)
    assert w.kind == "cross"
    assert w.extraction is run.cross
    assert w.views == list(SEQ2SEQ_VIEWS)
    assert not set(PREDICTION_VIEWS) & set(w.views)
    assert w.panel == "head-scores"
    info = w._info
    assert info["kinds"] == list(KINDS) and info["kind"] == "cross"
    assert info["source_tokens"] == run.encoder.display_tokens
    assert info["decoder_tokens"] == run.decoder.display_tokens
    assert info["key_tokens"] == run.encoder.display_tokens
    assert (info["seq_len"], info["key_len"]) == (run.decoder.seq_len, run.encoder.seq_len)
    assert w._tokens == run.decoder.display_tokens
    with pytest.raises(traitlets.TraitError, match="views must be a non-empty list"):
        w.views = ["heatmap", "logit-lens"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_sends_its_parts_arrays(run: EncoderDecoderExtraction, kind: str) -> None:
    w = AttentionWidget(run, kind=kind, layer=1, head=2)
    part = run.part(kind)
    info = w._info
    assert info["kind"] == kind and info["num_layers"] == part.num_layers and info["seq_len"] == part.seq_len
    # Thumbnails: [layers, heads, rows, cols], the part's own pooled maps.
    side = info["thumbnail_size"]
    rows, cols = info["thumbnail_rows"], info["thumbnail_cols"]
    thumbs = encode.decode_uint8(w._thumbnails, (part.num_layers, part.num_heads, rows, cols))
    for layer, pooled, _ in part.iter_pooled_attention(side):
        assert pooled is not None and pooled.shape == (part.num_heads, rows, cols)
        np.testing.assert_array_equal(thumbs[layer], encode.compand_uint8(pooled))
    assert (rows != cols) == (kind == "cross")
    # The selected head's map is the part's, to float16.
    sent = w._attention_map
    assert sent["info"]["kind"] == kind
    np.testing.assert_allclose(encode.decode_attention_map(sent), run.attention(1, 2, kind=kind), atol=1e-3, rtol=1e-3)
    neurons = w._neurons["info"]
    assert neurons["seq_len"] == part.seq_len  # cross: the decoder's neurons


def test_kind_from_python_keeps_or_clamps_the_selection(run: EncoderDecoderExtraction) -> None:
    w = AttentionWidget(run, layer=2, head=3)
    w.token = 3
    w.kind = "decoder"  # same layers, same queries: everything kept
    assert (w.layer, w.head, w.token) == (2, 3, 3)
    assert w.extraction is run.decoder
    assert w._attention_map["info"]["layout"] == "lower"
    w.kind = "encoder"  # 2 layers: layer 2 clamps to 1; another text: the pin goes
    assert (w.layer, w.head, w.token) == (1, 3, -1)
    assert w._info["num_layers"] == run.encoder.num_layers
    assert w._info["thumbnail_rows"] == w._info["thumbnail_cols"] == run.encoder.seq_len
    np.testing.assert_allclose(
        encode.decode_attention_map(w._attention_map), run.attention(1, 3, kind="encoder"), atol=1e-3
    )
    w.layer = 0
    w.kind = "cross"
    assert (w.layer, w.head) == (0, 3)
    assert w._attention_map["info"]["cols"] == run.encoder.seq_len
    with pytest.raises(traitlets.TraitError, match="has 3 layers"):
        w.layer = 3


def test_kind_from_the_views(run: EncoderDecoderExtraction) -> None:
    w = AttentionWidget(run, layer=2)
    w.set_state({"kind": "encoder"})
    assert w.kind == "encoder" and w.layer == 1 and w._info["kind"] == "encoder"
    assert w._attention_map["info"]["kind"] == "encoder"


def test_bad_kind_is_one_line_naming_the_kinds(run: EncoderDecoderExtraction, t5: AttentionExtractor) -> None:
    w = AttentionWidget(run)
    with pytest.raises(traitlets.TraitError) as error:
        w.kind = "self"
    assert str(error.value) == "kind must be one of 'encoder', 'decoder', 'cross', got 'self'"
    assert w.kind == "cross"
    with pytest.raises(traitlets.TraitError, match="kind must be one of"):
        AttentionWidget(run, kind="both")
    with pytest.raises(traitlets.TraitError, match="zoomed"):
        w.map_window = [0, 2, 0, 2]


def test_other_models_have_one_kind(long_gpt2: AttentionExtractor) -> None:
    w = AttentionWidget(long_gpt2.extract_activations("a decoder-only model"))
    assert w.kind == "" and w._info["kinds"] == [] and w._info["kind"] == ""
    assert w._info["thumbnail_rows"] == w._info["thumbnail_cols"] == w._info["thumbnail_size"]
    with pytest.raises(traitlets.TraitError) as error:
        w.kind = "cross"
    assert "\n" not in str(error.value) and "encoder-decoder" in str(error.value)
    # For a decoder-only model, show's target is the widget's: the token the Effects tab explains.
    shown = attnwidget.show("the cat sat on the mat", model=long_gpt2, target="cat", panel="effects")
    assert shown.target == "cat" and shown.kind == ""
    assert shown._effects == shown.encoded_effects(-1, "cat", "")


def test_show_passes_the_target(t5: AttentionExtractor, run: EncoderDecoderExtraction) -> None:
    w = attnwidget.show(SOURCE, model=t5, target=TARGET, kind="decoder")
    assert w.kind == "decoder" and w._info["decoder_tokens"] == run.decoder.display_tokens
    with pytest.raises(ValueError, match="generate=N is for decoder-only models"):
        attnwidget.show(SOURCE, model=t5, generate=3)


def test_a_cross_map_is_rectangular_even_when_the_texts_have_as_many_tokens(t5: AttentionExtractor) -> None:
    same = t5.extract_activations("one two three four", target="five six seven")
    assert same.cross.seq_len == same.cross.key_len  # a square cross map: still sent as rows × cols
    w = AttentionWidget(same)
    info = w._attention_map["info"]
    assert (info["rows"], info["cols"], info["key_len"]) == (same.cross.seq_len,) * 3
    np.testing.assert_allclose(
        encode.decode_attention_map(w._attention_map), same.attention(0, 0, kind="cross"), atol=1e-3
    )
    with pytest.raises(traitlets.TraitError, match="shown whole"):  # and never zoomed, square or not
        w.map_window = [0, 2, 0, 2]
    assert w.encoded_window(0, 0, [0, 2, 0, 2]) == {}
