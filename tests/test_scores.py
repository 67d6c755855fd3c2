"""Per-head scores (attnwidget.analysis.scores): each one against its definition, written out as plain loops,
on hand-made maps, on tiny random models, and on the bundled SmolLM2's known induction and previous-token
heads; the widget's one pass; former names."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import traitlets

from attnwidget import AttentionExtractor, AttentionWidget, Extraction
from attnwidget.analysis import scores
from attnwidget.analysis.scores import SCORE_NAMES, top_heads
from attnwidget.widgets import encode
from tests.tiny_models import tiny_model


# ---- the definitions, one query at a time ------------------------------------------------------------
def reference(maps: np.ndarray, ids: np.ndarray, causal: bool = True, window: int = 3) -> dict[str, np.ndarray]:
    heads, seq, _ = maps.shape
    out = {name: np.zeros(heads) for name in SCORE_NAMES}
    for h in range(heads):
        a = maps[h].astype(np.float64)
        entropies = [-sum(p * math.log(p) for p in row if p > 0) for row in a]
        out["entropy"][h] = np.mean(entropies)
        seen = [i + 1 if causal else seq for i in range(seq)]
        normalized = [e / math.log(n) for e, n in zip(entropies, seen) if n >= 2]
        out["normalized_entropy"][h] = np.mean(normalized) if normalized else np.nan
        out["peak"][h] = np.mean([row.max() for row in a])
        out["first_token"][h] = np.mean([a[i, 0] for i in range(seq)])
        out["previous_token"][h] = np.mean([a[i, i - 1] for i in range(1, seq)]) if seq > 1 else np.nan
        out["self"][h] = np.mean([a[i, i] for i in range(seq)])
        out["local"][h] = np.mean([sum(a[i, j] for j in range(seq) if abs(i - j) <= window) for i in range(seq)])
        per_query = []
        for i in range(seq):
            targets = {j + 1 for j in range(i - 1) if ids[j] == ids[i]}
            if targets:
                per_query.append(sum(a[i, t] for t in targets))
        out["induction"][h] = np.mean(per_query) if per_query else np.nan
    return out


def random_maps(rng: np.random.Generator, heads: int, seq: int, causal: bool = True) -> np.ndarray:
    logits = rng.standard_normal((heads, seq, seq)) * 3
    if causal:
        logits = np.where(np.tril(np.ones((seq, seq), bool)), logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


# ---- hand-made maps ------------------------------------------------------------------------------------
def test_previous_token_head_scores_one() -> None:
    seq = 6
    maps = np.zeros((1, seq, seq), np.float32)
    maps[0, 0, 0] = 1
    for i in range(1, seq):
        maps[0, i, i - 1] = 1
    assert scores.previous_token_scores(maps)[0] == 1.0
    assert scores.self_scores(maps)[0] == pytest.approx(1 / seq)
    assert scores.first_token_scores(maps)[0] == pytest.approx(2 / seq)  # rows 0 and 1 look at position 0
    assert scores.local_scores(maps)[0] == 1.0
    assert scores.entropy_scores(maps)[0] == 0.0


def test_uniform_causal_map_entropy_and_bos() -> None:
    seq = 5
    maps = np.tril(np.ones((seq, seq)))[None] / np.arange(1, seq + 1)[None, :, None]
    maps = maps.astype(np.float32)
    assert scores.entropy_scores(maps)[0] == pytest.approx(np.mean(np.log(np.arange(1, seq + 1))), rel=1e-6)
    assert scores.first_token_scores(maps)[0] == pytest.approx(np.mean(1 / np.arange(1, seq + 1)), rel=1e-6)
    # Window 1: row i spreads 1/(i+1) over its i+1 keys; keys i-1 and i are within the window.
    expected = np.mean([min(2, i + 1) / (i + 1) for i in range(seq)])
    assert scores.local_scores(maps, window=1)[0] == pytest.approx(expected, rel=1e-6)


def test_induction_head_on_a_repeated_sequence() -> None:
    # ids: a b c d a b c d; a perfect induction head at i ≥ 4 looks at i - 3 (the token after the copy).
    ids = np.array([1, 2, 3, 4, 1, 2, 3, 4])
    seq = len(ids)
    maps = np.zeros((2, seq, seq), np.float32)
    maps[:, :, 0] = 1.0  # both heads: everything on the first token...
    for i in range(4, seq):
        maps[0, i, :] = 0
        maps[0, i, i - 3] = 1.0  # ...except head 0 on the repeats
    got = scores.induction_scores(maps, ids)
    np.testing.assert_allclose(got, [1.0, 0.0])
    queries, targets, count = scores.induction_pairs(ids)
    assert count == 4 and sorted(zip(queries.tolist(), targets.tolist())) == [(4, 1), (5, 2), (6, 3), (7, 4)]


def test_induction_counts_every_earlier_occurrence_but_not_the_neighbour() -> None:
    # ids: x x y x. Query 1 (x after x): j must be < 0, no target. Query 3: j ∈ {0, 1} → targets {1, 2}.
    ids = np.array([7, 7, 8, 7])
    queries, targets, count = scores.induction_pairs(ids)
    assert count == 1 and sorted(targets.tolist()) == [1, 2] and set(queries.tolist()) == {3}
    maps = np.zeros((1, 4, 4), np.float32)
    maps[0, :, 0] = 1
    maps[0, 3] = [0.1, 0.2, 0.3, 0.4]
    assert scores.induction_scores(maps, ids)[0] == pytest.approx(0.5)


def test_no_repeated_token_gives_nan_induction_and_one_token_nan_previous() -> None:
    maps = random_maps(np.random.default_rng(1), 3, 5)
    assert np.isnan(scores.induction_scores(maps, np.arange(5))).all()
    one = np.ones((2, 1, 1), np.float32)
    assert np.isnan(scores.previous_token_scores(one)).all()
    assert scores.self_scores(one).tolist() == [1.0, 1.0] and scores.entropy_scores(one).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("causal", [True, False])
def test_every_score_matches_its_definition_on_random_maps(causal: bool) -> None:
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 4, 23)  # few distinct ids: many repeats, several earlier occurrences each
    maps = random_maps(rng, 3, len(ids), causal)
    got = scores.layer_scores(maps, ids, causal)
    want = reference(maps, ids, causal)
    assert list(got) == list(SCORE_NAMES)
    for name in SCORE_NAMES:
        assert got[name].dtype == np.float64 and got[name].shape == (3,)
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_induction_chunks_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 3, 40)
    maps = random_maps(rng, 2, 40)
    whole = scores.induction_scores(maps, ids)
    monkeypatch.setattr(scores, "_PAIR_CHUNK", 7)
    np.testing.assert_allclose(scores.induction_scores(maps, ids), whole, rtol=1e-12)


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match=r"\[heads, seq, seq\]"):
        scores.entropy_scores(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="input_ids has 3"):
        scores.layer_scores(np.ones((1, 4, 4), np.float32) / 4, np.arange(3))


def test_accumulator_needs_every_layer() -> None:
    acc = scores.ScoreAccumulator(2, 1, np.arange(3))
    acc.add(0, np.full((1, 3, 3), 1 / 3, np.float32))
    with pytest.raises(ValueError, match=r"layers \[1\] were never scored"):
        acc.result()


# ---- top_heads -----------------------------------------------------------------------------------------
def test_top_heads_orders_and_puts_nan_last() -> None:
    values = np.array([[0.1, 0.9, np.nan], [0.5, 0.9, 0.0]])
    assert top_heads(values, 4) == [(0, 1, 0.9), (1, 1, 0.9), (1, 0, 0.5), (0, 0, 0.1)]
    assert [(layer, head) for layer, head, _ in top_heads(values, 6, ascending=True)] == [
        (1, 2), (0, 0), (1, 0), (0, 1), (1, 1), (0, 2),
    ]  # fmt: skip
    assert top_heads(values, 0) == []
    with pytest.raises(ValueError, match="layers, heads"):
        top_heads(np.zeros(3), 1)


# ---- tiny models ---------------------------------------------------------------------------------------
PROMPT = "the cat sat on the mat and the cat sat on the hat"


def test_head_scores_of_a_tiny_model(tiny_extractor: AttentionExtractor) -> None:
    result = tiny_extractor.extract_activations(PROMPT)
    got = result.head_scores()
    assert list(got) == list(SCORE_NAMES)
    ids = result.input_ids
    for layer in range(result.num_layers):
        want = reference(result.attention(layer), ids, result.is_causal)
        for name in SCORE_NAMES:
            assert got[name].shape == (result.num_layers, result.num_heads)
            np.testing.assert_allclose(got[name][layer], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert (got["induction"] >= 0).all() and (got["induction"] <= 1 + 1e-6).all()
    # Cached, and callers cannot change the cache.
    got["first_token"][:] = -1
    assert (result.head_scores()["first_token"] >= 0).all()
    # The former name of first_token still finds it.
    np.testing.assert_array_equal(result.head_scores()["bos"], result.head_scores()["first_token"])
    assert result._head_scores is not None


# ---- the bundled SmolLM2 -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smollm2_repeated(smollm2: AttentionExtractor) -> dict[str, np.ndarray]:
    text = smollm2.tokenizer.decode(np.random.default_rng(0).integers(1000, 20000, 50))
    return smollm2.extract_activations(text + text).head_scores()


@pytest.mark.slow
def test_smollm2_induction_heads_top_the_ranking(smollm2_repeated: dict[str, np.ndarray]) -> None:
    induction = smollm2_repeated["induction"]
    top = top_heads(induction, 5)
    assert top[0][:2] == (18, 6) and top[0][2] > 0.85, top
    assert induction[17, 3] > 0.7 and induction[17, 4] > 0.7
    assert {(17, 3), (17, 4)} <= {(layer, head) for layer, head, _ in top}
    assert np.median(induction) < 0.1, "most heads are not induction heads"


@pytest.mark.slow
def test_smollm2_previous_token_head(smollm2_repeated: dict[str, np.ndarray]) -> None:
    top = [(layer, head) for layer, head, _ in top_heads(smollm2_repeated["previous_token"], 5)]
    assert (16, 0) in top[:3], top


# ---- the widget ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gpt2_result(bert_tokenizer: Any) -> Extraction:
    extractor = AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer)
    return extractor.extract_activations(PROMPT)


def test_widget_sends_every_score_as_float32(gpt2_result: Extraction, monkeypatch: pytest.MonkeyPatch) -> None:
    gpt2_result._head_scores = None
    passes: list[str] = []

    def counting(name: str) -> Any:
        real = getattr(gpt2_result, name)

        def count(*args: Any, **options: Any) -> Any:
            passes.append(name)
            return real(*args, **options)

        return count

    for name in ("iter_attention", "iter_pooled_attention"):  # every pass over the layers' maps
        monkeypatch.setattr(gpt2_result, name, counting(name))
    w = AttentionWidget(gpt2_result)
    assert len(passes) == 1, "thumbnails and every score come from one pass over the layers"
    assert w.head_score == "none"
    info = w._info
    assert [s["name"] for s in info["scores"]] == list(SCORE_NAMES)
    assert [s["ascending"] for s in info["scores"]] == [scores.SCORES[n].ascending for n in SCORE_NAMES]
    assert all(s["title"] and s["label"] for s in info["scores"])
    assert info["layer_stats"] == list(scores.LAYER_STAT_NAMES) and set(info["layer_stats"]) <= set(SCORE_NAMES)
    shape = (len(SCORE_NAMES), gpt2_result.num_layers, gpt2_result.num_heads)
    sent = encode.decode_float32(w._head_scores, shape)
    want = gpt2_result.head_scores()
    assert len(passes) == 1, "the widget's pass filled the extraction's cache"
    for index, name in enumerate(SCORE_NAMES):
        np.testing.assert_allclose(sent[index], want[name], rtol=1e-6, err_msg=name)
    state = w.state_for_export()
    assert state["head_score"] == "none" and state["_head_scores"] == w._head_scores
    # A second widget reuses the cached scores: its pass only makes thumbnails.
    AttentionWidget(gpt2_result, head_score="induction")
    assert len(passes) == 2


def test_head_score_trait_is_validated(gpt2_result: Extraction) -> None:
    w = AttentionWidget(gpt2_result, head_score="previous_token")
    assert w.head_score == "previous_token"
    for name in ("none", *SCORE_NAMES):
        w.head_score = name
        assert w.head_score == name
    for bad in ("Induction", "", 3, None):
        with pytest.raises(traitlets.TraitError, match=r"head_score must be one of 'none', 'induction'.*got") as err:
            w.head_score = bad
        assert "\n" not in str(err.value)
    assert w.head_score == SCORE_NAMES[-1], "a rejected value leaves the trait as it was"
    with pytest.raises(traitlets.TraitError, match="head_score must be one of"):
        AttentionWidget(gpt2_result, head_score="nope")
    w.set_state({"head_score": "bos"})
    assert w.head_score == "first_token", "a former name is taken and stored as today's"


def test_head_scores_select_message_reaches_on_select(gpt2_result: Extraction) -> None:
    w = AttentionWidget(gpt2_result)
    seen: list[dict[str, Any]] = []
    w.on_select(seen.append)
    w._handle_select_message(w, {"kind": "select", "source": "head-scores", "layer": 1, "head": 2, "token": -1}, [])
    assert (w.layer, w.head) == (1, 2)
    assert seen == [{"source": "head-scores", "layer": 1, "head": 2, "token": -1}]
