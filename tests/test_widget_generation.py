"""The widget while the model writes (`show(prompt, generate=N)`): it returns before the text is written,
fills `_generation` token by token from a background thread, stops on request (method, the view's message,
Ctrl-C in `wait`), then shows the recorded pass over prompt + output with every step's attention rows.
Numbers are held to the engine's own (`extractor.generate`, `attention_rows`), which tests/test_generation.py
holds to transformers' `generate`. A tiny random Llama, slowed down by a hook where a test needs time."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
import traitlets

from attnwidget import AttentionExtractor, AttentionWidget, show
from attnwidget.engine.capture import model_lock
from attnwidget.engine.tokens import visible_text
from attnwidget.widgets import generation as writing
from tests.test_generation import sharp
from tests.test_widget import floats_in

PROMPT = "the cat sat on the mat and the cat"
STEPS = 10


@pytest.fixture(scope="module")
def extractor(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-llama", model=sharp("llama"), tokenizer=bert_tokenizer)


@pytest.fixture(scope="module")
def reference(extractor: AttentionExtractor) -> Any:
    """What `extractor.generate` makes of the prompt, without a widget."""
    return extractor.generate(PROMPT, max_new_tokens=STEPS, stop_at_eos=False)


@pytest.fixture
def slow(extractor: AttentionExtractor) -> Iterator[list[int]]:
    """Each generation step takes at least 40 ms (a hook on the model's own forward: the recorded pass and
    the replays call its body and blocks, so only generation steps wait). Yields the count of steps run."""
    calls: list[int] = []

    def wait(_module: Any, _args: Any) -> None:
        calls.append(1)
        time.sleep(0.04)

    handle = extractor.model.register_forward_pre_hook(wait)
    yield calls
    handle.remove()


def written(widget: AttentionWidget) -> int:
    return int(widget._generation["info"]["steps"])


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_widget_returns_before_the_text_and_fills_in(
    extractor: AttentionExtractor, reference: Any, slow: Any
) -> None:
    widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
    assert widget.generating and written(widget) < STEPS
    assert widget.panel == "generation" and "generation" in widget.views
    assert widget.extraction.seq_len == reference.prompt_length  # the prompt's pass, while writing
    assert widget._generation["info"]["running"] and not widget._generation["info"]["recorded"]
    assert widget._step_rows["info"]["count"] == 0
    seen = set()
    while widget.generating:
        seen.add(written(widget))
        time.sleep(0.005)
    assert len(seen) >= 3  # the steps arrived one by one
    result = widget.wait()
    assert result is widget.extraction
    assert result.generated_ids.tolist() == reference.generated_ids.tolist()
    assert widget._info["seq_len"] == reference.seq_len == len(widget._tokens)
    info = widget._generation["info"]
    assert (info["steps"], info["running"], info["recorded"], info["stop_reason"]) == (STEPS, False, True, "length")
    assert widget._generation["tokens"] == [visible_text(text) for text in reference.generated_tokens]


def test_generation_numbers_are_the_engines(extractor: AttentionExtractor, reference: Any) -> None:
    widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
    result = widget.wait()
    encoded = widget._generation
    k = encoded["info"]["k"]
    values = np.frombuffer(encoded["data"], dtype="<f4")
    np.testing.assert_allclose(values[:STEPS], reference.step_probs, rtol=1e-6)
    np.testing.assert_allclose(values[STEPS : 2 * STEPS], reference.step_entropy, rtol=1e-6)
    alternatives = values[2 * STEPS :].reshape(STEPS, k)
    for step in range(STEPS):
        expected = reference.step_alternatives(step, k)
        np.testing.assert_allclose(alternatives[step, : len(expected)], [p for _, p in expected], rtol=1e-6)
        assert len(encoded["alternatives"][step]) == len(expected)
    # Every step's rows: the attention row of the position that chose the token, float16 on the wire.
    rows = writing.decode_step_rows(widget._step_rows)
    assert sorted(rows) == list(range(STEPS))
    for step, got in rows.items():
        position = result.step_position(step)
        want = result.attention_rows(position)[:, :, : position + 1]
        np.testing.assert_allclose(got, want, atol=1e-3)
        np.testing.assert_allclose(got, reference.attention_rows(position)[:, :, : position + 1], atol=1e-3)


def test_step_pins_the_position_that_chose_it_and_back(extractor: AttentionExtractor) -> None:
    widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
    result = widget.wait()
    prompt_length = result.prompt_length
    widget.step = 3
    assert widget.token == prompt_length + 2 == result.step_position(3)
    assert widget._lens["info"]["position"] == widget.token
    assert widget._effects["info"]["position"] == widget.token
    widget.token = prompt_length + 5
    assert widget.step == 6
    widget.token = 1  # a prompt position that chose no generated token
    assert widget.step == -1
    widget.step = 0
    assert widget.token == prompt_length - 1
    widget.step = -1  # leaving the step unpins its position
    assert widget.token == -1
    with pytest.raises(traitlets.TraitError, match=rf"step must be an int in -1\.\.{STEPS - 1}"):
        widget.step = STEPS


def test_stop_keeps_what_was_written(extractor: AttentionExtractor, slow: Any) -> None:
    widget = show(PROMPT, extractor, generate=40, stop_at_eos=False)
    wait_for(lambda: written(widget) >= 3)
    widget._handle_stop_message(widget, {"kind": "stop_generation"}, [])  # the view's stop button
    result = widget.wait()
    assert not widget.generating
    assert result.stop_reason == "stopped" and 3 <= len(result.generated_ids) < 40
    assert widget._generation["info"]["stop_reason"] == "stopped"
    assert widget._generation["info"]["steps"] == len(result.generated_ids)
    assert widget._info["seq_len"] == result.seq_len == result.prompt_length + len(result.generated_ids)


def test_ctrl_c_in_wait_stops_and_keeps_the_text(extractor: AttentionExtractor, slow: Any) -> None:
    # Python's own Ctrl-C handler, whatever this process inherited: a pytest started in the background by a
    # shell without job control has SIGINT ignored, and then interrupt_main does nothing (this failed so).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        widget = show(PROMPT, extractor, generate=40, stop_at_eos=False)
        wait_for(lambda: written(widget) >= 2)
        timer = threading.Timer(0.1, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            widget.wait()
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not widget.generating
    assert 2 <= len(widget.extraction.generated_ids) < 40
    assert widget.wait() is widget.extraction  # done: returns at once


def test_wait_timeout(extractor: AttentionExtractor, slow: Any) -> None:
    widget = show(PROMPT, extractor, generate=40, stop_at_eos=False)
    with pytest.raises(TimeoutError, match="still runs"):
        widget.wait(timeout=0.05)
    widget.stop_generation()
    widget.wait()
    with pytest.raises(ValueError, match="timeout must be a non-negative number"):
        widget.wait(timeout=-1)


def test_the_views_can_be_used_while_the_model_writes(extractor: AttentionExtractor, reference: Any, slow: Any) -> None:
    """Replays and ablations in this thread while the writing thread runs the model: the model lock keeps their
    hooks apart, so the text and every number are what each computes alone."""
    widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
    prompt_only = extractor.extract_activations(PROMPT)
    maps = []
    while widget.generating:
        layer, head = len(maps) % 2, len(maps) % 4
        widget.apply({"layer": layer, "head": head, "ablated": [[layer, head]]})
        maps.append((layer, head, widget.extraction.attention(layer, head), widget.extraction.seq_len))
    widget.wait()
    assert len(maps) > 3
    assert widget.extraction.generated_ids.tolist() == reference.generated_ids.tolist()
    for layer, head, values, seq_len in maps:
        source = prompt_only if seq_len == prompt_only.seq_len else widget.extraction
        np.testing.assert_allclose(values, source.attention(layer, head), atol=1e-6)


def test_every_run_of_the_model_holds_its_lock(extractor: AttentionExtractor) -> None:
    """What makes the above safe, checked where a race would rarely show: whenever a block of the model runs
    (generation step, recorded pass, replay, ablation, attribution), the thread running it holds the model's
    lock, so no other thread's hooks can be on the model meanwhile."""
    lock = model_lock(extractor.model)
    unlocked: list[str] = []

    def check(module: Any, _args: Any) -> None:
        if not lock._is_owned():  # type: ignore[attr-defined]
            unlocked.append(threading.current_thread().name)

    blocks = extractor.model.model.layers
    handles = [block.register_forward_pre_hook(check) for block in blocks]
    try:
        widget = show(PROMPT + " again", extractor, generate=4, stop_at_eos=False)
        result = widget.wait()
        widget.apply({"ablated": [[1, 1]], "layer": 1, "head": 2})
        result.logit_attribution(result.seq_len - 1)
        result.head_effects(result.seq_len - 2)
        result.attention_rows(result.step_position(1))
        result.neuron_activations(1, "mlp")
    finally:
        for handle in handles:
            handle.remove()
    assert unlocked == []


