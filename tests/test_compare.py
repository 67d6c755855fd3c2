"""CompareWidget and attnwidget.analysis.differences: validation, traits, the bytes sent, and the difference numbers
checked against hand computation."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, CompareWidget
from attnwidget.analysis import differences
from attnwidget.analysis import scores as head_scores
from attnwidget.analysis.pooling import max_pool
from attnwidget.widgets import encode
from attnwidget.widgets.compare import MAPS_BUDGET
from tests.test_widget import floats_in
from tests.tiny_models import tiny_model

MIB = 2**20
SAME = ["the cat sat on the mat", "the dog slept on the rug"]
MIXED = ["the cat sat on the mat", "a dog", "where did the small cat sit yesterday"]


@pytest.fixture(scope="module")
def gpt2(long_gpt2: AttentionExtractor) -> AttentionExtractor:
    return long_gpt2


@pytest.fixture(scope="module")
def pair(gpt2: AttentionExtractor) -> list[attnwidget.Extraction]:
    extractions = gpt2.extract_batch(SAME)
    assert extractions[0].seq_len == extractions[1].seq_len
    return extractions


@pytest.fixture(scope="module")
def mixed(gpt2: AttentionExtractor) -> list[attnwidget.Extraction]:
    extractions = gpt2.extract_batch(MIXED)
    assert len({e.seq_len for e in extractions}) == 3
    return extractions


# ---- differences: hand computation ------------------------------------------------------------------
def test_js_and_tv_rows_by_hand() -> None:
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.3, 0.7]])
    q = np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.7]])
    # Row 1: m = (.75, .25); KL(p‖m) = .5·log2(.5/.75) + .5·log2(.5/.25); KL(q‖m) = log2(1/.75).
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    np.testing.assert_allclose(differences.js_rows(p, q), [1.0, (kl_p + kl_q) / 2, 0.0], atol=1e-12)
    np.testing.assert_allclose(differences.tv_rows(p, q), [1.0, 0.5, 0.0], atol=1e-12)


def test_length_free_scores_by_hand() -> None:
    causal = np.array([[[1.0, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]])
    got = head_scores.layer_scores(causal, np.arange(3), causal=True, names=differences.STAT_NAMES)
    entropy_2 = -(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5)) / math.log(3)
    expected = {
        "peak": (1 + 0.5 + 0.5) / 3,
        "normalized_entropy": (1.0 + entropy_2) / 2,  # row 0 sees one key: left out
        "first_token": (1 + 0.5 + 0.2) / 3,
        "previous_token": (0.5 + 0.3) / 2,  # rows 1 and 2
    }
    assert set(got) == set(differences.STAT_NAMES)
    for name in differences.STAT_NAMES:
        assert got[name][0] == pytest.approx(expected[name]), name
    # Bidirectional: every row sees all n keys; a uniform head has normalised entropy 1.
    uniform = np.full((1, 4, 4), 0.25)
    assert head_scores.normalized_entropy_scores(uniform, causal=False)[0] == pytest.approx(1.0)


def test_scores_match_per_head_computation(pair: list[attnwidget.Extraction]) -> None:
    a, b = pair
    result = differences.head_differences(pair)
    assert result.metrics == ("js", "tv", "stats")
    assert result.pairs == [(0, 1)]
    for layer in range(a.num_layers):
        for head in range(a.num_heads):
            ma, mb = a.attention(layer, head), b.attention(layer, head)
            assert result.scores["js"][layer, head] == pytest.approx(differences.js_rows(ma, mb).mean(), rel=1e-5)
            assert result.scores["tv"][layer, head] == pytest.approx(
                np.abs(ma.astype(np.float64) - mb).sum(axis=-1).mean() / 2, rel=1e-5
            )
            sa = [head_scores.layer_scores(ma[None], a.input_ids, a.is_causal)[n][0] for n in differences.STAT_NAMES]
            sb = [head_scores.layer_scores(mb[None], b.input_ids, b.is_causal)[n][0] for n in differences.STAT_NAMES]
            np.testing.assert_allclose(result.statistics[0, :, layer, head], sa, rtol=1e-5)
            change = np.abs(np.subtract(sa, sb)).mean()
            assert result.scores["stats"][layer, head] == pytest.approx(change, rel=1e-5, abs=1e-7)
    for scores in result.scores.values():
        assert scores.dtype == np.float32 and ((scores >= 0) & (scores <= 1)).all()


def test_identical_prompts_score_zero(gpt2: AttentionExtractor) -> None:
    same = gpt2.extract_batch(["one two three", "one two three"])
    result = differences.head_differences(same)
    for scores in result.scores.values():
        np.testing.assert_allclose(scores, 0.0, atol=1e-6)


def test_three_prompts_average_over_pairs(mixed: list[attnwidget.Extraction]) -> None:
    result = differences.head_differences(mixed)
    assert result.metrics == ("stats",)
    assert result.pairs == [(0, 1), (0, 2), (1, 2)]
    s = result.statistics
    expected = np.mean([np.abs(s[i] - s[j]).mean(axis=0) for i, j in result.pairs], axis=0)
    np.testing.assert_allclose(result.scores["stats"], expected, rtol=1e-5, atol=1e-7)


def test_ranking_sorted_with_stable_ties() -> None:
    scores = np.array([[0.1, 0.5], [0.5, 0.2]], dtype=np.float32)
    result = differences.HeadDifferences({"stats": scores}, ("stats",), np.zeros((2, 4, 2, 2)), [(0, 1)])
    assert result.ranking("stats") == [(0, 1, 0.5), (1, 0, 0.5), (1, 1, pytest.approx(0.2)), (0, 0, pytest.approx(0.1))]
    assert [r[:2] for r in result.ranking("stats", 2)] == [(0, 1), (1, 0)]
    with pytest.raises(ValueError, match="metric must be one of 'stats'"):
        result.ranking("js")


# ---- validation -------------------------------------------------------------------------------------
def test_validation(pair: list[attnwidget.Extraction], bert_tokenizer: Any) -> None:
    a, b = pair
    with pytest.raises(ValueError, match="at least 2 extractions to compare, got 1"):
        CompareWidget([a])
    with pytest.raises(TypeError, match="got Extraction"):
        CompareWidget(a)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 1 is a str"):
        CompareWidget([a, "the dog"])  # type: ignore[list-item]
    other = AttentionExtractor(model_name="tiny-llama", model=tiny_model("llama"), tokenizer=bert_tokenizer)
    c = other.extract_activations("the cat sat on the mat")
    with pytest.raises(ValueError, match=r"#0 \(.*2 layers × 4 heads, causal\) vs #1 \(tiny-llama.*6 heads"):
        CompareWidget([a, c])
    with pytest.raises(ValueError, match="labels must be a list of 2 strings"):
        CompareWidget([a, b], labels=["only one"])
    with pytest.raises(traitlets.TraitError, match=r"layer must be an int in 0\.\.1 \(this model has 2 layers\)"):
        CompareWidget([a, b], layer=2)


def test_compare_helper_validates_prompts(gpt2: AttentionExtractor) -> None:
    with pytest.raises(ValueError, match="at least 2 prompts"):
        attnwidget.compare(["one"], model=gpt2)
    with pytest.raises(ValueError, match="prompt 1 must be a non-empty string"):
        attnwidget.compare(["one", "  "], model=gpt2)
    with pytest.raises(TypeError, match="list of strings"):
        attnwidget.compare("one two", model=gpt2)
    with pytest.raises(TypeError, match="model must be"):
        attnwidget.compare(["a", "b"], model=42)
    w = attnwidget.compare(SAME, model=gpt2, layer=1)
    assert isinstance(w, CompareWidget) and w.layer == 1 and [e.prompt for e in w.extractions] == SAME


# ---- traits -----------------------------------------------------------------------------------------
def test_defaults_and_trait_checks(pair: list[attnwidget.Extraction], mixed: list[attnwidget.Extraction]) -> None:
    w = CompareWidget(pair)
    assert (w.layer, w.head, w.token, w.hovered_token, w.metric, w.diff_pair) == (0, 0, -1, -1, "js", [0, 1])
    assert w._info["labels"] == ["A", "B"] and w._info["metrics"] == ["js", "tv", "stats"]
    w.metric = "tv"
    np.testing.assert_array_equal(w.head_differences, w.differences.scores["tv"])
    assert w.ranking(3) == w.differences.ranking("tv", 3)
    m = CompareWidget(mixed)
    assert m.metric == "stats" and m._info["metrics"] == ["stats"]
    with pytest.raises(traitlets.TraitError, match="need prompts with the same number of tokens"):
        m.metric = "js"
    with pytest.raises(traitlets.TraitError, match=r"diff_pair must be two different prompt indices in 0\.\.2"):
        m.diff_pair = [1, 1]
    longest = max(e.seq_len for e in mixed)
    m.token = longest - 1  # any panel's index is valid; shorter panels show none
    with pytest.raises(traitlets.TraitError, match=f"the longest prompt has {longest} tokens"):
        m.token = longest
    with pytest.raises(traitlets.TraitError, match="color_scale must be one of"):
        m.color_scale = "cubic"


def test_maps_follow_the_selection(pair: list[attnwidget.Extraction]) -> None:
    w = CompareWidget(pair)
    w.layer, w.head = 1, 3
    assert [(m["info"]["layer"], m["info"]["head"]) for m in w._maps] == [(1, 3), (1, 3)]
    for ex, encoded in zip(pair, w._maps):
        assert encoded["info"]["layout"] == "lower" and not encoded["info"]["pooled"]
        decoded = encode.decode_attention_map(encoded)  # type: ignore[arg-type]
        np.testing.assert_allclose(decoded, ex.attention(1, 3), atol=1e-3)


def test_select_message_reaches_python(pair: list[attnwidget.Extraction]) -> None:
    w = CompareWidget(pair)
    events: list[dict[str, Any]] = []
    w.on_select(events.append)
    w._handle_select_message(w, {"kind": "select", "source": "head-diff", "layer": 1, "head": 2, "token": 4}, [])
    assert (w.layer, w.head, w.token) == (1, 2, 4)
    assert events == [{"source": "head-diff", "layer": 1, "head": 2, "token": 4}]
    assert w._maps[0]["info"]["layer"] == 1 and w._maps[0]["info"]["head"] == 2
    w._handle_select_message(w, {"kind": "select", "source": "x", "layer": 99}, [])  # bad value: ignored, logged
    assert w.layer == 1 and events[-1]["layer"] == 1
    w.on_select(events.append, remove=True)
    w._handle_select_message(w, {"kind": "select", "source": "head-diff-ranking", "layer": 0, "head": 0}, [])
    assert w.layer == 0 and len(events) == 2


def test_state_is_bytes_not_json_floats(mixed: list[attnwidget.Extraction]) -> None:
    from ipywidgets.widgets.widget import _remove_buffers

    w = CompareWidget(mixed)
    # What ipywidgets sends: bytes (also those inside the per-prompt lists) become binary buffers.
    json_part, paths, buffers = _remove_buffers(w.get_state())
    assert ["_maps", 2, "data"] in paths and ["_thumbnails", 0] in paths and ["_head_diff"] in paths
    assert not floats_in(json_part), "numbers must travel as bytes"
    assert sum(len(b) for b in buffers) <= encode.MESSAGE_LIMIT
    layers, heads = mixed[0].num_layers, mixed[0].num_heads
    diff = np.frombuffer(w._head_diff, dtype="<f4").reshape(1, layers, heads)
    np.testing.assert_array_equal(diff[0], w.differences.scores["stats"])
    stats = np.frombuffer(w._head_stats, dtype="<f4").reshape(3, 4, layers, heads)
    np.testing.assert_array_equal(stats, w.differences.statistics)
    for thumbs, side, ex in zip(w._thumbnails, w._info["thumbnail_sizes"], mixed):
        assert len(thumbs) == layers * heads * side * side and side <= ex.seq_len
    json.dumps(json_part)


def test_long_prompts_stay_under_the_message_limit(gpt2: AttentionExtractor) -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    prompts = [" ".join(words[(i + k) % 10] for i in range(1200)) for k in range(3)]
    extractions = gpt2.extract_batch(prompts)
    assert min(e.seq_len for e in extractions) > encode.MAP_MAX_SIZE
    w = CompareWidget(extractions)
    assert w.state_nbytes() <= encode.MESSAGE_LIMIT
    assert sum(len(m["data"]) for m in w._maps) <= MAPS_BUDGET
    assert all(m["info"]["pooled"] and m["info"]["seq_len"] == e.seq_len for m, e in zip(w._maps, extractions))
    before = w.state_nbytes()
    w.layer, w.head = 1, 1
    assert w.state_nbytes() == before


def test_encode_map_pools_to_the_side() -> None:
    weights = np.tril(np.ones((10, 10), dtype=np.float32))
    weights /= weights.sum(axis=1, keepdims=True)
    encoded = encode.encode_attention_map(weights, True, max_side=4)
    assert encoded["info"] == {"dtype": "float16", "size": 4, "seq_len": 10, "layout": "lower", "pooled": True}
    np.testing.assert_allclose(encode.decode_attention_map(encoded), max_pool(weights, 4), atol=1e-3)
