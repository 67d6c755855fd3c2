"""AttentionWidget: traits, validation, the bytes it sends, and the size of its state."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.analysis.neurons import top_variable_neurons
from attnwidget.analysis.scores import LAYER_STAT_NAMES, SCORE_NAMES
from attnwidget.widgets import encode
from attnwidget.widgets.attention import NEURON_K_MAX, VIEWS_WITHOUT_GENERATION
from tests.tiny_models import tiny_model

MIB = 2**20
HOSTILE = 'The cat </script><img src=x onerror="alert(1)"> sat & "quoted" \u2028 on the mat'


@pytest.fixture(scope="module")
def gpt2(long_gpt2: AttentionExtractor) -> AttentionExtractor:
    return long_gpt2


@pytest.fixture(scope="module")
def result(gpt2: AttentionExtractor) -> attnwidget.Extraction:
    return gpt2.extract_activations(HOSTILE)


@pytest.fixture(scope="module")
def bert(bert_tokenizer: Any) -> attnwidget.Extraction:
    extractor = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer)
    return extractor.extract_activations("a small encoder")


@pytest.fixture(scope="module")
def llama(bert_tokenizer: Any) -> attnwidget.Extraction:
    extractor = AttentionExtractor(model=tiny_model("llama"), tokenizer=bert_tokenizer)
    return extractor.extract_activations("grouped query attention shares keys between heads")


def floats_in(value: Any) -> list[float]:
    """Every float inside a JSON-like value (the state must carry none: numbers travel as bytes)."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in floats_in(v)]
    return []


# ---- construction and traits -------------------------------------------------------------------------
def test_defaults_and_info(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    assert (w.layer, w.head, w.token, w.hovered_token) == (0, 0, -1, -1)
    assert (w.color_scale, w.neuron_kind, w.neuron_k) == ("log", "residual", 16)
    info = w._info
    assert info["num_layers"] == 2 and info["num_heads"] == 4 and info["seq_len"] == result.seq_len
    assert info["is_causal"] is True
    assert info["neuron_widths"] == {"residual": 32, "mlp": 128}
    assert info["layer_stats"] == list(LAYER_STAT_NAMES)
    assert w._tokens == result.display_tokens
    assert w.selection == {"layer": 0, "head": 0, "token": -1}
    assert w.extraction is result


def test_hostile_text_reaches_the_views_unchanged(result: attnwidget.Extraction) -> None:
    # Escaping is the views' job (textContent only); the state carries the text as it is.
    w = AttentionWidget(result)
    assert any("<" in t for t in w._tokens) and any("script" in t for t in w._tokens)


def test_constructor_options(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result, layer=1, head=3, token=2, color_scale="row", neuron_kind="mlp", neuron_k=5)
    assert (w.layer, w.head, w.token, w.color_scale, w.neuron_kind, w.neuron_k) == (1, 3, 2, "row", "mlp", 5)
    assert w._attention_map["info"]["layer"] == 1 and w._attention_map["info"]["head"] == 3
    assert w._neurons["info"]["kind"] == "mlp" and w._neurons["info"]["k"] == 5 and w._neurons["info"]["layer"] == 1


def test_constructor_rejects_unknown_keywords_and_wrong_types(result: attnwidget.Extraction) -> None:
    with pytest.raises(TypeError):
        AttentionWidget(result, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Extraction"):
        AttentionWidget({"tokens": []})  # type: ignore[arg-type]
    with pytest.raises(traitlets.TraitError, match=r"layer must be an int in 0\.\.1"):
        AttentionWidget(result, layer=2)


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("layer", 2, r"layer must be an int in 0\.\.1 \(this model has 2 layers\), got 2"),
        ("layer", -1, r"0\.\.1"),
        ("layer", True, r"got True"),
        ("layer", 1.0, r"got 1\.0"),
        ("head", 4, r"head must be an int in 0\.\.3 \(each layer has 4 heads\), got 4"),
        ("head", 0.5, r"head must be an int in 0\.\.3"),
        ("head", "1", r"got '1'"),
        ("token", -2, r"token must be an int in -1\.\."),
        ("token", 10_000, r"-1 for none"),
        ("hovered_token", 10_000, r"hovered_token must be an int in -1\.\."),
        ("neuron_k", 0, r"neuron_k must be an int in 1\.\.32"),
        ("color_scale", None, r"got None"),
        ("color_scale", "rainbow", r"color_scale must be one of 'linear', 'gamma', 'row', 'log', got 'rainbow'"),
        ("neuron_kind", "attention", r"neuron_kind must be one of 'residual', 'mlp'"),
    ],
)
def test_validation_names_the_valid_range_and_keeps_the_value(
    result: attnwidget.Extraction, name: str, bad: Any, message: str
) -> None:
    w = AttentionWidget(result, layer=1, head=2, token=3)
    before = {
        n: getattr(w, n) for n in ("layer", "head", "token", "hovered_token", "neuron_k", "color_scale", "neuron_kind")
    }
    map_before = w._attention_map
    with pytest.raises(traitlets.TraitError, match=message) as error:
        setattr(w, name, bad)
    assert "\n" not in str(error.value)
    assert {n: getattr(w, n) for n in before} == before
    assert w._attention_map is map_before