def test_an_error_while_writing_is_shown_and_raised_by_wait(extractor: AttentionExtractor) -> None:
    calls: list[int] = []

    def fail_on_the_fourth(_module: Any, _args: Any) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("out of memory (test)")

    handle = extractor.model.register_forward_pre_hook(fail_on_the_fourth)
    try:
        widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
        with pytest.raises(RuntimeError, match="the generation failed: RuntimeError: out of memory"):
            widget.wait()
    finally:
        handle.remove()
    assert not widget.generating
    assert "out of memory (test)" in widget._generation["info"]["error"]
    assert len(widget.extraction.generated_ids) == 3  # what was written is shown
    assert widget._generation["info"]["stop_reason"] == "error"


def test_an_error_before_the_first_token_leaves_the_prompt(extractor: AttentionExtractor) -> None:
    def fail(_module: Any, _args: Any) -> None:
        raise RuntimeError("no memory (test)")

    handle = extractor.model.register_forward_pre_hook(fail)
    try:
        widget = show(PROMPT, extractor, generate=STEPS, stop_at_eos=False)
        with pytest.raises(RuntimeError, match="the generation failed"):
            widget.wait()
    finally:
        handle.remove()
    info = widget._generation["info"]
    assert not widget.generating and not info["running"] and info["steps"] == 0
    assert info["stop_reason"] == "error" and "no memory (test)" in info["error"]
    assert widget.extraction.seq_len == widget._info["seq_len"]  # the prompt's pass, still shown


