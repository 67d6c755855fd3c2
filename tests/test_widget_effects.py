"""AttentionWidget's effects: `target`, `contrast`, `weighting`, `neuron`, and what they send (`_effects`,
`_neuron_effects`, value-weighted `_attention_map` / `_map_window`), checked against the Extraction's own
`logit_attribution`, `value_weighted` and the extractor's `neuron_logit_effects`."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
import torch
import traitlets
import transformers

from attnwidget import AttentionExtractor, AttentionWidget, Extraction
from attnwidget.engine.tokens import visible_text
from attnwidget.widgets import encode
from attnwidget.widgets.attention import EFFECTS_CACHE_SIZE, NEURON_EFFECTS_K, PANEL_VIEWS
from tests.test_widget import MIB, floats_in
from tests.tiny_models import VOCAB, tiny_model

PROMPT = "the cat sat on the mat and the cat sat on the"


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=tiny_model(request.param), tokenizer=bert_tokenizer
    )


@pytest.fixture(scope="module")
def result(extractor: AttentionExtractor) -> Extraction:
    return extractor.extract_activations(PROMPT)


def decoded_effects(w: AttentionWidget) -> dict[str, Any]:
    """`_effects` back into its parts, by the layout the views read."""
    info = w._effects["info"]
    layers, heads = info["layers"], info["heads"]
    values = encode.decode_float32(w._effects["data"], (4 + layers + layers * heads,))
    return {
        "logit": values[0],
        "total": values[1],
        "embeddings": values[2],
        "biases": values[3],
        "mlp": values[4 : 4 + layers],
        "heads": values[4 + layers :].reshape(layers, heads),
    }


def assert_effects_equal(w: AttentionWidget, want: Any) -> None:
    info = w._effects["info"]
    assert info["position"] == want.position
    assert (info["target"], info["target_id"]) == (visible_text(want.target), want.target_id)
    contrast = None if want.contrast is None else visible_text(want.contrast)
    assert (info["contrast"], info["contrast_id"]) == (contrast, want.contrast_id)
    assert info["unavailable"] is None and info["error"] is None
    got = decoded_effects(w)
    scale = max(1.0, abs(want.logit))
    for name in ("logit", "total", "embeddings", "biases"):
        assert got[name] == pytest.approx(getattr(want, name), rel=1e-6, abs=1e-6 * scale), name
    np.testing.assert_allclose(got["mlp"], want.mlp, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(got["heads"], want.heads, rtol=1e-6, atol=1e-6 * scale)
    assert not np.allclose(got["heads"], 0), "the heads write something: a test of zeros would prove nothing"


# ---- _effects ---------------------------------------------------------------------------------------------
def test_effects_of_the_last_token_by_default(result: Extraction) -> None:
    w = AttentionWidget(result)
    assert (w.target, w.contrast) == ("", "")
    want = result.logit_attribution(-1)
    assert_effects_equal(w, want)
    assert w._effects["info"]["position"] == result.seq_len - 1
    assert want.target_id == int(result.top_token_ids[-1, 0]), "the default target is the model's prediction"
    info = w._effects["info"]
    assert (info["layers"], info["heads"], info["mlp"]) == (result.num_layers, result.num_heads, True)


def test_effects_follow_the_pinned_token_target_and_contrast(result: Extraction) -> None:
    w = AttentionWidget(result)
    w.token = 3
    assert_effects_equal(w, result.logit_attribution(3))
    w.target = "dog"
    assert_effects_equal(w, result.logit_attribution(3, target="dog"))
    w.contrast = "cat"
    assert_effects_equal(w, result.logit_attribution(3, target="dog", contrast="cat"))
    w.token = -1
    assert_effects_equal(w, result.logit_attribution(-1, target="dog", contrast="cat"))
    w.apply({"target": "", "contrast": "", "token": 5})
    assert_effects_equal(w, result.logit_attribution(5))


def test_effects_from_the_constructor_and_by_request(result: Extraction) -> None:
    w = AttentionWidget(result, token=2, target="mat", contrast="cat")
    assert_effects_equal(w, result.logit_attribution(2, target="mat", contrast="cat"))
    before = w.state_for_export()
    extra = w.encoded_effects(6, "dog")
    assert extra["info"]["position"] == 6 and extra["info"]["target"] == "dog"
    assert w.state_for_export() == before, "encoding on request changes nothing shown"
    w.apply({"token": 6, "target": "dog", "contrast": ""})
    assert w._effects == {**extra, "info": {**extra["info"], "error": None}}


def test_effects_are_kept_per_position_and_target_within_a_bound(result: Extraction) -> None:
    w = AttentionWidget(result)
    for token in range(result.seq_len):
        for target in ("", "dog", "mat"):
            w.encoded_effects(token, target)
    assert len(w._effects_cache) == EFFECTS_CACHE_SIZE
    # The prediction and the same target typed share one entry (the cache is keyed by token id).
    predicted = w.encoded_effects(4)["info"]["target"]
    assert w.encoded_effects(4, predicted) is w.encoded_effects(4)


# ---- bad targets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        (
            "target",
            "the cat",
            r"^target must be the text of exactly one token, or '' for the model's prediction, "
            r"got 'the cat' \(2 tokens: 'the', 'cat'\)$",
        ),
        ("contrast", "on the", r"^contrast must be the text of exactly one token, or '' for none, got 'on the' \(2"),
        ("target", 5, r"^target must be a str: the text of exactly one token, .*got 5$"),
        ("target", None, r"^target must be a str: .*got None$"),
    ],
)
def test_a_bad_target_from_python_raises_and_changes_nothing(
    result: Extraction, name: str, bad: Any, message: str
) -> None:
    w = AttentionWidget(result, token=2, target="dog")
    before = w.state_for_export()
    with pytest.raises(traitlets.TraitError, match=message) as error:
        setattr(w, name, bad)
    assert "\n" not in str(error.value)
    assert w.state_for_export() == before
    with pytest.raises(traitlets.TraitError, match=message):
        AttentionWidget(result, **{name: bad})


def test_a_bad_target_from_the_views_is_kept_out_and_reported(
    result: Extraction, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = AttentionWidget(result, target="dog")
    sent: list[Any] = []
    real_send_state = w.send_state
    monkeypatch.setattr(w, "send_state", lambda key=None: (sent.append(key), real_send_state(key)))
    shown = w._effects
    # What the effects view's text box sends: a state update. It must not raise in the kernel.
    w.set_state({"target": "the cat"})
    assert w.target == "dog"
    assert w._effects["data"] == shown["data"]
    assert re.fullmatch(r"target must be .*got 'the cat' \(2 tokens: 'the', 'cat'\)", w._effects["info"]["error"])
    assert ["target"] in sent, "the views get the value Python kept"
    # Both at once: the good one is applied, the bad one reported.
    w.set_state({"target": "mat", "contrast": "on the"})
    assert (w.target, w.contrast) == ("mat", "")
    assert w._effects["info"]["target"] == "mat" and "contrast must be" in w._effects["info"]["error"]
    assert ["contrast"] in sent and sent.count(["target"]) == 1
    # An accepted text clears the error, also when it is the value already there.
    w.set_state({"target": "mat"})
    assert w._effects["info"]["error"] is None
    assert_effects_equal(w, result.logit_attribution(-1, target="mat"))
    w.set_state({"contrast": "the cat"})
    assert w._effects["info"]["error"] is not None
    w.target = "dog"  # from Python
    assert w._effects["info"]["error"] is None
    assert w.get_state()["_effects"]["info"]["error"] is None
    json.dumps(w.get_state()["_effects"]["info"])


def test_other_bad_values_from_the_views_still_raise(result: Extraction) -> None:
    # Only target and contrast, typed by a person, are taken back quietly; the rest come from clicks.
    w = AttentionWidget(result)
    with pytest.raises(traitlets.TraitError, match="layer must be"):
        w.set_state({"layer": 99})
    assert w._front_end_errors is None


# ---- weighting --------------------------------------------------------------------------------------------
def assert_float16_close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_weighting_switches_the_map_to_value_weighted(result: Extraction) -> None:
    w = AttentionWidget(result, layer=1, head=2)
    assert w.weighting == "attention" and w._attention_map["info"]["weighting"] == "attention"
    w.weighting = "value_weighted"
    info = w._attention_map["info"]
    assert (info["layer"], info["head"], info["weighting"]) == (1, 2, "value_weighted")
    want = result.value_weighted(1, 2)
    assert not np.allclose(want, result.attention(1, 2), atol=1e-3)
    assert_float16_close(encode.decode_attention_map(w._attention_map), want)
    w.head = 0
    assert_float16_close(encode.decode_attention_map(w._attention_map), result.value_weighted(1, 0))
    w.weighting = "attention"
    assert w._attention_map["info"]["weighting"] == "attention"
    assert_float16_close(encode.decode_attention_map(w._attention_map), result.attention(1, 0))


def test_weighting_applies_to_the_zoom_window(result: Extraction) -> None:
    w = AttentionWidget(result, layer=1, head=3, weighting="value_weighted")
    assert w._attention_map["info"]["weighting"] == "value_weighted"
    w.map_window = [2, 9, 0, 5]
    assert w._map_window["info"]["weighting"] == "value_weighted"
    assert_float16_close(encode.decode_attention_window(w._map_window), result.value_weighted(1, 3)[2:9, 0:5])
    w.weighting = "attention"
    assert w._map_window["info"]["weighting"] == "attention"
    assert_float16_close(encode.decode_attention_window(w._map_window), result.attention(1, 3)[2:9, 0:5])
    assert w.encoded_window(1, 3, [2, 9, 0, 5], "value_weighted")["info"]["weighting"] == "value_weighted"


def test_weighting_rejects_what_is_not_allowed(result: Extraction, bert_tokenizer: Any) -> None:
    w = AttentionWidget(result)
    with pytest.raises(
        traitlets.TraitError, match=r"^weighting must be one of 'attention', 'value_weighted', got 'v'$"
    ):
        w.weighting = "v"
    assert w.weighting == "attention" and w._attention_map["info"]["weighting"] == "attention"
    # GPT-Neo's attention is outside transformers' attention interface: no value vectors to weigh.
    neo = AttentionExtractor(model=tiny_model("gpt_neo"), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    with pytest.raises(
        traitlets.TraitError, match=r"^weighting must be 'attention' \(no value-weighted maps: .*\), got"
    ):
        AttentionWidget(neo, weighting="value_weighted")
    # From the heatmap's select (offered whatever the model) it does not raise: the map stays attention.
    w = AttentionWidget(neo)
    w.set_state({"weighting": "value_weighted", "head": 1})
    assert (w.weighting, w.head, w._attention_map["info"]["weighting"]) == ("attention", 1, "attention")
    assert w._effects["info"]["error"] is None


# ---- neuron and _neuron_effects -----------------------------------------------------------------------------
def test_neuron_effects_match_the_extractor(extractor: AttentionExtractor, result: Extraction) -> None:
    w = AttentionWidget(result, neuron_kind="mlp")
    assert w._neuron_effects["info"]["neuron"] == -1 and w._neuron_effects["data"] == b""
    for layer, neuron in ((0, 5), (1, 17)):
        w.layer = layer
        w.neuron = neuron
        info = w._neuron_effects["info"]
        assert (info["layer"], info["kind"], info["neuron"], info["k"]) == (layer, "mlp", neuron, NEURON_EFFECTS_K)
        want = extractor.neuron_logit_effects(layer, neuron, k=NEURON_EFFECTS_K)
        assert info["promoted"] == [visible_text(text) for text, _ in want["promoted"]]
        assert info["suppressed"] == [visible_text(text) for text, _ in want["suppressed"]]
        values = encode.decode_float32(w._neuron_effects["data"], (2 * NEURON_EFFECTS_K,))
        expected = [v for _, v in want["promoted"]] + [v for _, v in want["suppressed"]]
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-7)
        assert values[0] > 0 > values[-1]


def test_neuron_goes_back_to_none_when_layer_or_kind_changes(result: Extraction) -> None:
    w = AttentionWidget(result, neuron_kind="mlp", neuron=7)
    assert w._neuron_effects["info"]["neuron"] == 7
    w.layer = 1
    assert w.neuron == -1 and w._neuron_effects["info"]["neuron"] == -1 and w._neuron_effects["data"] == b""
    w.neuron = 9
    w.neuron_kind = "residual"
    assert w.neuron == -1 and w._neuron_effects["info"]["neuron"] == -1
    # Set together with its layer (one update, as the views send it), a neuron belongs to that layer.
    w.apply({"layer": 0, "neuron_kind": "mlp", "neuron": 11})
    assert (w.layer, w.neuron, w._neuron_effects["info"]["neuron"]) == (0, 11, 11)
    w.set_state({"layer": 1, "neuron": 12})
    assert (w.neuron, w._neuron_effects["info"]["layer"]) == (12, 1)
    assert AttentionWidget(result, layer=1, neuron_kind="mlp", neuron=3).neuron == 3


def test_neuron_is_range_checked_against_its_kind(result: Extraction) -> None:
    w = AttentionWidget(result, neuron_kind="mlp")
    width = w._info["neuron_widths"]["mlp"]
    with pytest.raises(
        traitlets.TraitError, match=rf"^neuron must be an int in -1\.\.{width - 1} \(-1 for none; mlp has {width} "
    ):
        w.neuron = width
    for bad in (-2, 1.0, True, "3"):
        with pytest.raises(traitlets.TraitError, match="neuron must be an int"):
            w.neuron = bad
    assert w.neuron == -1
    residual = w._info["neuron_widths"]["residual"]
    with pytest.raises(traitlets.TraitError, match=rf"-1\.\.{residual - 1} \(-1 for none; residual has"):
        AttentionWidget(result, neuron=residual)


def test_a_residual_dimension_has_no_neuron_effects(result: Extraction) -> None:
    w = AttentionWidget(result, neuron=4)
    info = w._neuron_effects["info"]
    assert (info["kind"], info["neuron"], info["k"]) == ("residual", 4, 0)
    assert "MLP neurons" in info["unavailable"] and w._neuron_effects["data"] == b""


# ---- models without logits to explain ---------------------------------------------------------------------
def test_an_encoder_has_no_effects(bert_tokenizer: Any) -> None:
    bert = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer).extract_activations("a small one")
    w = AttentionWidget(bert, neuron_kind="mlp", neuron=2)
    assert w.panel == "head-scores", "neither the logit lens nor the effects have anything to show"
    info = w._effects["info"]
    assert "not a causal language model" in info["unavailable"] and w._effects["data"] == b""
    assert "not a causal language model" in w._neuron_effects["info"]["unavailable"]
    with pytest.raises(
        traitlets.TraitError, match=r"^target must be '' \(.* not a causal language model.*\), got 'a'$"
    ):
        w.target = "a"
    # The head-roles view offers it whatever the model: accepted, and `_effects` says why there is nothing.
    w.set_state({"head_score": "attribution"})
    assert w.head_score == "attribution"
    w.set_state({"target": "a"})
    assert w.target == "" and "target must be ''" in w._effects["info"]["error"]
    w.weighting = "value_weighted"  # an encoder's heads have value vectors too
    assert_float16_close(encode.decode_attention_map(w._attention_map), bert.value_weighted(0, 0))


def test_blocks_that_are_no_sum_of_heads_say_so(bert_tokenizer: Any) -> None:
    torch.manual_seed(0)
    config = transformers.Olmo2Config(
        num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64, vocab_size=VOCAB
    )
    olmo = AttentionExtractor(model=transformers.Olmo2ForCausalLM(config).eval(), tokenizer=bert_tokenizer)
    w = AttentionWidget(olmo.extract_activations(PROMPT), head_score="attribution")
    assert "cannot be split into head outputs" in w._effects["info"]["unavailable"] and w._effects["data"] == b""
    w.token = 3
    assert w._effects["info"]["position"] == 3 and w._effects["info"]["unavailable"]


# ---- head_score, panel, state --------------------------------------------------------------------------------
def test_head_score_attribution_and_the_effects_tab(result: Extraction) -> None:
    w = AttentionWidget(result, head_score="attribution", panel="effects")
    assert (w.head_score, w.panel) == ("attribution", "effects")
    assert PANEL_VIEWS.index("effects") == PANEL_VIEWS.index("logit-lens") + 1 and "effects" in w.views
    w.set_state({"panel": "effects", "head_score": "attribution"})


def test_state_has_no_json_floats_and_stays_small(extractor: AttentionExtractor, result: Extraction) -> None:
    from ipywidgets.widgets.widget import _remove_buffers

    w = AttentionWidget(
        result, token=4, target="dog", contrast="cat", neuron_kind="mlp", neuron=3, weighting="value_weighted"
    )
    state = w.state_for_export()
    assert {"target", "contrast", "weighting", "neuron", "_effects", "_neuron_effects"} <= set(state)
    json_part, paths, _buffers = _remove_buffers(state)
    assert ["_effects", "data"] in paths and ["_neuron_effects", "data"] in paths
    assert floats_in(json_part) == []
    json.dumps(json_part)
    # A long prompt, value-weighted: the state stays within the widget's bound.
    ids = list(range(1000, 2100))
    long = AttentionExtractor(model=tiny_model("gpt2", positions=2048), tokenizer=extractor.tokenizer)
    w = AttentionWidget(long.extract_activations(extractor.tokenizer.decode(ids)), weighting="value_weighted")
    assert w._attention_map["info"]["pooled"] is True
    assert w.state_nbytes() <= 3 * MIB


def test_export_carries_the_effects_of_the_pinned_token(result: Extraction, tmp_path: Any) -> None:
    from attnwidget.output.export import export_html, json_for_script

    w = AttentionWidget(result, token=4, target="dog", weighting="value_weighted", neuron_kind="mlp", neuron=2)
    before = w.state_for_export()
    page = export_html(w, tmp_path / "page.html").read_text(encoding="utf-8")
    assert w.state_for_export() == before
    for name in ("_effects", "_neuron_effects", "target", "weighting", "neuron"):
        assert json_for_script({name: before[name]})[1:-1] in page, name
    assert '"position":4,"target":"dog"' in page
    # The maps the page carries for clicks without a kernel are value-weighted like the one shown.
    maps = json.loads(page.split('id="attnwidget-maps">')[1].split("</script>")[0])
    assert {m["info"]["weighting"] for m in maps} == {"value_weighted"}


# ---- the bundled SmolLM2 -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_smollm2_paris_against_london(smollm2: AttentionExtractor) -> None:
    result = smollm2.extract_activations("The capital of France is")
    w = AttentionWidget(result, panel="effects", target=" Paris", contrast=" London", head_score="attribution")
    assert_effects_equal(w, result.logit_attribution(target=" Paris", contrast=" London"))
    assert w._effects["info"]["target"] == " Paris" and decoded_effects(w)["logit"] > 0
    w.set_state({"target": " Paris, France"})
    assert w.target == " Paris" and "tokens" in w._effects["info"]["error"]
