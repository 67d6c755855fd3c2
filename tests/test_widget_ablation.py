"""AttentionWidget's Ablate tab: `ablated`, `ablation_mode`, `compute_head_effects` and what they send
(`_ablation`, `_head_effects`), checked against full forward passes of an edited copy of the model (the
heads' output-projection columns zeroed) and against the Extraction's own `ablate` / `head_effects`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import traitlets

from attnwidget import AttentionExtractor, AttentionWidget, Extraction
from attnwidget.engine import interventions
from attnwidget.engine.tokens import visible_text
from attnwidget.widgets import ablation, encode
from tests.test_attribution import perturbed
from tests.test_interventions import edited_logprobs

PROMPT = "the cat sat on the mat and the cat sat on the"
ATOL = 1e-4


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=perturbed(request.param), tokenizer=bert_tokenizer
    )


@pytest.fixture(scope="module")
def result(extractor: AttentionExtractor) -> Extraction:
    return extractor.extract_activations(PROMPT)


def rows(w: AttentionWidget) -> dict[int, tuple[float, float]]:
    """`_ablation`'s rows by token id: (log p before, log p after), by the layout the views read."""
    assert len(w._ablation["tokens"]) == len(w._ablation["info"]["ids"])
    return ablation.decode_ablation(w._ablation)["rows"]  # type: ignore[no-any-return]


def delta_and_kl(w: AttentionWidget) -> tuple[float, float]:
    shown = ablation.decode_ablation(w._ablation)
    before, after = shown["target"]
    return after - before, shown["kl"]


def head_effects_values(w: AttentionWidget) -> np.ndarray:
    info = w._head_effects["info"]
    return encode.decode_float32(w._head_effects["data"], (info["layers"], info["heads"]))


# ---- the predictions before → after ------------------------------------------------------------------------
def test_ablated_heads_change_the_predictions_as_an_edited_model_does(
    extractor: AttentionExtractor, result: Extraction
) -> None:
    w = AttentionWidget(result)
    assert w.ablated == [] and w.ablation_mode == "zero"
    info = w._ablation["info"]
    assert info["heads"] == [] and delta_and_kl(w) == (0.0, 0.0)
    assert all(before == after for before, after in rows(w).values())

    heads = [[1, 0], [0, 2], [1, 3]]
    w.ablated = heads
    last = result.seq_len - 1
    want = edited_logprobs(extractor, PROMPT, [tuple(h) for h in heads], [])[last]
    info = w._ablation["info"]
    assert info["heads"] == heads and info["mode"] == "zero" and info["position"] == last
    for token, (_before, after) in rows(w).items():
        assert after == pytest.approx(want[token], abs=ATOL)
    # The top five after the ablation are rows, and so is the target (the model's own prediction).
    top_after = np.argsort(-want)[:5]
    assert set(int(t) for t in top_after) <= set(info["ids"])
    assert info["target_id"] in info["ids"] and info["target"] == visible_text(result.top_predictions(last)[0][0])
    assert info["target_id"] == info["ids"][0]  # the model's prediction is the most likely before
    effect = result.ablate(heads=[tuple(h) for h in heads]).effect(last)
    delta, kl = delta_and_kl(w)
    assert delta == pytest.approx(effect["delta"], abs=1e-5)
    assert kl == pytest.approx(effect["kl"], rel=1e-5, abs=1e-7)
    assert rows(w)[info["target_id"]][1] == pytest.approx(want[info["target_id"]], abs=ATOL)
    # Rows are the most likely before first.
    befores = [rows(w)[token][0] for token in info["ids"]]
    assert befores == sorted(befores, reverse=True)


def test_the_pinned_token_target_and_mode_are_followed(extractor: AttentionExtractor, result: Extraction) -> None:
    w = AttentionWidget(result, ablated=[[1, 1]])
    w.token = 4
    info = w._ablation["info"]
    assert info["position"] == 4
    want = edited_logprobs(extractor, PROMPT, [(1, 1)], [])[4]
    assert all(after == pytest.approx(want[t], abs=ATOL) for t, (_b, after) in rows(w).items())

    token = "mat"  # one token of the tiny models' vocabulary, rarely their prediction
    w.target = token
    info = w._ablation["info"]
    assert info["target"] == visible_text(token) and info["target_id"] in info["ids"]
    assert rows(w)[info["target_id"]][1] == pytest.approx(want[info["target_id"]], abs=ATOL)

    w.ablation_mode = "mean"
    effect = result.ablate(heads=[(1, 1)], mode="mean").effect(4, info["target_id"])
    assert w._ablation["info"]["mode"] == "mean"
    assert delta_and_kl(w)[0] == pytest.approx(effect["delta"], abs=1e-5)


def test_ablated_is_checked_and_normalised(result: Extraction) -> None:
    w = AttentionWidget(result)
    w.ablated = ((1, 1), [0, 3], [1, 1])  # tuples accepted; each head once, in the order given
    assert w.ablated == [[1, 1], [0, 3]]
    shown = dict(w._ablation)
    layers, heads = result.num_layers, result.num_heads
    for bad in ([[layers, 0]], [[0, heads]], [[-1, 0]], [[0.5, 1]], [[True, 0]], [[1, 2, 3]], "L1H2", 3, [5]):
        with pytest.raises(traitlets.TraitError) as error:
            w.ablated = bad
        message = str(error.value)
        assert "\n" not in message
        assert message.startswith(
            f"ablated must be a list of [layer, head] pairs with layer in 0..{layers - 1} and head in 0..{heads - 1}"
        )
        assert w.ablated == [[1, 1], [0, 3]] and w._ablation == shown
    with pytest.raises(traitlets.TraitError, match=r"ablation_mode must be one of 'zero', 'mean', got 'half'"):
        w.ablation_mode = "half"
    with pytest.raises(traitlets.TraitError, match="ablated must be"):
        AttentionWidget(result, ablated=[[99, 0]])


