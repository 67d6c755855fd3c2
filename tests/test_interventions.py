"""Ablation, patching and head effects against independent references: full forward passes of a deep copy of
the model whose output-projection columns (or MLP output column) are zeroed, and plain forward passes with
hooks that replace slices of the output projections' inputs (the heads' outputs before projection)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from attnwidget import AttentionExtractor, Extraction, Intervention
from attnwidget.engine import interventions
from tests.test_attribution import perturbed
from tests.tiny_models import VOCAB, tiny_model

PROMPT = "the cat sat on the mat and the cat sat on the"
OTHER = "a dog ran in the park and the dog ran in the"  # as many tokens as PROMPT
SHORT = "the dog ran to the"
ATOL = 1e-4


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(
        model_name=f"tiny-{request.param}", model=perturbed(request.param), tokenizer=bert_tokenizer
    )


# ---- the references -----------------------------------------------------------------------------------
def blocks(model: Any) -> Any:
    return model.transformer.h if model.config.model_type == "gpt2" else model.model.layers


def out_projection(model: Any, layer: int) -> Any:
    block = blocks(model)[layer]
    return block.attn.c_proj if model.config.model_type == "gpt2" else block.self_attn.o_proj


def mlp_projection(model: Any, layer: int) -> Any:
    block = blocks(model)[layer]
    return block.mlp.c_proj if model.config.model_type == "gpt2" else block.mlp.down_proj


def head_dim(model: Any) -> int:
    return int(model.config.hidden_size // model.config.num_attention_heads)


def zero_input_columns(projection: Any, columns: slice) -> None:
    """Zero the weight columns that read input `columns` (GPT-2's Conv1D stores the weight as [in, out])."""
    with torch.no_grad():
        if type(projection).__name__ == "Conv1D":
            projection.weight[columns, :] = 0
        else:
            projection.weight[:, columns] = 0


def edited_logprobs(extractor: AttentionExtractor, prompt: str, heads: list[Any], neurons: list[Any]) -> np.ndarray:
    """log-softmax of a full forward of a deep copy whose heads' and neurons' projection columns are zero."""
    model = copy.deepcopy(extractor.model)
    dim = head_dim(model)
    for layer, head in heads:
        zero_input_columns(out_projection(model, layer), slice(head * dim, (head + 1) * dim))
    for layer, neuron in neurons:
        zero_input_columns(mlp_projection(model, layer), slice(neuron, neuron + 1))
    ids = torch.tensor([extractor.tokenizer(prompt)["input_ids"]])
    with torch.no_grad():
        logits = model(ids).logits[0].double()
    return torch.log_softmax(logits, dim=-1).numpy()  # type: ignore[no-any-return]


def hooked_run(
    model: Any, ids: list[int], replace: dict[Any, Callable[[torch.Tensor], torch.Tensor]] | None = None
) -> tuple[np.ndarray, dict[Any, torch.Tensor]]:
    """A plain forward with pre-hooks: every projection in `replace` gets `replace[p](its input)`; also
    returns every hooked projection's (original) input."""
    seen: dict[Any, torch.Tensor] = {}
    handles = []
    for projection, change in (replace or {}).items():

        def hook(module: Any, args: tuple[Any, ...], change: Any = change) -> tuple[Any, ...]:
            seen[module] = args[0][0].clone()
            return (change(args[0].clone()), *args[1:])

        handles.append(projection.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
    finally:
        for handle in handles:
            handle.remove()
    return torch.log_softmax(logits, dim=-1).numpy(), seen


def capture_inputs(model: Any, ids: list[int], projections: list[Any]) -> dict[Any, torch.Tensor]:
    return hooked_run(model, ids, {p: (lambda x: x) for p in projections})[1]


def all_logprobs(intervention: Intervention, length: int) -> np.ndarray:
    return np.stack([intervention.logprobs(p) for p in range(length)]).astype(np.float64)


def snapshot(extractor: AttentionExtractor, result: Extraction) -> dict[str, Any]:
    return {
        "state": {k: v.clone() for k, v in extractor.model.state_dict().items()},
        "residual": result.residual_stream.copy(),
        "final": np.array(result.final_hidden),
        "top": result.top_predictions(-1),
    }


def assert_unchanged(extractor: AttentionExtractor, result: Extraction, before: dict[str, Any]) -> None:
    state = extractor.model.state_dict()
    assert state.keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(state[key], value), key
    np.testing.assert_array_equal(result.residual_stream, before["residual"])
    np.testing.assert_array_equal(result.final_hidden, before["final"])
    assert result.top_predictions(-1) == before["top"]
    for module in extractor.model.modules():
        assert not module._forward_pre_hooks and not module._forward_hooks, f"a hook is left on {module}"


# ---- ablation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("heads", "neurons"),
    [([(1, 2)], []), ([(0, 0), (0, 3), (1, 1)], []), ([], [(0, 5), (1, 17)]), ([(0, 1)], [(1, 3)]), ([(-1, -1)], [])],
)
def test_zero_ablation_equals_an_edited_model(
    extractor: AttentionExtractor, heads: list[Any], neurons: list[Any]
) -> None:
    result = extractor.extract_activations(PROMPT)
    before = snapshot(extractor, result)
    ablated = result.ablate(heads=heads, neurons=neurons)
    assert isinstance(ablated, Intervention)
    normalised = [(layer % 2, head % result.num_heads) for layer, head in heads]
    expected = edited_logprobs(extractor, PROMPT, normalised, neurons)
    got = all_logprobs(ablated, result.seq_len)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    # and it changed something: a no-op would not pass the reference on a perturbed model
    unablated = edited_logprobs(extractor, PROMPT, [], [])
    assert np.abs(expected - unablated).max() > 10 * ATOL
    assert_unchanged(extractor, result, before)


def test_logprobs_top_predictions_and_effect(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    ablated = result.ablate(heads=[(1, 0), (1, 1)])
    row = ablated.logprobs(-1)
    assert row.dtype == np.float32 and row.shape == (VOCAB,)
    assert np.exp(row.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-4)
    top = ablated.top_predictions(-1, k=3)
    assert len(top) == 3 and all(isinstance(t, str) and isinstance(p, float) for t, p in top)
    order = np.argsort(-row)[:3]
    assert [p for _, p in top] == pytest.approx(np.exp(row[order]).tolist(), rel=1e-5)
    assert ablated.top_predictions(-1, k=5)[0] == top[0]
    # unablated: the same format and numbers as Extraction.top_predictions
    plain = result.ablate()
    assert [t for t, _ in plain.top_predictions(4, k=extractor.top_k)] == [t for t, _ in result.top_predictions(4)]

    effect = ablated.effect()
    assert set(effect) == {"target", "logprob_before", "logprob_after", "delta", "kl"}
    assert effect["target"] == result.top_predictions(-1)[0][0]
    target_id = int(result.top_token_ids[-1, 0])  # type: ignore[index]
    expected = edited_logprobs(extractor, PROMPT, [(1, 0), (1, 1)], [])[-1]
    clean = edited_logprobs(extractor, PROMPT, [], [])[-1]
    assert effect["logprob_after"] == pytest.approx(expected[target_id], abs=ATOL)
    assert effect["logprob_before"] == pytest.approx(clean[target_id], abs=ATOL)
    assert effect["delta"] == pytest.approx(effect["logprob_after"] - effect["logprob_before"], abs=1e-9)
    kl = float(np.sum(np.exp(clean) * (clean - expected)))
    assert effect["kl"] == pytest.approx(kl, abs=ATOL) and effect["kl"] > 0
    # a named target, by id or text
    other = ablated.effect(position=3, target=target_id)
    assert other["target"] == effect["target"]
    assert other["logprob_after"] == pytest.approx(float(ablated.logprobs(3)[target_id]), abs=1e-6)
    assert result.ablate().effect()["delta"] == 0.0
    assert result.ablate().effect()["kl"] == pytest.approx(0.0, abs=1e-6)


def test_mean_ablation_equals_a_hooked_run(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    model = extractor.model
    ids = result.input_ids.tolist()
    dim = head_dim(model)
    heads, neurons = [(0, 2), (1, 1)], [(1, 7)]
    projections = [out_projection(model, 0), out_projection(model, 1), mlp_projection(model, 1)]
    clean = capture_inputs(model, ids, projections)

    def mean_of(projection: Any, columns: slice) -> Callable[[torch.Tensor], torch.Tensor]:
        mean = clean[projection][:, columns].mean(0)

        def change(x: torch.Tensor) -> torch.Tensor:
            x[..., columns] = mean
            return x

        return change

    o0, o1, m1 = projections
    edits = {
        o0: mean_of(o0, slice(2 * dim, 3 * dim)),
        o1: mean_of(o1, slice(dim, 2 * dim)),
        m1: mean_of(m1, slice(7, 8)),
    }
    expected, _ = hooked_run(model, ids, edits)
    got = all_logprobs(result.ablate(heads=heads, neurons=neurons, mode="mean"), result.seq_len)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    zero = all_logprobs(result.ablate(heads=heads, neurons=neurons, mode="zero"), result.seq_len)
    assert np.abs(zero - got).max() > 10 * ATOL  # mean is not zero


def test_ablation_in_a_padded_batch_equals_the_prompt_alone(extractor: AttentionExtractor) -> None:
    batch = extractor.extract_batch([SHORT, PROMPT])
    short = batch[0]
    assert short.seq_len < batch[1].seq_len  # padded
    # A second extractor over the same model: the first one's cache would hand back the padded row itself.
    fresh = AttentionExtractor(model_name=extractor.model_name, model=extractor.model, tokenizer=extractor.tokenizer)
    alone = fresh.extract_activations(SHORT)
    assert alone.layers is not short.layers
    for mode in ("zero", "mean"):
        got = all_logprobs(short.ablate(heads=[(0, 1)], neurons=[(1, 2)], mode=mode), short.seq_len)
        want = all_logprobs(alone.ablate(heads=[(0, 1)], neurons=[(1, 2)], mode=mode), alone.seq_len)
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    expected = edited_logprobs(extractor, SHORT, [(0, 1)], [(1, 2)])
    np.testing.assert_allclose(
        all_logprobs(short.ablate(heads=[(0, 1)], neurons=[(1, 2)]), short.seq_len), expected, atol=ATOL, rtol=0
    )
    np.testing.assert_allclose(
        batch[1].head_effects(progress=False),
        fresh.extract_activations(PROMPT).head_effects(progress=False),
        atol=ATOL,
    )


# ---- patching --------------------------------------------------------------------------------------------
def test_patch_equals_a_hooked_run(extractor: AttentionExtractor) -> None:
    target = extractor.extract_activations(PROMPT)
    source = extractor.extract_activations(OTHER)
    assert source.seq_len == target.seq_len
    before = snapshot(extractor, target)
    model = extractor.model
    dim = head_dim(model)
    o0, o1, m0 = out_projection(model, 0), out_projection(model, 1), mlp_projection(model, 0)
    theirs = capture_inputs(model, source.input_ids.tolist(), [o0, o1, m0])

    def copy_from(projection: Any, columns: slice) -> Callable[[torch.Tensor], torch.Tensor]:
        def change(x: torch.Tensor) -> torch.Tensor:
            x[0, :, columns] = theirs[projection][:, columns]
            return x

        return change

    edits = {
        o0: copy_from(o0, slice(0, dim)),
        o1: copy_from(o1, slice(3 * dim, 4 * dim)),
        m0: copy_from(m0, slice(4, 5)),
    }
    expected, _ = hooked_run(model, target.input_ids.tolist(), edits)
    patched = target.patch(source, heads=[(0, 0), (1, 3)], neurons=[(0, 4)])
    got = all_logprobs(patched, target.seq_len)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    plain = edited_logprobs(extractor, PROMPT, [], [])
    assert np.abs(plain - got).max() > 10 * ATOL
    assert_unchanged(extractor, target, before)

    # every head and neuron of every layer patched: the source's own predictions
    everything = [(layer, head) for layer in range(target.num_layers) for head in range(target.num_heads)]
    whole = target.patch(source, heads=everything)
    assert whole.top_predictions(-1, k=1)[0][0] == source.top_predictions(-1)[0][0]


def test_patch_at_positions_of_prompts_of_different_lengths(extractor: AttentionExtractor) -> None:
    target = extractor.extract_activations(PROMPT)
    source = extractor.extract_activations(SHORT)
    with pytest.raises(ValueError, match="positions="):
        target.patch(source, heads=[(1, 0)])
    model = extractor.model
    dim = head_dim(model)
    o1 = out_projection(model, 1)
    theirs = capture_inputs(model, source.input_ids.tolist(), [o1])[o1]
    pairs = [(target.seq_len - 1, source.seq_len - 1), (2, 1)]

    def change(x: torch.Tensor) -> torch.Tensor:
        for t, s in pairs:
            x[0, t, 2 * dim : 3 * dim] = theirs[s, 2 * dim : 3 * dim]
        return x

    expected, _ = hooked_run(model, target.input_ids.tolist(), {o1: change})
    got = all_logprobs(target.patch(source, heads=[(1, 2)], positions=[(-1, -1), (2, 1)]), target.seq_len)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    with pytest.raises(IndexError, match="source position 40 is out of range"):
        target.patch(source, heads=[(1, 2)], positions=[(0, 40)])


def test_patch_needs_the_same_model(extractor: AttentionExtractor, bert_tokenizer: Any) -> None:
    target = extractor.extract_activations(PROMPT)
    other = AttentionExtractor(model=tiny_model(extractor.model.config.model_type), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError, match="same model"):
        target.patch(other.extract_activations(OTHER), heads=[(0, 0)])


# ---- head effects -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_head_effects_equal_single_ablations(extractor: AttentionExtractor, mode: str) -> None:
    result = extractor.extract_activations(PROMPT)
    before = snapshot(extractor, result)
    effects = result.head_effects(position=-2, target="the", mode=mode, progress=False)
    assert effects.dtype == np.float64 and effects.shape == (result.num_layers, result.num_heads)
    for layer in range(result.num_layers):
        for head in range(result.num_heads):
            single = result.ablate(heads=[(layer, head)], mode=mode).effect(position=-2, target="the")
            assert effects[layer, head] == pytest.approx(single["delta"], abs=2e-6), (layer, head)
    # not all zero (random tiny models' heads matter little: a mean-ablated head moves ~1e-4)
    assert np.abs(effects).max() > 5e-5 and len(np.unique(effects)) == effects.size
    if mode == "zero":
        target_id = extractor.tokenizer.convert_tokens_to_ids("the")
        clean = edited_logprobs(extractor, PROMPT, [], [])[-2, target_id]
        for layer, head in [(0, 1), (1, result.num_heads - 1)]:
            edited = edited_logprobs(extractor, PROMPT, [(layer, head)], [])[-2, target_id]
            assert effects[layer, head] == pytest.approx(edited - clean, abs=ATOL)
    assert_unchanged(extractor, result, before)


def test_head_effects_show_progress(extractor: AttentionExtractor, capsys: pytest.CaptureFixture[str]) -> None:
    result = extractor.extract_activations(PROMPT)
    result.head_effects()
    assert "head effects" in capsys.readouterr().err
    result.head_effects(progress=False)
    assert "head effects" not in capsys.readouterr().err


def hooked_modules(model: Any) -> list[Any]:
    return [m for m in model.modules() if m._forward_pre_hooks or m._forward_hooks]


def test_an_interrupt_leaves_nothing_changed(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    expected = result.head_effects(progress=False)
    before = snapshot(extractor, result)
    model = extractor.model
    block = blocks(model)[1]
    seen: list[list[Any]] = []

    def interrupt(module: Any, _args: Any) -> None:
        seen.append([m for m in hooked_modules(model) if m is not module])
        if len(seen) == 2:  # the second re-run (of layer 1), inside it: its hooks are on
            raise KeyboardInterrupt

    handle = block.register_forward_pre_hook(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            result.head_effects(progress=False)
    finally:
        handle.remove()
    assert seen[-1], "the interrupt came before the re-run's hooks were on"
    assert_unchanged(extractor, result, before)
    np.testing.assert_array_equal(result.head_effects(progress=False), expected)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_iter_head_effects_yields_every_layer_in_order(extractor: AttentionExtractor, mode: str) -> None:
    result = extractor.extract_activations(PROMPT)
    layers = interventions.iter_head_effects(result, -2, "the", mode)
    rows = list(layers)
    assert [layer for layer, _ in rows] == list(range(result.num_layers))
    for _layer, row in rows:
        assert row.dtype == np.float64 and row.shape == (result.num_heads,)
    expected = result.head_effects(position=-2, target="the", mode=mode, progress=False)
    np.testing.assert_array_equal(np.stack([row for _, row in rows]), expected)
    # the target the effects are for, as a caller keys them
    target_id = extractor.tokenizer.convert_tokens_to_ids("the")
    assert interventions.head_effects_target(result, -2, "the") == (result.seq_len - 2, target_id)
    top = int(np.argmax(result.ablate().logprobs(3)))
    assert interventions.head_effects_target(result, 3) == (3, top)
    np.testing.assert_array_equal(
        np.stack([row for _, row in interventions.iter_head_effects(result, 3, top)]),
        result.head_effects(position=3, progress=False),
    )


def test_iter_head_effects_checks_its_arguments_at_the_call(extractor: AttentionExtractor, bert_tokenizer: Any) -> None:
    result = extractor.extract_activations(PROMPT)
    encoder = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    cases: list[tuple[Any, type, str]] = [
        (lambda: interventions.iter_head_effects(result, position=99), IndexError, r"position 99 is out of range"),
        (lambda: interventions.iter_head_effects(result, position=1.5), TypeError, r"position must be an int"),
        (lambda: interventions.iter_head_effects(result, mode="patch"), ValueError, r"mode must be one of"),
        (lambda: interventions.iter_head_effects(result, target="the cat"), ValueError, r"not one"),
        (lambda: interventions.iter_head_effects(encoder), ValueError, r"not a causal language model"),
        (lambda: interventions.head_effects_target(result, position=-99), IndexError, r"position -99 is out"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()  # no next(): the call itself raises


def test_closing_iter_head_effects_early_leaves_no_hooks(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    expected = result.head_effects(progress=False)
    before = snapshot(extractor, result)
    layers = interventions.iter_head_effects(result)
    layer, row = next(layers)
    assert layer == 0
    np.testing.assert_array_equal(row, expected[0])
    assert not hooked_modules(extractor.model)  # between layers: no hooks on the model
    layers.close()
    with pytest.raises(StopIteration):
        next(layers)
    assert_unchanged(extractor, result, before)
    unfinished = interventions.iter_head_effects(result)
    next(unfinished)
    del unfinished  # dropped half way
    assert_unchanged(extractor, result, before)


def test_head_effects_cut_the_positions_after_the_one_read(extractor: AttentionExtractor) -> None:
    """Positions after the one read are cut from the re-runs (also a padded row's padding); the effects are
    those of single ablations of the whole prompt."""
    result = extractor.extract_activations(PROMPT)
    run = interventions._HeadEffectsRun(result, 3)
    assert run.length == 4
    assert interventions._HeadEffectsRun(result, result.seq_len - 1).length == result.seq_len
    batch = extractor.extract_batch([SHORT, PROMPT])
    short = batch[0]
    assert interventions._HeadEffectsRun(short, short.seq_len - 1).length == short.seq_len  # padding cut
    for position in (1, -1):
        effects = short.head_effects(position=position, progress=False)
        for layer, head in [(0, 0), (1, result.num_heads - 1)]:
            single = short.ablate(heads=[(layer, head)]).effect(position=position)["delta"]
            assert effects[layer, head] == pytest.approx(single, abs=2e-6)
    fresh = AttentionExtractor(model_name=extractor.model_name, model=extractor.model, tokenizer=extractor.tokenizer)
    np.testing.assert_allclose(
        short.head_effects(position=1, progress=False),
        fresh.extract_activations(SHORT).head_effects(position=1, progress=False),
        atol=ATOL,
    )


def test_call_arguments_of_unknown_layout_are_not_cut() -> None:
    block = torch.nn.Linear(2, 2)  # forward(input): no named arguments beyond the hidden state
    mask = torch.ones(1, 1, 6, 6, dtype=torch.bool)
    _args, kwargs = interventions._cut_positions(block, ((), {"attention_mask": mask, "use_cache": False}), 6, 4)
    assert kwargs["attention_mask"].shape == (1, 1, 4, 4) and kwargs["use_cache"] is False
    cos = torch.zeros(1, 6, 6)  # head_dim equal to the length: only the positions' dimension is cut
    _args, kwargs = interventions._cut_positions(block, ((), {"position_embeddings": (cos, cos)}), 6, 4)
    assert [tuple(t.shape) for t in kwargs["position_embeddings"]] == [(1, 4, 6), (1, 4, 6)]
    for unknown in (
        {"alibi": torch.zeros(1, 2, 6)},  # positions in an unknown argument
        {"attention_mask": torch.zeros(1, 6, 6)},  # a known one in an unknown layout
        {"attention_mask": torch.zeros(1, 1, 5, 5)},  # not this length
        {"cache": object()},
    ):
        assert interventions._cut_positions(block, ((), unknown), 6, 4) is None
    kept = torch.zeros(1, 2, 3)  # no dimension of the length: kept as it is
    assert interventions._cut_positions(block, ((kept,), {}), 6, 4) == ((kept,), {})


# ---- bad input ------------------------------------------------------------------------------------------------
def test_bad_input(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    before = snapshot(extractor, result)
    width = extractor.model.config.intermediate_size if extractor.model.config.model_type == "llama" else 128
    cases: list[tuple[Any, type, str]] = [
        (lambda: result.ablate(heads=[(2, 0)]), IndexError, r"layer 2 is out of range: .* \(valid: 0..1 or -2..-1\)"),
        (lambda: result.ablate(heads=[(0, 99)]), IndexError, rf"head 99 is out of range: .*0..{result.num_heads - 1}"),
        (lambda: result.ablate(neurons=[(0, width)]), IndexError, rf"neuron {width} is out of range: .*0..{width - 1}"),
        (lambda: result.head_effects(position=99, progress=False), IndexError, r"position 99 is out of range"),
        (lambda: result.ablate(heads=[(0, 0)]).logprobs(99), IndexError, r"position 99 is out of range"),
        (lambda: result.ablate(heads=[(0, 0)], mode="half"), ValueError, r"mode must be one of 'zero', 'mean'"),
        (lambda: result.head_effects(mode="patch", progress=False), ValueError, r"mode must be one of"),
        (lambda: result.ablate(heads=[0, 1]), TypeError, r"pair"),
        (lambda: result.ablate(heads=[(0, 1.5)]), TypeError, r"head must be an int"),
        (lambda: result.ablate(heads=[(0, 0)]).effect(target="the cat"), ValueError, r"not one"),
        (lambda: result.ablate(heads=[(0, 0)]).top_predictions(k=0), ValueError, r"k must be"),
        (lambda: result.patch("text", heads=[(0, 0)]), TypeError, r"source must be an Extraction"),  # type: ignore[arg-type]
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)
    assert_unchanged(extractor, result, before)


def test_encoders_are_refused(bert_tokenizer: Any) -> None:
    result = AttentionExtractor(model=tiny_model("bert"), tokenizer=bert_tokenizer).extract_activations(PROMPT)
    for call in (
        lambda: result.ablate(heads=[(0, 0)]),
        lambda: result.head_effects(progress=False),
        lambda: result.patch(result, heads=[(0, 0)]),
    ):
        with pytest.raises(ValueError, match=r"not a causal language model.*no next token"):
            call()


# ---- the bundled model ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_smollm2_ablation_and_head_effects(smollm2: AttentionExtractor) -> None:
    result = smollm2.extract_activations("The capital of France is")
    heads = [(3, 1), (14, 5), (29, 8)]
    model = copy.deepcopy(smollm2.model)
    dim = head_dim(model)
    for layer, head in heads:
        zero_input_columns(model.model.layers[layer].self_attn.o_proj, slice(head * dim, (head + 1) * dim))
    with torch.no_grad():
        logits = model(torch.tensor([result.input_ids.tolist()])).logits[0, -1].double()
    expected = torch.log_softmax(logits, dim=-1).numpy()
    np.testing.assert_allclose(result.ablate(heads=heads).logprobs(-1), expected, atol=ATOL, rtol=0)
    effects = result.head_effects(target=" Paris", progress=False)
    assert effects.shape == (30, 9)
    for layer, head in [(0, 0), (29, 8)]:
        single = result.ablate(heads=[(layer, head)]).effect(target=" Paris")["delta"]
        assert effects[layer, head] == pytest.approx(single, abs=1e-4)
    # an earlier position: the re-runs are cut to the positions up to it
    early = dict(interventions.iter_head_effects(result, position=2))
    for layer, head in [(0, 4), (15, 2), (29, 0)]:
        single = result.ablate(heads=[(layer, head)]).effect(position=2)["delta"]
        assert early[layer][head] == pytest.approx(single, abs=1e-4)
