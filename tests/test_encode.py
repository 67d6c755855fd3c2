"""attnwidget.widgets.encode (the wire format: every array the views receive, round-tripped back to numpy),
and the pooling and neuron choices it relies on (attnwidget.analysis.pooling, .neurons)."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget.analysis.neurons import most_different_neurons, top_variable_neurons
from attnwidget.analysis.pooling import max_pool, max_pool_2d, pool_edges
from attnwidget.widgets import encode


def random_maps(heads: int, seq: int, causal: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(heads, seq, seq)).astype(np.float32) * 3
    if causal:
        scores = np.where(np.tril(np.ones((seq, seq), dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def naive_max_pool(a: np.ndarray, bins: int) -> np.ndarray:
    edges = pool_edges(a.shape[-1], bins)
    out = np.empty((*a.shape[:-2], bins, bins), dtype=a.dtype)
    for i in range(bins):
        for j in range(bins):
            out[..., i, j] = a[..., edges[i] : edges[i + 1], edges[j] : edges[j + 1]].max(axis=(-1, -2))
    return out


@pytest.mark.parametrize(("length", "bins"), [(10, 4), (1024, 64), (5, 5), (4097, 1024), (7, 1)])
def test_pool_edges_cover_every_position_once(length: int, bins: int) -> None:
    edges = pool_edges(length, bins)
    assert edges[0] == 0 and edges[-1] == length and len(edges) == bins + 1
    assert np.all(np.diff(edges) >= 1)
    assert list(pool_edges(10, 4)) == [0, 2, 5, 7, 10]  # the formula js/decode.ts uses too


def test_pool_edges_rejects_more_bins_than_positions() -> None:
    with pytest.raises(ValueError, match=r"1\.\.5"):
        pool_edges(5, 6)


def test_max_pool_matches_naive_and_keeps_a_diagonal() -> None:
    maps = random_maps(3, 50, causal=True)
    np.testing.assert_array_equal(max_pool(maps, 7), naive_max_pool(maps, 7))
    eye = np.eye(1000, dtype=np.float32)
    np.testing.assert_array_equal(np.diagonal(max_pool(eye, 64)), np.ones(64, dtype=np.float32))
    assert max_pool(maps, 50) is maps


@pytest.mark.parametrize(
    ("shape", "rows", "cols"),
    [
        ((37, 53), 10, 17),  # short bins, uneven (3 or 4 long): gathers
        ((2, 3, 61, 45), 30, 45),  # leading axes, rows only
        ((40, 40), 40, 5),  # columns only, bins of 8
        ((3, 300, 90), 7, 90),  # long bins (42 or 43): reduceat
        ((30, 300), 15, 9),  # short row bins, long column bins: reduceat
    ],
)
def test_max_pool_2d_equals_the_naive_maximum_on_both_paths(shape: tuple[int, ...], rows: int, cols: int) -> None:
    rng = np.random.default_rng(len(shape) + rows)
    values = rng.normal(size=shape).astype(np.float32)
    row_edges, col_edges = pool_edges(shape[-2], rows), pool_edges(shape[-1], cols)
    naive = np.empty((*shape[:-2], rows, cols), dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            block = values[..., row_edges[i] : row_edges[i + 1], col_edges[j] : col_edges[j + 1]]
            naive[..., i, j] = block.max(axis=(-1, -2))
    np.testing.assert_array_equal(max_pool_2d(values, rows, cols), naive)
    # A strided view, a read-only array and float64 give the same maxima.
    np.testing.assert_array_equal(max_pool_2d(np.repeat(values, 2, axis=-1)[..., ::2], rows, cols), naive)
    frozen = values.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(max_pool_2d(frozen, rows, cols), naive)
    np.testing.assert_array_equal(max_pool_2d(values.astype(np.float64), rows, cols), naive.astype(np.float64))


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
    encoded = encode.encode_attention_map(weights, causal)
    data = encoded["data"]
    assert encoded["info"] == {
        "dtype": "float16",
        "size": 37,
        "seq_len": 37,
        "layout": "lower" if causal else "full",
        "pooled": False,
    }
    assert len(data) == 2 * (37 * 38 // 2 if causal else 37 * 37)
    back = encode.decode_attention_map(encoded)
    np.testing.assert_allclose(back, weights, rtol=1e-3, atol=1e-7)
    np.testing.assert_array_equal(back, weights.astype(np.float16).astype(np.float32))


def test_long_attention_map_is_max_pooled_and_fits_a_message() -> None:
    seq = encode.MAP_MAX_SIZE + 300
    weights = np.zeros((seq, seq), dtype=np.float32)
    weights[np.arange(1, seq), np.arange(seq - 1)] = 0.75  # previous-token stripe
    weights[0, 0] = 1
    encoded = encode.encode_attention_map(weights, causal=True)
    info = encoded["info"]
    assert info["size"] == encode.MAP_MAX_SIZE and info["pooled"] is True and info["seq_len"] == seq
    assert len(encoded["data"]) <= encode.MESSAGE_LIMIT
    back = encode.decode_attention_map(encoded)
    np.testing.assert_array_equal(back, naive_max_pool(weights, encode.MAP_MAX_SIZE).astype(np.float16))


def test_attention_map_rejects_non_square() -> None:
    with pytest.raises(ValueError, match="square"):
        encode.encode_attention_map(np.zeros((3, 4), dtype=np.float32), True)


def test_thumbnails_are_companded_max_pools() -> None:
    maps = random_maps(4, 90, causal=True, seed=1)
    side = encode.thumbnail_size(12, 90)
    thumbnails = encode.thumbnails(maps, side)
    assert thumbnails.shape == (4, side, side) and thumbnails.dtype == np.uint8
    decoded = encode.decode_uint8(thumbnails.tobytes(), thumbnails.shape)
    np.testing.assert_array_equal(decoded[2], encode.compand_uint8(naive_max_pool(maps[2], side)))


def test_float32_round_trip_keeps_nan() -> None:
    values = np.array([[0.5, np.nan], [1e-7, 3.0]])
    back = encode.decode_float32(encode.encode_float32(values), values.shape)
    np.testing.assert_array_equal(back, values.astype(np.float32))


def test_neurons_are_the_most_variable_in_order() -> None:
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(20, 50)).astype(np.float32) * np.linspace(0.1, 5, 50, dtype=np.float32)
    acts[:, 7] *= 100
    indices = top_variable_neurons(acts, 5).tolist()
    assert indices[0] == 7
    # Variance over the tokens after the first (the first token is an outlier in most language models).
    assert indices == list(np.argsort(-acts[1:].astype(np.float64).var(axis=0))[:5])
    assert len(top_variable_neurons(acts, 500)) == 50


def test_most_different_neurons_leave_the_first_token_out() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(10, 20)).astype(np.float32)
    b = a.copy()
    b[1:, 4] += 5.0  # neuron 4 differs between the prompts
    a[0, 9] = b[0, 9] + 1e4  # neuron 9 differs on the first token only
    assert most_different_neurons([a, b], 2)[0] == 4 and 9 not in most_different_neurons([a, b], 2)


def test_the_first_tokens_outliers_do_not_choose_the_neurons() -> None:
    rng = np.random.default_rng(2)
    acts = rng.normal(size=(12, 30)).astype(np.float32)
    acts[0, 3] = 1e4  # a "massive activation" on the first token only
    acts[1:, 11] *= 10  # the neuron that really varies over the prompt
    indices = top_variable_neurons(acts, 3)
    assert indices[0] == 11 and 3 not in indices.tolist()


def test_float16_saturates_instead_of_overflowing() -> None:
    out = encode.to_float16(np.array([1e6, -1e6, 1.5], dtype=np.float32))
    assert np.all(np.isfinite(out)) and out[0] == encode.FLOAT16_MAX and out[2] == 1.5
