"""attnwidget.encode: every array the views receive, round-tripped back to numpy."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget import encode
from attnwidget.engine.extraction import row_entropy


def random_maps(heads: int, seq: int, causal: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(heads, seq, seq)).astype(np.float32) * 3
    if causal:
        scores = np.where(np.tril(np.ones((seq, seq), dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def naive_max_pool(a: np.ndarray, bins: int) -> np.ndarray:
    edges = encode.pool_edges(a.shape[-1], bins)
    out = np.empty((*a.shape[:-2], bins, bins), dtype=a.dtype)
    for i in range(bins):
        for j in range(bins):
            out[..., i, j] = a[..., edges[i] : edges[i + 1], edges[j] : edges[j + 1]].max(axis=(-1, -2))
    return out


@pytest.mark.parametrize(("length", "bins"), [(10, 4), (1024, 64), (5, 5), (4097, 1024), (7, 1)])
def test_pool_edges_cover_every_position_once(length: int, bins: int) -> None:
    edges = encode.pool_edges(length, bins)
    assert edges[0] == 0 and edges[-1] == length and len(edges) == bins + 1
    assert np.all(np.diff(edges) >= 1)
    assert list(encode.pool_edges(10, 4)) == [0, 2, 5, 7, 10]  # the formula js/decode.ts uses too


def test_pool_edges_rejects_more_bins_than_positions() -> None:
    with pytest.raises(ValueError, match=r"1\.\.5"):
        encode.pool_edges(5, 6)


def test_max_pool_matches_naive_and_keeps_a_diagonal() -> None:
    maps = random_maps(3, 50, causal=True)
    np.testing.assert_array_equal(encode.max_pool(maps, 7), naive_max_pool(maps, 7))
    eye = np.eye(1000, dtype=np.float32)
    np.testing.assert_array_equal(np.diagonal(encode.max_pool(eye, 64)), np.ones(64, dtype=np.float32))
    assert encode.max_pool(maps, 50) is maps


def test_thumbnail_size_respects_budget_and_limits() -> None:
    assert encode.thumbnail_size(270, 1024) == 66  # SmolLM2: 30 x 9 heads
    assert encode.thumbnail_size(270, 1024) ** 2 * 270 <= encode.THUMBNAIL_BUDGET
    assert encode.thumbnail_size(8, 1000) == encode.THUMBNAIL_MAX_SIZE
    assert encode.thumbnail_size(8, 12) == 12
    assert encode.thumbnail_size(10**6, 10) == 1


def test_companding_round_trip_error_is_small_for_small_weights() -> None:
    weights = np.array([0, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.5, 1.0], dtype=np.float32)
    codes = encode.compand_uint8(weights)
    assert codes.dtype == np.uint8 and codes[0] == 0 and codes[-1] == 255
    back = encode.expand_uint8(codes)
    # one code step in sqrt space: |Δw| ≤ 2·√w/510 + 1/510²
    assert np.all(np.abs(back - weights) <= 2 * np.sqrt(weights) / 510 + 1 / 510**2 + 1e-7)
    assert codes[2] > 0  # 1e-4 is still visible
    assert encode.compand_uint8(np.array([-0.1, 1.5]))[1] == 255


@pytest.mark.parametrize("causal", [True, False])
def test_attention_map_round_trip(causal: bool) -> None:
    weights = random_maps(1, 37, causal)[0]
    data, info = encode.encode_attention_map(weights, causal)
    assert info == {
        "dtype": "float16",
        "size": 37,
        "seq_len": 37,
        "layout": "lower" if causal else "full",
        "pooled": False,
    }
    assert len(data) == 2 * (37 * 38 // 2 if causal else 37 * 37)
    back = encode.decode_attention_map(data, info)
    np.testing.assert_allclose(back, weights, rtol=1e-3, atol=1e-7)
    np.testing.assert_array_equal(back, weights.astype(np.float16).astype(np.float32))


def test_long_attention_map_is_max_pooled_and_fits_a_message() -> None:
    seq = encode.MAP_MAX_SIZE + 300
    weights = np.zeros((seq, seq), dtype=np.float32)
    weights[np.arange(1, seq), np.arange(seq - 1)] = 0.75  # previous-token stripe
    weights[0, 0] = 1
    data, info = encode.encode_attention_map(weights, causal=True)
    assert info["size"] == encode.MAP_MAX_SIZE and info["pooled"] is True and info["seq_len"] == seq
    assert len(data) <= encode.MESSAGE_LIMIT
    back = encode.decode_attention_map(data, info)
    np.testing.assert_array_equal(back, naive_max_pool(weights, encode.MAP_MAX_SIZE).astype(np.float16))


def test_attention_map_rejects_non_square() -> None:
    with pytest.raises(ValueError, match="square"):
        encode.encode_attention_map(np.zeros((3, 4), dtype=np.float32), True)


def test_summary_thumbnails_and_stats() -> None:
    layers = [random_maps(4, 90, causal=True, seed=s) for s in range(3)]
    thumbnails, stats = encode.attention_summary(enumerate(layers), 3, 4, 90)
    side = encode.thumbnail_size(12, 90)
    assert thumbnails.shape == (3, 4, side, side) and thumbnails.dtype == np.uint8
    assert stats.shape == (len(encode.STAT_NAMES), 3, 4) and stats.dtype == np.float32
    decoded = encode.decode_uint8(thumbnails.tobytes(), thumbnails.shape)
    np.testing.assert_array_equal(decoded[1, 2], encode.compand_uint8(naive_max_pool(layers[1][2], side)))
    maps = layers[2]
    names = list(encode.STAT_NAMES)
    np.testing.assert_allclose(stats[names.index("entropy"), 2], row_entropy(maps).mean(axis=-1), rtol=1e-5)
    np.testing.assert_allclose(stats[names.index("peak"), 2], maps.max(axis=-1).mean(axis=-1), rtol=1e-6)
    np.testing.assert_allclose(stats[names.index("first"), 2], maps[:, :, 0].mean(axis=-1), rtol=1e-6)
    previous = np.array([np.mean([maps[h, i, i - 1] if i else 0 for i in range(90)]) for h in range(4)])
    np.testing.assert_allclose(stats[names.index("previous"), 2], previous, rtol=1e-5)
    back = encode.decode_float32(stats.tobytes(), stats.shape)
    np.testing.assert_array_equal(back, stats)


def test_neurons_are_the_most_variable_in_order() -> None:
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(20, 50)).astype(np.float32) * np.linspace(0.1, 5, 50, dtype=np.float32)
    acts[:, 7] *= 100
    data, indices = encode.encode_neurons(acts, 5)
    assert indices[0] == 7
    # Variance over the tokens after the first (the first token is an outlier in most language models).
    assert indices == list(np.argsort(-acts[1:].astype(np.float64).var(axis=0))[:5])
    values = encode.decode_float16(data, (5, 20))
    np.testing.assert_allclose(values, acts[:, indices].T, rtol=1e-3, atol=1e-3)
    assert encode.encode_neurons(acts, 500)[1] == list(encode.top_variable_neurons(acts, 50))


def test_the_first_tokens_outliers_do_not_choose_the_neurons() -> None:
    rng = np.random.default_rng(2)
    acts = rng.normal(size=(12, 30)).astype(np.float32)
    acts[0, 3] = 1e4  # a "massive activation" on the first token only
    acts[1:, 11] *= 10  # the neuron that really varies over the prompt
    indices = encode.top_variable_neurons(acts, 3)
    assert indices[0] == 11 and 3 not in indices.tolist()


def test_float16_saturates_instead_of_overflowing() -> None:
    out = encode.to_float16(np.array([1e6, -1e6, 1.5], dtype=np.float32))
    assert np.all(np.isfinite(out)) and out[0] == encode.FLOAT16_MAX and out[2] == 1.5