def test_neuron_k_is_capped_by_width(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    w.neuron_k = 32
    assert w._neurons["info"]["k"] == 32
    assert NEURON_K_MAX >= 32
    with pytest.raises(traitlets.TraitError, match=r"1\.\.32"):
        w.neuron_k = 33


# ---- which views, and the side panel's open tab --------------------------------------------------------
def test_views_and_panel_defaults(result: attnwidget.Extraction, bert: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    assert w.views == list(VIEWS_WITHOUT_GENERATION) and w.panel == "logit-lens", "no generation tab: none generated"
    assert AttentionWidget(bert).panel == "head-scores", "an encoder has no logit lens to open first"


def test_views_keep_the_page_order_and_the_panel_follows_them(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result, views=["neuron-plot", "heatmap", "token-strip"])
    assert w.views == ["token-strip", "heatmap", "neuron-plot"] and w.panel == "neuron-plot"
    w.views = ["heatmap", "layer-stats", "logit-lens"]
    assert w.panel == "logit-lens", "the open tab went with its view: the first of the remaining ones opens"
    w.panel = "layer-stats"
    w.views = ["heatmap"]
    assert w.panel == "none", "no side-panel view left"
    w.views = ["heatmap", "head-scores"]
    assert w.panel == "head-scores"
    assert AttentionWidget(result, views=["heatmap", "neuron-plot"], panel="neuron-plot").panel == "neuron-plot"
    assert AttentionWidget(result, views="heatmap").views == ["heatmap"], "one name alone, as traitlets allows"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"views": []}, r"views must be a non-empty list of names, each one of 'token-strip', .*, got \[\]"),
        ({"views": ["heatmap", "attention"]}, r"views must be .*got \['heatmap', 'attention'\]"),
        ({"views": "attention"}, r"views must be a non-empty list of names, .*got 'attention'"),
        ({"views": ("heatmap", 3)}, r"views must be .*got \('heatmap', 3\)"),
        (
            {"panel": "heatmap"},
            r"panel must be one of 'logit-lens', 'effects', 'ablation', 'head-scores', 'neuron-plot', "
            r"'layer-stats', got",
        ),
        (
            {"views": ["heatmap", "neuron-plot"], "panel": "logit-lens"},
            r"panel must be one of 'neuron-plot' \('logit-lens' is not among this widget's views\), got 'logit-lens'",
        ),
    ],
)
def test_views_and_panel_reject_what_is_not_allowed(
    result: attnwidget.Extraction, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(traitlets.TraitError, match=message) as error:
        AttentionWidget(result, **options)
    assert "\n" not in str(error.value)
    w = AttentionWidget(result, views=["heatmap", "neuron-plot"])
    *_, (name, bad) = options.items()  # the last option is the bad one
    with pytest.raises(traitlets.TraitError):
        setattr(w, name, bad)
    assert (w.views, w.panel) == (["heatmap", "neuron-plot"], "neuron-plot"), "a rejected value changes nothing"


def test_views_and_panel_travel_in_the_state(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result, views=["token-strip", "heatmap", "layer-stats"])
    state = w.get_state()
    assert state["views"] == ["token-strip", "heatmap", "layer-stats"] and state["panel"] == "layer-stats"
    w.set_state({"panel": "layer-stats"})  # what a click on a tab sends
    assert w.panel == "layer-stats"


# ---- the bytes ----------------------------------------------------------------------------------------
def test_thumbnails_and_stats_round_trip(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    info = w._info
    side = info["thumbnail_size"]
    assert side == result.seq_len  # short prompt: not pooled
    thumbs = encode.decode_uint8(w._thumbnails, (2, 4, side, side))
    for layer in range(2):
        np.testing.assert_allclose(encode.expand_uint8(thumbs[layer]), result.attention(layer), atol=2 / 255)
    scores = encode.decode_float32(w._head_scores, (len(info["scores"]), 2, 4))
    first = scores[SCORE_NAMES.index("first_token")]
    np.testing.assert_allclose(first[1], result.attention(1)[:, :, 0].mean(axis=-1), rtol=1e-5)


def test_selected_map_round_trips_and_follows_python(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    w.layer = 1
    w.head = 2
    info = w._attention_map["info"]
    assert (info["layer"], info["head"], info["layout"], info["pooled"]) == (1, 2, "lower", False)
    back = encode.decode_attention_map(w._attention_map)
    np.testing.assert_allclose(back, result.attention(1, 2), rtol=1e-3, atol=1e-6)


def test_encoded_head_matches_what_selection_sends(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    extra = w.encoded_head(1, 3)
    w.layer, w.head = 1, 3
    assert extra == w._attention_map
    with pytest.raises(traitlets.TraitError, match=r"0\.\.3"):
        w.encoded_head(0, 9)


def test_neurons_round_trip_and_follow_layer_and_kind(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result, neuron_k=6)
    w.layer = 1
    w.neuron_kind = "mlp"
    info = w._neurons["info"]
    assert (info["layer"], info["kind"], info["k"], info["seq_len"]) == (1, "mlp", 6, result.seq_len)
    acts = result.neuron_activations(1, "mlp")
    values = encode.decode_float16(w._neurons["data"], (6, result.seq_len))
    np.testing.assert_allclose(values, acts[:, info["indices"]].T, rtol=2e-3, atol=2e-3)
    assert info["indices"] == list(top_variable_neurons(acts, 6))


def test_grouped_query_attention_model(llama: attnwidget.Extraction) -> None:
    w = AttentionWidget(llama, layer=1, head=5, neuron_kind="mlp")
    assert (w._info["num_heads"], w._info["num_kv_heads"]) == (6, 2)
    np.testing.assert_allclose(
        encode.decode_attention_map(w._attention_map),
        llama.attention(1, 5),
        rtol=1e-3,
        atol=1e-6,
    )
    assert w._info["neuron_widths"] == {"residual": 48, "mlp": 96}


def test_encoder_sends_the_full_square(bert: attnwidget.Extraction) -> None:
    w = AttentionWidget(bert, head=1)
    assert w._info["is_causal"] is False and w._predictions["tokens"] == [] and w._predictions["data"] == b""
    info = w._attention_map["info"]
    assert info["layout"] == "full"
    np.testing.assert_allclose(
        encode.decode_attention_map(w._attention_map), bert.attention(0, 1), rtol=1e-3, atol=1e-6
    )


def test_predictions_travel_as_text_and_float16(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    k = w._predictions["info"]["k"]
    texts = w._predictions["tokens"]
    assert len(texts) == result.seq_len and len(texts[0]) == k and all(isinstance(t, str) for t in texts[0])
    probs = encode.decode_float16(w._predictions["data"], (result.seq_len, k))
    np.testing.assert_allclose(probs, result.top_probs[:, :k], rtol=1e-3, atol=1e-4)


def test_state_has_no_json_floats_and_every_message_fits(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    from ipywidgets.widgets.widget import _remove_buffers

    state = w.state_for_export()
    assert set(state) == set(AttentionWidget.synced_traits())
    # What ipywidgets sends: every bytes value, also inside dicts, becomes a binary buffer.
    json_part, paths, buffers = _remove_buffers(state)
    assert ["_attention_map", "data"] in paths and ["_thumbnails"] in paths and ["_neurons", "data"] in paths
    assert floats_in(json_part) == []
    json.dumps(json_part)
    assert all(len(b) <= encode.MESSAGE_LIMIT for b in buffers)


# ---- events from the views ----------------------------------------------------------------------------
def test_front_end_click_updates_traits_once_and_reaches_on_select(
    result: attnwidget.Extraction, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = AttentionWidget(result)
    calls: list[int] = []
    real = encode.encode_attention_map

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(encode, "encode_attention_map", counting)
    seen: list[dict[str, Any]] = []
    changes: list[str] = []
    w.observe(lambda change: changes.append(change["name"]), names=["layer", "head"])
    w.on_select(seen.append)
    # What a head-grid click sends: one state update with both traits, then the select message.
    w.set_state({"layer": 1, "head": 3})
    w._handle_select_message(w, {"kind": "select", "source": "head-grid", "layer": 1, "head": 3, "token": -1}, [])
    assert sorted(changes) == ["head", "layer"]
    assert len(calls) == 1, "a click that sets layer and head together encodes the map once"
    assert w._attention_map["info"]["layer"] == 1 and w._attention_map["info"]["head"] == 3
    assert seen == [{"source": "head-grid", "layer": 1, "head": 3, "token": -1}]
    w.on_select(seen.append, remove=True)
    w._handle_select_message(w, {"kind": "select", "source": "token-strip"}, [])
    w._handle_select_message(w, {"kind": "something-else"}, [])
    assert len(seen) == 1


def test_select_message_applies_its_selection_even_before_the_state_update(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    seen: list[dict[str, Any]] = []
    w.on_select(seen.append)
    w._handle_select_message(w, {"kind": "select", "source": "token-strip", "layer": 0, "head": 0, "token": 4}, [])
    assert w.token == 4 and seen == [{"source": "token-strip", "layer": 0, "head": 0, "token": 4}]
    w._handle_select_message(w, {"kind": "select", "source": "head-grid", "layer": 9, "head": 1, "token": 4}, [])
    assert (w.layer, w.head) == (0, 1), "an out-of-range value is ignored, the rest applied"


def test_front_end_hover_and_pin(result: attnwidget.Extraction) -> None:
    w = AttentionWidget(result)
    w.set_state({"hovered_token": 3, "token": 4})
    assert (w.hovered_token, w.token) == (3, 4)


def test_show_accepts_an_extractor(gpt2: AttentionExtractor) -> None:
    w = attnwidget.show("Hello there", model=gpt2, layer=1)
    assert isinstance(w, AttentionWidget) and w.layer == 1 and w._tokens[1] in ("Hello", " Hello", "hello")
    with pytest.raises(TypeError, match="model must be a model spec, an AttentionExtractor, a TransformerLens"):
        attnwidget.show("x", model=3.5)


def test_views_are_bundled() -> None:
    from attnwidget.widgets.base import STATIC

    assert (STATIC / "widget.js").stat().st_size > 1000 and (STATIC / "widget.css").exists()


# ---- size bounds --------------------------------------------------------------------------------------
def test_long_prompt_pools_and_stays_small(gpt2: AttentionExtractor) -> None:
    ids = list(range(1000, 2100))
    prompt = gpt2.tokenizer.decode(ids)
    result = gpt2.extract_activations(prompt)
    assert result.seq_len > encode.MAP_MAX_SIZE
    w = AttentionWidget(result)
    assert w._attention_map["info"]["pooled"] is True and w._attention_map["info"]["size"] == encode.MAP_MAX_SIZE
    assert w._info["thumbnail_size"] <= 128
    assert w.state_nbytes() <= 3 * MIB


@pytest.mark.slow
def test_smollm2_state_at_1024_tokens_is_under_3_mib() -> None:
    extractor = AttentionExtractor()
    text = "The cat sat on the mat. Then the dog looked at the cat and the cat ran away. " * 100
    ids = extractor.tokenizer(text)["input_ids"][:1100]
    result = extractor.extract_activations(extractor.tokenizer.decode(ids))
    assert result.seq_len >= 1000
    w = AttentionWidget(result)
    assert w.state_nbytes() <= 3 * MIB, f"{w.state_nbytes() / MIB:.2f} MiB"
    state = w.state_for_export()
    assert all(len(v) <= encode.MESSAGE_LIMIT for v in state.values() if isinstance(v, bytes))
    assert w._info["thumbnail_size"] <= 128
    start = time.perf_counter()
    w.head = 5
    elapsed = time.perf_counter() - start
    assert w._attention_map["info"]["head"] == 5
    assert elapsed < 2.0  # the browser check of "≤ 100 ms end to end" lives in the browser tests
    w.neuron_k = NEURON_K_MAX
    assert len(w._neurons["data"]) <= encode.MESSAGE_LIMIT


# ---- state builders are pure ------------------------------------------------------------------------------
def test_export_leaves_the_widget_following_its_selection(result: attnwidget.Extraction, tmp_path: Any) -> None:
    # export_html encodes every layer's neurons and several heads' maps; none of that may be taken for
    # what the views show (it once left the neuron plot on layer 0 after `w.layer = 1`).
    from attnwidget.output.export import export_html

    w = AttentionWidget(result, layer=0, token=2)
    before = w.state_for_export()
    export_html(w, tmp_path / "page.html")
    w.encoded_neurons(1), w.encoded_head(1, 3), w.encoded_lens(5), w.encoded_window(1, 1, [0, 4, 0, 4])
    assert w.state_for_export() == before, "encoding for export or on request changes nothing shown"
    w.layer = 1
    assert w._neurons["info"]["layer"] == 1 and w._attention_map["info"]["layer"] == 1
    w.head = 3
    assert w._attention_map["info"]["head"] == 3
    w.token = 5
    assert w._lens["info"]["position"] == 5
    w.map_window = [0, 4, 0, 4]
    w.head = 1
    assert (w._map_window["info"]["head"], w._map_window["info"]["q1"]) == (1, 4)
