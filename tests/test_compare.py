"""CompareWidget and attnwidget.analysis.differences: validation, traits, the bytes sent, and the difference numbers
checked against hand computation."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, CompareWidget
from attnwidget.analysis import differences
from attnwidget.analysis import scores as head_scores
from attnwidget.analysis.pooling import max_pool
from attnwidget.engine.tokens import visible_text
from attnwidget.widgets import encode
from attnwidget.widgets.compare import MAPS_BUDGET
from tests.test_attribution import perturbed
from tests.test_interventions import capture_inputs, head_dim, hooked_run, out_projection
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


# ---- patch A → B --------------------------------------------------------------------------------------
# A tiny random Llama (grouped-query) whose last-token top predictions (found once, checked below) give
# every case: 0 → 1 different tops, same length; 0 → 2 the same top, same length; 1 → 3 different tops,
# different lengths (only the last position patched); 0 → 3 the same top, different lengths.
PATCH_PROMPTS = ["the cat sat on the mat", "a bird flew over the sea", "the dog slept on the rug", "a cat"]
PATCH_CASES = [([0, 1], False, "all"), ([0, 2], True, "all"), ([1, 3], False, "last"), ([0, 3], True, "last")]


@pytest.fixture(scope="module")
def llama(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-llama", model=perturbed("llama"), tokenizer=bert_tokenizer)


@pytest.fixture(scope="module")
def patch_prompts(llama: AttentionExtractor) -> list[attnwidget.Extraction]:
    return llama.extract_batch(PATCH_PROMPTS)


def plain_last_logprobs(model: Any, extraction: attnwidget.Extraction) -> np.ndarray:
    """The model's own forward pass over the prompt alone (no batch, no padding): log-probs after its last token."""
    with torch.no_grad():
        logits = model(torch.tensor([extraction.input_ids.tolist()])).logits[0, -1].double()
    return torch.log_softmax(logits, dim=-1).numpy()  # type: ignore[no-any-return]


def moved(a: np.ndarray, b: np.ndarray, patched: np.ndarray) -> dict[str, Any]:
    """The definition, written out: LD = logprob(A's top) − logprob(B's top) in each run; fraction moved =
    (LD_patched − LD_B) / (LD_A − LD_B), undefined when the tops are one token (then Δ logprob of it)."""
    pa, pb = int(np.argmax(a)), int(np.argmax(b))
    ld = {name: float(lp[pa] - lp[pb]) for name, lp in (("source", a), ("target", b), ("patched", patched))}
    fraction = None if pa == pb else (ld["patched"] - ld["target"]) / (ld["source"] - ld["target"])
    return {"pa": pa, "pb": pb, "ld": ld, "fraction": fraction, "delta": float(patched[pb] - b[pb])}


