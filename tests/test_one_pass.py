"""The one pass over every layer's maps, a block of query rows at a time (`Extraction.iter_pooled_attention`):
the softmax with its rows' entropy and peak (`scores.row_softmax`), scores fed by blocks (`LayerScorer`),
max-pooling by blocks (`pooling.BlockMaxPool`, `pooling.row_blocks`), the blocks' logits
(`LayerAttentionInputs.logits`), each against the plain whole-map computation it replaces; the unembedding
by vocabulary slabs (`NextTokenPredictor`) against the head's own."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch

from attnwidget import AttentionExtractor, Extraction
from attnwidget.analysis import scores
from attnwidget.analysis.pooling import BlockMaxPool, max_pool, pool_edges, row_blocks
from attnwidget.analysis.scores import SCORE_NAMES, LayerScorer, row_softmax
from attnwidget.engine import attribution, predictions
from tests.test_scores import random_maps, reference
from tests.tiny_models import tiny_model

PROMPT = "the cat sat on the mat and the cat sat on the hat while the dog sat on the log"


def entropy_by_definition(weights: np.ndarray) -> np.ndarray:
    """-Σ p ln p per row, float64, 0 ln 0 = 0."""
    p = weights.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1)


# ---- row_softmax ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 8.0, 40.0])
def test_row_softmax_is_the_softmax_with_its_entropy_and_peak(scale: float) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50, 70, generator=generator) * scale + 20  # far from 0: the shift matters
    logits[:, :, 60:] = float("-inf")  # masked keys
    logits[1, 7, :] = float("-inf")  # a row masked whole
    logits[2, 3, 5] = 1e4  # a row that looks at one key only
    want = torch.softmax(logits, -1).nan_to_num_(nan=0.0)
    weights, entropy, peak = row_softmax(logits.clone())
    assert torch.equal(weights, want), "bitwise the softmax that LayerAttentionInputs.weights takes"
    np.testing.assert_allclose(entropy.numpy(), entropy_by_definition(want.numpy()), rtol=2e-6, atol=2e-6)
    np.testing.assert_array_equal(peak.numpy(), want.amax(-1).numpy())
    assert entropy[1, 7] == 0 and peak[1, 7] == 0 and peak[2, 3] == 1 and entropy[2, 3] == 0
    uniform = torch.zeros(1, 1, 16)
    assert row_softmax(uniform)[1].item() == pytest.approx(math.log(16), rel=1e-6)


def test_row_softmax_finite_keys_is_only_a_hint_about_where_minus_infinity_is() -> None:
    causal = torch.randn(2, 8, 24, generator=torch.Generator().manual_seed(1))
    causal[..., 16:] = causal[..., 16:].masked_fill(torch.ones(8, 8, dtype=torch.bool).triu(1), float("-inf"))
    plain = row_softmax(causal.clone())
    hinted = row_softmax(causal.clone(), finite_keys=16)
    for a, b in zip(plain, hinted):
        assert torch.equal(a, b)
    assert torch.isfinite(plain[1]).all()


# ---- LayerScorer, row_blocks, BlockMaxPool ---------------------------------------------------------------
@pytest.mark.parametrize("causal", [True, False])
def test_scores_fed_in_blocks_equal_the_definitions(causal: bool) -> None:
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 4, 37)
    maps = random_maps(rng, 3, len(ids), causal)
    want = reference(maps, ids, causal)
    for edges in ([0, 37], [0, 1, 2, 9, 30, 37], list(range(38))):
        scorer = LayerScorer(3, ids, causal)
        for start, stop in itertools.pairwise(edges):
            # A causal block may stop at its last row's key: the keys after it are 0.
            keys = stop if causal else len(ids)
            scorer.add_rows(start, torch.from_numpy(maps[:, start:stop, :keys].copy()))
        got = scorer.result()
        for name in SCORE_NAMES:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=f"{name} {edges}")


def test_scores_from_row_softmax_equal_the_definitions() -> None:
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 5, 29)
    logits = torch.from_numpy(rng.standard_normal((2, 29, 29)).astype(np.float32) * 4)
    logits.masked_fill_(torch.ones(29, 29, dtype=torch.bool).triu(1), float("-inf"))
    maps = torch.softmax(logits, -1).numpy()
    want = reference(maps, ids, True)
    scorer = LayerScorer(2, ids, True)
    for start, stop in ((0, 10), (10, 29)):
        weights, entropy, peak = row_softmax(logits[:, start:stop, :stop].clone(), finite_keys=start)
        scorer.add_rows(start, weights, entropy, peak)
    got = scorer.result()
    for name in SCORE_NAMES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_scorer_needs_every_row() -> None:
    scorer = LayerScorer(1, np.arange(4))
    scorer.add_rows(0, torch.full((1, 2, 4), 0.25))
    with pytest.raises(ValueError, match="2 query rows were scored, the maps have 4"):
        scorer.result()


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("bins", [None, 1, 7, 50])
def test_row_blocks_cover_the_rows_on_bin_edges_within_the_budget(causal: bool, bins: int | None) -> None:
    length, budget = 50, 300
    blocks = row_blocks(length, budget, causal, bins)
    assert blocks[0][0] == 0 and blocks[-1][1] == length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    edges = set(pool_edges(length, bins).tolist()) if bins else set(range(length + 1))
    for start, stop in blocks:
        assert start < stop and start in edges and stop in edges
        keys = stop if causal else length
        one_bin = sorted(e for e in edges if e > start)[0] == stop
        assert (stop - start) * keys <= budget or one_bin


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("bins", [1, 6, 23, 40])
def test_block_max_pool_equals_max_pool(causal: bool, bins: int) -> None:
    maps = random_maps(np.random.default_rng(7), 2, 40, causal)
    pool = BlockMaxPool(2, 40, bins)
    for start, stop in row_blocks(40, 150, causal, bins):
        keys = stop if causal else 40
        pool.add(start, torch.from_numpy(maps[:, start:stop, :keys].copy()))
    np.testing.assert_array_equal(pool.pooled, max_pool(maps, bins))


def test_block_max_pool_needs_whole_bins() -> None:
    with pytest.raises(ValueError, match="do not start and end on pooling bins"):
        BlockMaxPool(2, 40, 6).add(1, torch.zeros(2, 3, 40))


# ---- the pass over an extraction ---------------------------------------------------------------------
@pytest.fixture(params=["gpt2", "llama", "gpt_neo", "bert"])
def result(request: pytest.FixtureRequest, bert_tokenizer: Any) -> Extraction:
    extractor = AttentionExtractor(
        model_name=f"tiny-{request.param}", model=tiny_model(request.param), tokenizer=bert_tokenizer
    )
    return extractor.extract_activations(PROMPT)


def test_block_logits_are_the_maps_logits(result: Extraction) -> None:
    for layer in range(result.num_layers):
        inputs = result.layers.attention_inputs(layer)
        if inputs.stored_weights is not None:
            continue
        whole = inputs.weights(0, result.seq_len)
        for start, stop in ((0, 3), (3, 11), (11, result.seq_len)):
            block = inputs.logits(0, result.seq_len, rows=(start, stop))
            keys = stop if inputs.causal else result.seq_len
            assert block.shape == (result.num_heads, stop - start, keys)
            weights = torch.softmax(block, -1).nan_to_num_(nan=0.0)
            np.testing.assert_allclose(weights.numpy(), whole[:, start:stop, :keys].numpy(), rtol=1e-6, atol=1e-7)
            assert not whole[:, start:stop, keys:].any(), "the keys a causal block leaves out are 0"
        one = inputs.logits(0, result.seq_len, heads=[1], rows=(2, 5))
        np.testing.assert_allclose(
            torch.softmax(one, -1).numpy(), whole[[1], 2:5, : one.shape[-1]].numpy(), rtol=1e-6, atol=1e-7
        )


def test_pooled_pass_equals_the_whole_maps(result: Extraction) -> None:
    seq = result.seq_len
    side = 7
    result._head_scores = None
    seen = []
    for layer, pooled, kept in result.iter_pooled_attention(side, rows=(4, 9)):
        maps = result.attention(layer)
        assert pooled is not None and kept is not None
        np.testing.assert_allclose(pooled, max_pool(maps, side), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(kept, maps[:, 4:9], rtol=1e-6, atol=1e-7)
        assert kept.shape == (result.num_heads, 5, seq)
        seen.append(layer)
    assert seen == list(range(result.num_layers))
    got = result.head_scores()  # kept by the pass
    for layer in range(result.num_layers):
        want = reference(result.attention(layer), result.input_ids, result.is_causal)
        for name in SCORE_NAMES:
            np.testing.assert_allclose(got[name][layer], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # Not pooled (side = seq): the maps themselves; no side, no rows: scores only (already known: none).
    full = [p for _, p, _ in result.iter_pooled_attention(seq)]
    np.testing.assert_allclose(full[0], result.attention(0), rtol=1e-6, atol=1e-7)
    assert all(p is None and k is None for _, p, k in result.iter_pooled_attention())


def test_pooled_pass_rejects_bad_sides_and_rows(result: Extraction) -> None:
    with pytest.raises(ValueError, match=r"side must be in 1\.\.\d+, got 0"):
        next(result.iter_pooled_attention(0))
    with pytest.raises(ValueError, match="rows must be"):
        next(result.iter_pooled_attention(3, rows=(5, 2)))


def test_head_scores_take_the_pooled_pass(result: Extraction) -> None:
    result._head_scores = None
    whole = scores.ScoreAccumulator(result.num_layers, result.num_heads, result.input_ids, result.is_causal)
    for layer in range(result.num_layers):
        whole.add(layer, result.attention(layer))
    want = whole.result()
    got = result.head_scores()
    for name in SCORE_NAMES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


# ---- the attribution prepared by the pass ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_pass_prepares_the_attribution_without_more_replays(
    kind: str, bert_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_attribution import perturbed

    fresh = AttentionExtractor(model_name=f"tiny-{kind}", model=perturbed(kind), tokenizer=bert_tokenizer)
    replays: list[int] = []
    real = attribution._replay

    def counting(*args: Any, **options: Any) -> Any:
        replays.append(1)
        return real(*args, **options)

    monkeypatch.setattr(attribution, "_replay", counting)
    # Twice: a model's first attribution checks its blocks (run through their MLP), later ones do not.
    for _round in range(2):
        result = fresh.extract_activations(PROMPT)
        for _ in result.iter_pooled_attention(5, attribution_at=-1):
            pass
        assert len(replays) == result.num_layers
        replays.clear()
        shared = result.logit_attribution(-1)
        assert replays == [], "the pass ran every block the attribution needs"
        fresh._recent.clear()
        alone = fresh.extract_activations(PROMPT).logit_attribution(-1)
        assert len(replays) == result.num_layers
        replays.clear()
        np.testing.assert_allclose(shared.heads, alone.heads, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(shared.mlp, alone.mlp, rtol=1e-5, atol=1e-5)
        assert shared.logit == pytest.approx(alone.logit, abs=1e-6)
        assert shared.total == pytest.approx(shared.logit, abs=1e-4)
        # Another position was not prepared: it replays its blocks.
        result.logit_attribution(2)
        assert len(replays) == result.num_layers
        replays.clear()


def test_pass_still_refuses_blocks_that_are_no_sum_of_heads(bert_tokenizer: Any) -> None:
    import transformers

    from tests.tiny_models import VOCAB

    torch.manual_seed(0)
    config = transformers.Olmo2Config(
        num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64, vocab_size=VOCAB
    )
    olmo = AttentionExtractor(model=transformers.Olmo2ForCausalLM(config).eval(), tokenizer=bert_tokenizer)
    result = olmo.extract_activations(PROMPT)
    for _ in result.iter_pooled_attention(4, attribution_at=-1):
        pass
    with pytest.raises(ValueError, match="cannot be split into head outputs"):
        result.logit_attribution()


def test_pass_over_an_encoder_prepares_nothing(bert_tokenizer: Any) -> None:
    encoder = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer)
    result = encoder.extract_activations(PROMPT)
    pooled = [p for _, p, _ in result.iter_pooled_attention(4, attribution_at=-1)]
    np.testing.assert_allclose(pooled[1], max_pool(result.attention(1), 4), rtol=1e-6, atol=1e-7)


# ---- predictions by vocabulary slabs ------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
def test_unembedding_by_slabs_is_the_heads_own(bias: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    head = torch.nn.Linear(24, 3000, bias=bias)
    predictor = predictions.NextTokenPredictor.__new__(predictions.NextTokenPredictor)
    predictor.head, predictor.softcap, predictor.k = head, None, 5
    rows = torch.randn(300, 24, generator=torch.Generator().manual_seed(2))
    monkeypatch.setattr(predictions, "_SLAB", 700)  # a last slab shorter than the others
    with torch.inference_mode():
        assert torch.equal(predictor._unembed(rows), head(rows))
        ids, probs = predictor.top_k(rows.numpy())
        log_probs, want_ids = torch.log_softmax(head(rows), -1).topk(5, -1)
    np.testing.assert_array_equal(ids, want_ids.numpy())
    np.testing.assert_array_equal(probs, log_probs.exp().numpy())


# ---- the bundled SmolLM2 (real logits: attention sinks, grouped-query heads) -----------------------------
@pytest.mark.slow
def test_smollm2_pooled_pass_equals_the_whole_maps(smollm2: AttentionExtractor) -> None:
    ids = np.random.default_rng(3).integers(1000, 20000, 350)
    result = smollm2.extract_activations(smollm2.tokenizer.decode(np.concatenate([ids, ids])))
    whole = scores.ScoreAccumulator(result.num_layers, result.num_heads, result.input_ids, result.is_causal)
    result._head_scores = None
    for layer, pooled, _ in result.iter_pooled_attention(33):
        maps = result.attention(layer)
        whole.add(layer, maps)
        np.testing.assert_array_equal(pooled, max_pool(maps, 33))
    got, want = result.head_scores(), whole.result()
    for name in SCORE_NAMES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
