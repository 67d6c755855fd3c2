"""Memory over a long notebook session: widgets that are never closed stay within the recordings' budget,
a dropped recording is rebuilt exactly, and a closed widget is freed (nothing class-level holds it)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
import transformers

import attnwidget
from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.engine.recording import BUDGET, Recording

MIB = 2**20


def resident_mib() -> float:
    """Resident memory of this process after giving freed heap memory back (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / MIB


@pytest.fixture()
def budget() -> Iterator[int]:
    before = attnwidget.memory_budget()
    limit = 48 * MIB
    attnwidget.set_memory_budget(limit)
    yield limit
    attnwidget.set_memory_budget(before)


@pytest.fixture(scope="module")
def extractor(bert_tokenizer: Any) -> AttentionExtractor:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=4, n_head=4, n_embd=256, vocab_size=30522, n_positions=512)
    return AttentionExtractor(model=transformers.GPT2LMHeadModel(config).eval(), tokenizer=bert_tokenizer)


def test_forty_widgets_left_open_stay_within_the_budget(extractor: AttentionExtractor, budget: int) -> None:
    rng = np.random.default_rng(0)
    prompts = [extractor.tokenizer.decode(rng.integers(1000, 20000, 300)) for _ in range(40)]
    first = AttentionWidget(extractor.extract_activations(prompts[0]), layer=3, head=1, neuron_kind="mlp")
    oldest = first.extraction
    recording = oldest.layers.recording
    one_pass = recording.nbytes()
    expected = {
        "map": oldest.attention(3, 1).copy(),
        "layer": oldest.attention(2).copy(),
        "residual": oldest.residual_stream.copy(),
        "mlp": oldest.neuron_activations(1, "mlp").copy(),
        "lens": oldest.logit_lens_arrays(5)[1].copy(),
    }
    gc.collect()
    start = resident_mib()
    widgets = [first]
    for prompt in prompts[1:]:
        w = AttentionWidget(extractor.extract_activations(prompt))
        w.layer, w.neuron_kind = 2, "mlp"  # build caches, as a person clicking around would
        widgets.append(w)
    gc.collect()
    growth = resident_mib() - start
    unbounded = 40 * one_pass / MIB
    assert BUDGET.total() <= budget + one_pass, "the recordings hold no more than the budget (and the one in use)"
    assert growth < 0.4 * unbounded, f"grew {growth:.0f} MiB; keeping every pass would hold {unbounded:.0f} MiB"
    # The oldest was dropped, and answers exactly as before: its pass is run again when it is read.
    assert not recording.is_loaded and recording.runs == 1
    np.testing.assert_array_equal(oldest.attention(3, 1), expected["map"])
    np.testing.assert_array_equal(oldest.attention(2), expected["layer"])
    np.testing.assert_array_equal(oldest.residual_stream, expected["residual"])
    np.testing.assert_array_equal(oldest.neuron_activations(1, "mlp"), expected["mlp"])
    np.testing.assert_array_equal(oldest.logit_lens_arrays(5)[1], expected["lens"])
    assert recording.runs == 2
    first.layer = 1  # its widget still follows a click
    assert first._attention_map["info"]["layer"] == 1 and first._neurons["info"]["layer"] == 1
    for w in widgets:
        w.close()


def test_a_closed_widget_is_freed(extractor: AttentionExtractor) -> None:
    w = AttentionWidget(extractor.extract_activations("the cat sat on the mat"))
    ref = weakref.ref(w)
    recording = weakref.ref(w.extraction.layers.recording)
    w.close()
    del w
    extractor._recent.clear()
    gc.collect()
    assert ref() is None, "nothing keeps a closed widget alive (anywidget's file watcher once did)"
    assert recording() is None
    assert all(r() is not None for r in [weakref.ref(x) for x in BUDGET.recordings()])


def test_the_budget_is_validated_and_applied_at_once() -> None:
    before = attnwidget.memory_budget()
    for bad in (-1, 1.5, "1 GiB", True):
        with pytest.raises(ValueError, match="must be a non-negative int"):
            attnwidget.set_memory_budget(bad)  # type: ignore[arg-type]
    assert attnwidget.memory_budget() == before
    runs: list[int] = []
    recordings = [Recording(lambda: _fake_pass(runs)) for _ in range(3)]
    for recording in recordings:
        recording.get()
    try:
        attnwidget.set_memory_budget(0)
        assert [r.is_loaded for r in recordings] == [False, False, True], "only the most recent one stays"
    finally:
        attnwidget.set_memory_budget(before)


def _fake_pass(runs: list[int]) -> Any:
    from attnwidget.engine.recording import RecordedPass

    runs.append(1)
    return RecordedPass(residual=torch.zeros(1, 2, 3, 4), block_calls=[], final_hidden=None)


def test_hot_reload_follows_the_bundle_without_holding_the_widget(
    extractor: AttentionExtractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from attnwidget.widgets.base import STATIC

    monkeypatch.setenv("ANYWIDGET_HMR", "1")
    w = AttentionWidget(extractor.extract_activations("hot reload"))
    css = STATIC / "widget.css"
    original = css.read_text(encoding="utf-8")
    try:
        time.sleep(0.5)  # the watcher thread starts
        css.write_text(original + "\n/* edited */\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while "/* edited */" not in w._css and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "/* edited */" in w._css, "the widget's CSS follows the file"
    finally:
        css.write_text(original, encoding="utf-8")
    ref = weakref.ref(w)
    w.close()
    del w
    extractor._recent.clear()
    gc.collect()
    assert ref() is None


def test_the_count_of_a_widget_builds_caches_stays_exact(extractor: AttentionExtractor) -> None:
    """Caches filled a layer at a time are counted by what each layer adds (`Recording.grow`): the count
    after a widget build equals the bytes the caches hold, walked whole."""
    from attnwidget.engine.recording import nbytes

    result = extractor.extract_activations("The count grows one layer at a time, and stays right.")
    AttentionWidget(result)
    recording = result.layers.recording
    recording.get()
    assert recording.caches, "the widget build kept nothing"
    walked = nbytes(recording.get()) + sum(nbytes(value) for value in recording.caches.values())
    assert recording.nbytes() == walked