def decoded_patch(encoded: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """`_patch` data → (summary [5], rows [rows, 3]) as the views read it."""
    values = np.frombuffer(encoded["data"], dtype="<f4")
    return values[:5], values[5:].reshape(-1, 3)


@pytest.mark.parametrize(("pair", "same_top", "positions"), PATCH_CASES)
def test_patch_effect_is_the_formula_over_the_engines_patch(
    llama: AttentionExtractor,
    patch_prompts: list[attnwidget.Extraction],
    pair: list[int],
    same_top: bool,
    positions: str,
) -> None:
    w = CompareWidget(patch_prompts, patch_pair=pair)
    source, target = (patch_prompts[i] for i in pair)
    a, b = plain_last_logprobs(llama.model, source), plain_last_logprobs(llama.model, target)
    assert (int(np.argmax(a)) == int(np.argmax(b))) == same_top, "the prompts no longer give this case"
    rows = None if positions == "all" else [(target.seq_len - 1, source.seq_len - 1)]
    for layer, head in [(0, 0), (0, 4), (1, 2), (1, 5)]:
        patched = target.patch(source, heads=[(layer, head)], positions=rows).logprobs(-1).astype(np.float64)
        want = moved(a, b, patched)
        got = w.patch_effect(layer, head)
        assert (got["pair"], got["layer"], got["head"], got["positions"]) == (pair, layer, head, positions)
        assert (got["source_top_id"], got["target_top_id"], got["same_top"]) == (want["pa"], want["pb"], same_top)
        assert got["delta"] == pytest.approx(want["delta"], abs=2e-5)
        if same_top:
            assert got["fraction"] is None and got["logit_diff"] is None
        else:
            assert got["logit_diff"] == pytest.approx(want["ld"], abs=2e-5)
            span = want["ld"]["source"] - want["ld"]["target"]
            assert span > 0 and got["fraction"] == pytest.approx(want["fraction"], abs=4e-5 / span)
        # B's top 5 before and after, as (text, probability)
        for key, lp in (("top_before", b), ("top_after", patched)):
            ids = np.argsort(-lp, kind="stable")[:5]
            texts = target.predictor.texts(ids[None])[0]  # type: ignore[union-attr]
            assert [t for t, _ in got[key]] == texts, key
            np.testing.assert_allclose([p for _, p in got[key]], np.exp(lp[ids]), rtol=1e-3)
        # what the views receive: the same numbers in float32
        w.apply({"layer": layer, "head": head, "patching": True})
        encoded = w._patch
        info = encoded["info"]
        assert (info["pair"], info["layer"], info["head"], info["positions"]) == (pair, layer, head, positions)
        assert info["unavailable"] is None and info["same_top"] == same_top and info["k"] == 5
        summary, table = decoded_patch(encoded)
        if same_top:
            assert np.isnan(summary[:4]).all()
        else:
            np.testing.assert_allclose(summary[:4], [got["fraction"], *got["logit_diff"].values()], rtol=1e-5)
        assert summary[4] == pytest.approx(got["delta"], rel=1e-5, abs=1e-7)
        ids = info["ids"]
        assert ids[0] == want["pa"] and ids[1 if not same_top else 0] == want["pb"]
        np.testing.assert_allclose(table, np.stack([a[ids], b[ids], patched[ids]], axis=1), atol=2e-5)
        assert [encoded["tokens"][r] for r in info["before"]] == [visible_text(t) for t, _ in got["top_before"]]
        assert [encoded["tokens"][r] for r in info["after"]] == [visible_text(t) for t, _ in got["top_after"]]
        w.patching = False


@pytest.mark.parametrize("lengths", ["same", "different"])
def test_patch_equals_a_hooked_forward(llama: AttentionExtractor, lengths: str) -> None:
    """The fraction against plain forward passes: A's head output captured by a pre-hook on o_proj, and B's
    run with that head's columns replaced by A's (all positions, or B's last from A's last)."""
    prompts = ["the cat sat on the mat", "a bird flew over the sea" if lengths == "same" else "a dog sat on"]
    w = CompareWidget(llama.extract_batch(prompts))
    source, target = w.extractions
    assert (source.seq_len == target.seq_len) == (lengths == "same")
    model = llama.model
    layer, head = 0, 4
    dim = head_dim(model)
    columns = slice(head * dim, (head + 1) * dim)
    projection = out_projection(model, layer)
    theirs = capture_inputs(model, source.input_ids.tolist(), [projection])[projection]

    def patch(x: torch.Tensor) -> torch.Tensor:
        if lengths == "same":
            x[0, :, columns] = theirs[:, columns]
        else:
            x[0, -1, columns] = theirs[-1, columns]
        return x

    patched = hooked_run(model, target.input_ids.tolist(), {projection: patch})[0][-1]
    a, b = plain_last_logprobs(model, source), plain_last_logprobs(model, target)
    want = moved(a, b, patched)
    got = w.patch_effect(layer, head)
    assert want["pa"] != want["pb"], "the prompts must predict different tokens"
    assert abs(want["ld"]["patched"] - want["ld"]["target"]) > 1e-3, "the head must move something"
    assert got["positions"] == ("all" if lengths == "same" else "last")
    assert got["logit_diff"] == pytest.approx(want["ld"], abs=1e-4)
    span = want["ld"]["source"] - want["ld"]["target"]
    assert got["fraction"] == pytest.approx(want["fraction"], abs=2e-4 / span)


def test_patch_follows_the_selection_and_the_pair(patch_prompts: list[attnwidget.Extraction]) -> None:
    from ipywidgets.widgets.widget import _remove_buffers

    w = CompareWidget(patch_prompts)
    assert (w.patching, w.patch_pair, w._patch) == (False, [0, 1], {})
    w.layer, w.head = 1, 2  # nothing computed while patching is off
    assert w._patch == {}
    w.patching = True
    assert (w._patch["info"]["layer"], w._patch["info"]["head"], w._patch["info"]["pair"]) == (1, 2, [0, 1])
    w._handle_select_message(w, {"kind": "select", "source": "head-diff", "layer": 0, "head": 3}, [])
    assert (w._patch["info"]["layer"], w._patch["info"]["head"]) == (0, 3)
    w.patch_pair = [3, 1]
    assert w._patch["info"]["pair"] == [3, 1] and w._patch["info"]["positions"] == "last"
    shown = w._patch
    w.patch_pair = [0, 1]
    w.patch_pair = [3, 1]
    assert w._patch is shown, "a patch already computed is kept, not computed again"
    json_part, paths, _buffers = _remove_buffers(w.get_state())
    assert ["_patch", "data"] in paths and not floats_in(json_part), "numbers must travel as bytes"
    w.patching = False
    assert w._patch == {}
    started = CompareWidget(patch_prompts, layer=1, head=1, patch_pair=(2, 0), patching=True)
    assert (started._patch["info"]["layer"], started._patch["info"]["pair"]) == (1, [2, 0])
    assert started.patch_effect()["pair"] == [2, 0] and started.patch_effect(pair=[0, 2])["pair"] == [0, 2]


def test_patch_bad_inputs_are_one_line_errors(patch_prompts: list[attnwidget.Extraction]) -> None:
    w = CompareWidget(patch_prompts[:2])
    cases: list[tuple[Any, str]] = [
        (
            lambda: setattr(w, "patch_pair", [1, 1]),
            r"patch_pair must be two different prompt indices in 0\.\.1, got \[1, 1\]",
        ),
        (lambda: setattr(w, "patch_pair", [0, 2]), r"patch_pair must be .* in 0\.\.1, got \[0, 2\]"),
        (lambda: setattr(w, "patch_pair", [0, True]), r"patch_pair must be .*, got \[0, True\]"),
        (lambda: setattr(w, "patch_pair", "AB"), r"patch_pair must be .*, got 'AB'"),
        (lambda: setattr(w, "patching", "yes"), r"patching must be True or False, got 'yes'"),
        (lambda: w.patch_effect(2, 0), r"layer must be an int in 0\.\.1 \(this model has 2 layers\), got 2"),
        (lambda: w.patch_effect(0, 6), r"head must be an int in 0\.\.5 \(each layer has 6 heads\), got 6"),
        (lambda: w.patch_effect(0, 0, pair=[0, 2]), r"patch_pair must be .* in 0\.\.1, got \[0, 2\]"),
        (lambda: CompareWidget(patch_prompts, patch_pair=[4, 0]), r"patch_pair must be .* in 0\.\.3, got \[4, 0\]"),
    ]
    for call, message in cases:
        with pytest.raises(traitlets.TraitError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
    assert (w.patch_pair, w.patching) == ([0, 1], False)


def test_patch_unavailable_says_why(bert_tokenizer: Any, llama: AttentionExtractor) -> None:
    encoder = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer)
    w = CompareWidget(encoder.extract_batch(["the cat sat", "the dog ran"]))
    # Said at once (no click needed), for any head, in the engine's words.
    reason = w._patch["info"]["unavailable"]
    assert reason and "not a causal language model" in reason and w._patch["data"] == b""
    w.layer = 1
    assert w._patch["info"]["layer"] == 1 and w._patch["info"]["unavailable"] == reason
    with pytest.raises(ValueError, match="not a causal language model"):
        w.patch_effect(0, 0)
    # Two models of one shape: the engine refuses to patch across them.
    other = AttentionExtractor(model=perturbed("llama"), tokenizer=bert_tokenizer)
    two = CompareWidget([llama.extract_activations("the cat sat"), other.extract_activations("the dog ran")])
    assert two._patch == {}
    two.patching = True
    assert "same model" in two._patch["info"]["unavailable"]
