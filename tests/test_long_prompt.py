"""Long prompts: the heatmap's zoom window (`map_window` → `_map_window`), its encoding and validation."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import traitlets

import attnwidget
from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.analysis.pooling import pool_edges
from attnwidget.widgets import encode
from attnwidget.widgets.attention import check_window

MIB = 2**20


@pytest.fixture(scope="module")
def gpt2(long_gpt2: AttentionExtractor) -> AttentionExtractor:
    return long_gpt2


@pytest.fixture(scope="module")
def short(gpt2: AttentionExtractor) -> attnwidget.Extraction:
    return gpt2.extract_activations("the cat sat on the mat and the dog looked at the cat")


@pytest.fixture(scope="module")
def long(gpt2: AttentionExtractor) -> attnwidget.Extraction:
    result = gpt2.extract_activations(gpt2.tokenizer.decode(list(range(1000, 2300))))
    assert result.seq_len > encode.MAP_MAX_SIZE
    return result


def random_map(seq: int, causal: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(seq, seq)).astype(np.float32) * 3
    if causal:
        scores[np.triu_indices(seq, 1)] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


# ---- encode ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("causal", [True, False])
def test_window_round_trip_is_the_exact_slice(causal: bool) -> None:
    weights = random_map(300, causal)
    encoded = encode.encode_attention_window(weights, (40, 104, 7, 71))
    assert encoded["info"] == {
        "dtype": "float16", "layout": "full", "q0": 40, "q1": 104, "k0": 7, "k1": 71,
        "rows": 64, "cols": 64, "seq_len": 300, "pooled": False,
    }  # fmt: skip
    back = encode.decode_attention_window(encoded)
    np.testing.assert_array_equal(back, weights[40:104, 7:71].astype(np.float16).astype(np.float32))


def test_window_is_rectangular_and_pooled_above_the_limit() -> None:
    weights = random_map(300, True, seed=1)
    encoded = encode.encode_attention_window(weights, (0, 300, 100, 150), max_side=128)
    info = encoded["info"]
    assert (info["rows"], info["cols"], info["pooled"]) == (128, 50, True)
    assert len(encoded["data"]) == 128 * 50 * 2
    edges = pool_edges(300, 128)
    expected = np.stack([weights[a:b, 100:150].max(axis=0) for a, b in itertools.pairwise(edges)])
    np.testing.assert_array_equal(encode.decode_attention_window(encoded), expected.astype(np.float16))


def test_largest_window_fits_a_message() -> None:
    side = encode.MAP_MAX_SIZE + 200
    weights = np.full((side, side), 1 / side, dtype=np.float32)
    encoded = encode.encode_attention_window(weights, (0, side, 0, side))
    assert encoded["info"]["rows"] == encoded["info"]["cols"] == encode.MAP_MAX_SIZE
    assert len(encoded["data"]) == encode.MAP_MAX_SIZE**2 * 2 <= encode.MESSAGE_LIMIT


@pytest.mark.parametrize(
    "bad",
    [[0, 10, 0], [0, 10, 0, 10, 5], [0, 0, 0, 10], [5, 3, 0, 10], [0, 10, -1, 4], [0, 101, 0, 10], [0, 10.0, 0, 10],
     [True, 10, 0, 10], "0 10 0 10", 7, {"q0": 0, "q1": 10, "k0": 0}],
)  # fmt: skip
def test_check_window_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="window"):
        check_window(bad, 100)


def test_check_window_accepts() -> None:
    assert check_window([], 100) is None
    assert check_window(None, 100) is None
    assert check_window((0, 100, 99, 100), 100) == (0, 100, 99, 100)
    assert check_window([np.int64(1), 2, 3, 4], 100) == (1, 2, 3, 4)
    assert check_window({"k1": 4, "q0": 1, "q1": 2, "k0": 3}, 100) == (1, 2, 3, 4)


# ---- the widget -------------------------------------------------------------------------------------------
def test_no_window_by_default(short: attnwidget.Extraction) -> None:
    w = AttentionWidget(short)
    assert w.map_window == [] and w._map_window == {}
    state = w.state_for_export()
    assert state["map_window"] == [] and state["_map_window"] == {}


def test_map_window_validation_names_the_range_and_keeps_the_value(short: attnwidget.Extraction) -> None:
    w = AttentionWidget(short)
    w.map_window = [0, 4, 0, 4]
    for bad in ([0, 4, 0], [0, short.seq_len + 1, 0, 4], [3, 3, 0, 4], [0, 4.5, 0, 4], "all", [0, 4, 0, None]):
        with pytest.raises(traitlets.TraitError, match=r"map_window must be .*\[q0, q1, k0, k1\].*got"):
            w.map_window = bad
    assert w.map_window == [0, 4, 0, 4]
    w.map_window = {"q0": 1, "q1": 5, "k0": 0, "k1": 2}
    assert w.map_window == [1, 5, 0, 2]
    w.map_window = []
    assert w._map_window == {}


@pytest.mark.parametrize("fixture", ["short", "long"])
def test_window_round_trip_equals_the_attention_slice(fixture: str, request: pytest.FixtureRequest) -> None:
    result: attnwidget.Extraction = request.getfixturevalue(fixture)
    w = AttentionWidget(result, layer=1, head=2)
    seq = result.seq_len
    q0, q1 = seq - 300 if seq > 300 else 2, seq
    k0, k1 = 0, min(seq, 256)
    w.map_window = [q0, q1, k0, k1]
    info = w._map_window["info"]
    assert (info["layer"], info["head"], info["q0"], info["q1"], info["k0"], info["k1"]) == (1, 2, q0, q1, k0, k1)
    assert info["pooled"] is False
    exact = result.attention(1, 2)[q0:q1, k0:k1]
    back = encode.decode_attention_window(w._map_window)
    np.testing.assert_array_equal(back, exact.astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(back, exact, rtol=1e-3, atol=1e-7)
    # Another head, same window: the window follows the selection.
    w.head = 0
    assert w._map_window["info"]["head"] == 0
    np.testing.assert_allclose(
        encode.decode_attention_window(w._map_window),
        result.attention(1, 0)[q0:q1, k0:k1],
        rtol=1e-3,
        atol=1e-7,
    )
    assert w.encoded_window(1, 0, [q0, q1, k0, k1]) == w._map_window


def test_a_window_wider_than_the_limit_is_pooled(long: attnwidget.Extraction) -> None:
    w = AttentionWidget(long)
    assert w._attention_map["info"]["pooled"] is True
    w.map_window = [0, long.seq_len, 0, long.seq_len]
    info = w._map_window["info"]
    assert info["pooled"] is True and info["rows"] == info["cols"] == encode.MAP_MAX_SIZE
    assert len(w._map_window["data"]) <= encode.MESSAGE_LIMIT
    # The whole map as a window is what the map itself carries (max-pooled the same way).
    overview = encode.decode_attention_map(w._attention_map)
    np.testing.assert_array_equal(encode.decode_attention_window(w._map_window), overview)


def test_front_end_writes_the_window(long: attnwidget.Extraction) -> None:
    w = AttentionWidget(long, layer=0, head=1)
    w.set_state({"map_window": [512, 576, 500, 564]})
    assert w._map_window["info"]["q0"] == 512 and w._map_window["info"]["rows"] == 64
    np.testing.assert_allclose(
        encode.decode_attention_window(w._map_window),
        long.attention(0, 1)[512:576, 500:564],
        rtol=1e-3,
        atol=1e-7,
    )
    with pytest.raises(traitlets.TraitError):
        w.set_state({"map_window": [512, 576, 500, 99999]})
    assert w.map_window == [512, 576, 500, 564]


def test_state_with_a_window_stays_small(long: attnwidget.Extraction) -> None:
    w = AttentionWidget(long)
    w.map_window = [100, 1100, 100, 1100]
    assert len(w._map_window["data"]) <= encode.MESSAGE_LIMIT and len(w._attention_map["data"]) <= encode.MESSAGE_LIMIT
    assert w.state_nbytes() <= 5 * MIB