def test_a_generated_extraction_shows_its_generation(reference: Any) -> None:
    widget = AttentionWidget(reference, step=2)
    assert widget.panel == "generation" and not widget.generating
    assert widget.token == reference.step_position(2)
    assert widget._step_rows["info"]["count"] == STEPS
    assert widget.state_nbytes() < 3 * 2**20


def test_without_a_generation_there_is_no_generation_tab(extractor: AttentionExtractor) -> None:
    widget = AttentionWidget(extractor.extract_activations(PROMPT))
    assert "generation" not in widget.views and widget.panel != "generation"
    assert widget._generation["info"]["steps"] == 0 and widget.wait() is widget.extraction
    with pytest.raises(traitlets.TraitError, match=r"step must be an int in -1\.\.-1"):
        widget.step = 0
    shown = AttentionWidget(widget.extraction, views=["token-strip", "generation"])
    assert shown.panel == "generation"  # asked for: it says how to get a generation


def test_rows_beyond_the_budget_come_per_step(reference: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writing, "STEP_ROWS_BUDGET", 100)
    widget = AttentionWidget(reference)
    assert widget._step_rows["info"]["count"] == 0
    widget.step = 4
    info = widget._step_rows["info"]
    assert (info["first"], info["count"]) == (4, 1)
    got = writing.decode_step_rows(widget._step_rows)[4]
    position = reference.step_position(4)
    np.testing.assert_allclose(got, reference.attention_rows(position)[:, :, : position + 1], atol=1e-3)


def test_bad_generation_input(extractor: AttentionExtractor, bert_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="max_new_tokens must be an int of at least 1, got 0"):
        show(PROMPT, extractor, generate=0)
    with pytest.raises(ValueError, match="temperature apply only with generate=N"):
        show(PROMPT, extractor, temperature=0.5)
    with pytest.raises(ValueError, match="top_p must be in"):
        show(PROMPT, extractor, generate=3, do_sample=True, top_p=1.5)
    with pytest.raises(TypeError, match="generation must be a Generation"):
        AttentionWidget(extractor.extract_activations(PROMPT), generation="soon")  # type: ignore[arg-type]
    other = extractor.iter_generate("a different prompt of other length entirely", 3)
    with pytest.raises(ValueError, match="generation must continue this extraction's prompt"):
        AttentionWidget(extractor.extract_activations(PROMPT), generation=other)
    from tests.tiny_models import tiny_model

    encoder = AttentionExtractor(model_name="tiny-bert", model=tiny_model("bert"), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match="generation needs a causal language model"):
        show(PROMPT, encoder, generate=3)


def test_sampled_widget_generation_is_reproducible(extractor: AttentionExtractor) -> None:
    widget = show(PROMPT, extractor, generate=6, do_sample=True, temperature=0.7, top_p=0.9, seed=7, stop_at_eos=False)
    first = widget.wait()
    assert widget._generation["info"]["sampling"] == "sampled · temperature 0.7 · top-p 0.9 · seed 7"
    assert floats_in(widget.state_for_export()) == []  # numbers travel as bytes, settings as text
    again = extractor.generate(
        PROMPT, max_new_tokens=6, do_sample=True, temperature=0.7, top_p=0.9, seed=7, stop_at_eos=False
    )
    assert first.generated_ids.tolist() == again.generated_ids.tolist()
    torch.testing.assert_close(torch.from_numpy(first.step_probs), torch.from_numpy(again.step_probs))