def test_an_encoder_says_why_it_has_nothing_to_ablate(bert_tokenizer: Any) -> None:
    from tests.tiny_models import tiny_model

    extractor = AttentionExtractor(model_name="tiny-bert", model=tiny_model("bert"), tokenizer=bert_tokenizer)
    w = AttentionWidget(extractor.extract_activations("the cat sat"), ablated=[[0, 1]])
    assert "not a causal language model" in w._ablation["info"]["unavailable"]
    assert w._ablation["data"] == b""
    assert "not a causal language model" in w._head_effects["info"]["unavailable"]
    with pytest.raises(ValueError, match="not a causal language model"):
        w.compute_head_effects()
    assert w.panel not in ("effects", "ablation")  # it opens on a tab with something to show


# ---- every head alone ----------------------------------------------------------------------------------------
def test_head_effects_are_the_engines_and_arrive_layer_by_layer(result: Extraction) -> None:
    w = AttentionWidget(result, token=6)
    assert w._head_effects["info"]["state"] == "none" and w._head_effects["data"] == b""
    seen: list[tuple[str, int, int]] = []

    def watch(change: dict[str, Any]) -> None:
        info, data = change["new"]["info"], change["new"]["data"]
        values = encode.decode_float32(data, (info["layers"] * info["heads"],)) if data else np.zeros(0)
        seen.append((info["state"], info["done"], int(np.isfinite(values).sum())))

    w.observe(watch, names="_head_effects")
    values = w.compute_head_effects()
    want = result.head_effects(position=6, progress=False)
    np.testing.assert_allclose(values, want, atol=1e-6)
    np.testing.assert_allclose(head_effects_values(w), want, atol=1e-6)
    # Each single entry is the single ablation's Δ (the engine's own promise, held here too).
    delta = result.ablate(heads=[(1, 2)]).effect(6)["delta"]
    assert head_effects_values(w)[1, 2] == pytest.approx(delta, abs=1e-5)
    layers, heads = result.num_layers, result.num_heads
    assert seen[0] == ("running", 0, 0)
    assert [done for _state, done, _n in seen] == list(range(layers + 1))
    assert [n for _state, _done, n in seen] == [done * heads for done in range(layers + 1)]
    assert seen[-1][0] == "done"
    info = w._head_effects["info"]
    predicted = visible_text(result.top_predictions(6)[0][0])
    assert (info["position"], info["mode"], info["target"]) == (6, "zero", predicted)

    # Another token: nothing computed there yet; back: kept, and a second call costs nothing.
    w.token = 2
    assert w._head_effects["info"]["state"] == "none"
    w.token = 6
    assert w._head_effects["info"]["state"] == "done"
    assert seen[-2:] == [("none", 0, 0), ("done", layers, layers * heads)]
    calls = len(seen)
    np.testing.assert_array_equal(w.compute_head_effects(), values)
    assert len(seen) == calls  # kept: nothing computed, nothing sent


def test_the_views_button_computes_them(result: Extraction) -> None:
    w = AttentionWidget(result, head_score="ablation", ablation_mode="mean")
    w._handle_custom_msg({"kind": "head_effects"}, [])  # what the Ablate tab's button sends
    assert w._head_effects["info"]["state"] == "done"
    want = result.head_effects(progress=False, mode="mean")
    np.testing.assert_allclose(head_effects_values(w), want, atol=1e-6)


def test_an_interrupt_keeps_the_layers_done(result: Extraction, monkeypatch: pytest.MonkeyPatch) -> None:
    real = interventions.iter_head_effects
    want = result.head_effects(progress=False)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        for index, item in enumerate(real(*args, **kwargs)):
            if index == 1:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(interventions, "iter_head_effects", interrupted)
    w = AttentionWidget(result)
    with pytest.raises(KeyboardInterrupt):
        w.compute_head_effects()
    info = w._head_effects["info"]
    assert (info["state"], info["done"]) == ("stopped", 1)
    values = head_effects_values(w)
    np.testing.assert_allclose(values[0], want[0], atol=1e-6)
    assert np.isnan(values[1:]).all()
    # From the views, an interrupt is logged, not raised; a new click goes on from the start.
    w._handle_custom_msg({"kind": "head_effects"}, [])
    assert w._head_effects["info"]["state"] == "stopped"
    monkeypatch.setattr(interventions, "iter_head_effects", real)
    w._handle_custom_msg({"kind": "head_effects"}, [])
    assert w._head_effects["info"]["state"] == "done"


def test_the_wire_layout_is_what_ablation_py_says(result: Extraction) -> None:
    w = AttentionWidget(result, ablated=[[0, 0]])
    assert set(w._ablation["info"]) == {"position", "target", "target_id", "heads", "mode", "ids", "unavailable"}
    assert len(w._ablation["data"]) == 4 * (1 + 2 * len(w._ablation["info"]["ids"]))
    assert set(w._head_effects["info"]) == {
        "position", "target", "target_id", "mode", "layers", "heads", "done", "state", "unavailable",
    }  # fmt: skip
    assert ablation.PREDICTIONS_K == 5
