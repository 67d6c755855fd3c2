"""Generation against transformers' own `generate`: the same tokens (greedy, and sampled with the same seed),
every attention row the model computed while writing (eager `generate(output_attentions=True)`), and each
step's probability and entropy from the scores `generate` reports after its processors. Then the streaming
API (`iter_generate`: steps as they come, stop, Ctrl-C), bad input, and the existing methods on the result."""

from __future__ import annotations

import copy
import queue
import threading
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from attnwidget import AttentionExtractor, Extraction
from attnwidget.engine.generation import ALTERNATIVES_KEPT
from attnwidget.engine.tokens import TokenTextStream, display_tokens
from tests.test_attribution import perturbed
from tests.tiny_models import tiny_model

PROMPT = "the cat sat on the mat and the cat"
STEPS = 12
ATOL = 1e-4
# (do_sample, temperature, top_k, top_p): greedy, then sampling through each processor.
SAMPLINGS = [
    (False, 1.0, None, None),
    (True, 1.0, None, None),
    (True, 0.7, 40, 0.9),
    (True, 1.5, None, 0.6),
    (True, 0.5, 8, None),
]


def sharp(kind: str) -> Any:
    """A tiny random model (biases and norms random too) whose final norm is scaled up: its next-token
    distributions are peaked like a trained model's rather than nearly uniform, so greedy choices are clear
    and top-k / top-p cut real mass."""
    model = perturbed(kind)
    norm = model.transformer.ln_f if kind == "gpt2" else model.model.norm
    with torch.no_grad():
        norm.weight.mul_(25)
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """Tiny models run faster on one torch thread, and much faster on a machine whose cores are busy (two
    threads then wait on each other at every small operation)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def extractor(request: pytest.FixtureRequest, bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name=f"tiny-{request.param}", model=sharp(request.param), tokenizer=bert_tokenizer)


def prompt_ids(extractor: AttentionExtractor, prompt: str = PROMPT) -> torch.Tensor:
    return torch.tensor([extractor.tokenizer(prompt)["input_ids"]])


def reference(model: Any, ids: torch.Tensor, do_sample: bool = False, seed: int = 0, **options: Any) -> Any:
    """transformers' `generate` with its scores; top_k=0 and top_p=1.0 where ours has None (its defaults
    would be 50 and 1.0). Sampling reads the global RNG, seeded here as our generator is."""
    torch.manual_seed(seed)
    return model.generate(
        ids,
        max_new_tokens=STEPS,
        do_sample=do_sample,
        return_dict_in_generate=True,
        output_scores=True,
        **options,
    )


def generated(result: Any, prompt_length: int) -> list[int]:
    return [int(i) for i in result.sequences[0, prompt_length:]]


# ---- the same tokens and numbers as transformers ---------------------------------------------------------
def test_greedy_writes_what_transformers_writes(extractor: AttentionExtractor) -> None:
    ids = prompt_ids(extractor)
    result = extractor.generate(PROMPT, max_new_tokens=STEPS)
    assert result.generated_ids.tolist() == generated(reference(extractor.model, ids), ids.shape[1])
    assert result.prompt_length == ids.shape[1] and result.seq_len == ids.shape[1] + STEPS
    assert result.input_ids[: ids.shape[1]].tolist() == ids[0].tolist()
    assert len(result.generated_tokens) == STEPS and result.stop_reason == "length"
    assert result.step_entropy[0] < 8, "the scaled final norm makes peaked distributions (uniform: 10.3 nats)"


def test_every_row_the_model_computed_while_writing(extractor: AttentionExtractor) -> None:
    """Eager `generate(output_attentions=True)` returns, per step, the rows that step computed: the prompt's
    [P, P] maps at the first step, then the one row of the token just written. Each equals the same row of
    the recorded pass over prompt + output, every layer and head."""
    eager = copy.deepcopy(extractor.model)
    eager.set_attn_implementation("eager")
    ids = prompt_ids(extractor)
    length = ids.shape[1]
    ref = eager.generate(
        ids, max_new_tokens=STEPS, do_sample=False, output_attentions=True, return_dict_in_generate=True
    )
    result = extractor.generate(PROMPT, max_new_tokens=STEPS)
    assert result.generated_ids.tolist() == generated(ref, length)
    assert len(ref.attentions) == STEPS
    for layer in range(result.num_layers):
        maps = result.attention(layer)
        np.testing.assert_allclose(maps[:, :length, :length], ref.attentions[0][layer][0].numpy(), atol=ATOL)
        for step in range(1, STEPS):
            position = length + step - 1  # the token written at step - 1, read at this step
            row = ref.attentions[step][layer][0, :, 0].numpy()
            np.testing.assert_allclose(maps[:, position, : position + 1], row, atol=ATOL)
            assert not maps[:, position, position + 1 :].any()
        # The step that chose token t read position step_position(t).
        assert result.step_position(3) == length + 2


@pytest.mark.parametrize(("do_sample", "temperature", "top_k", "top_p"), SAMPLINGS)
def test_step_probabilities_are_the_processed_distribution(
    extractor: AttentionExtractor, do_sample: bool, temperature: float, top_k: int | None, top_p: float | None
) -> None:
    ids = prompt_ids(extractor)
    length = ids.shape[1]
    options = {"temperature": temperature, "top_k": top_k or 0, "top_p": top_p or 1.0} if do_sample else {}
    ref = reference(extractor.model, ids, do_sample, seed=11, **options)
    result = extractor.generate(
        PROMPT, STEPS, do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p, seed=11
    )
    # Our sampler draws from its own generator what `generate` draws from the global one seeded alike.
    tokens = generated(ref, length)
    assert result.generated_ids.tolist() == tokens
    assert result.step_probs.dtype == np.float32 and result.step_entropy.dtype == np.float32
    assert result.step_probs.shape == result.step_entropy.shape == (STEPS,)
    for step, (token, scores) in enumerate(zip(tokens, ref.scores)):
        # The distribution `generate` samples from: the float32 softmax of its processed scores.
        probs = torch.softmax(scores[0], dim=-1)
        assert result.step_probs[step] == pytest.approx(float(probs[token]), rel=1e-6, abs=1e-9)
        p = probs[probs > 0].double()
        assert result.step_entropy[step] == pytest.approx(float(-(p * p.log()).sum()), rel=1e-5, abs=1e-6)
        top = probs.topk(5)
        alternatives = result.step_alternatives(step, k=5)
        kept = int((top.values > 0).sum())
        assert [p for _, p in alternatives] == pytest.approx(top.values[:kept].tolist(), rel=1e-5)
        assert result.generation is not None
        assert result.generation.steps[step].alternative_ids[:kept].tolist() == top.indices[:kept].tolist()
    if top_k is not None:
        assert len(result.step_alternatives(0, k=ALTERNATIVES_KEPT)) <= top_k, "no alternative top-k removed"


def by_hand(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, top-k, top-p written out (float64): divide; keep the k largest; then keep the most likely
    tokens until their mass reaches top_p (the one that reaches it included); softmax."""
    scores = logits / temperature
    scores = scores.masked_fill(scores < scores.topk(top_k).values[-1], float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    order = probs.argsort(descending=True)
    before = probs[order].cumsum(0) - probs[order]  # the mass of the more likely tokens
    scores[order[before >= top_p]] = float("-inf")
    return torch.softmax(scores, dim=-1)


def test_step_probabilities_match_a_full_pass_without_cache(extractor: AttentionExtractor) -> None:
    """Independent of transformers' generation code: the distribution rebuilt by hand from one plain forward
    pass over prompt + output (no cache) gives each chosen token the same probability, to float rounding."""
    result = extractor.generate(PROMPT, STEPS, do_sample=True, temperature=0.8, top_k=30, top_p=0.95, seed=5)
    with torch.no_grad():
        logits = extractor.model(torch.from_numpy(result.input_ids)[None]).logits[0].double()
    for step, token in enumerate(result.generated_ids.tolist()):
        probs = by_hand(logits[result.step_position(step)], 0.8, 30, 0.95)
        assert result.step_probs[step] == pytest.approx(float(probs[token]), rel=1e-4)
        p = probs[probs > 0]
        assert result.step_entropy[step] == pytest.approx(float(-(p * p.log()).sum()), rel=1e-4)


# ---- sampling ------------------------------------------------------------------------------------------
def test_seeded_sampling_repeats_and_leaves_the_global_rng_alone(extractor: AttentionExtractor) -> None:
    def sample(seed: int | None) -> Extraction:
        return extractor.generate(PROMPT, STEPS, do_sample=True, temperature=2.0, seed=seed)

    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = sample(7)
    assert torch.equal(torch.get_rng_state(), before), "generation read or advanced torch's global RNG"
    torch.manual_seed(123)  # another global state changes nothing
    again = sample(7)
    assert again.generated_ids.tolist() == first.generated_ids.tolist()
    assert again.step_probs.tolist() == first.step_probs.tolist()
    assert sample(8).generated_ids.tolist() != first.generated_ids.tolist()
    # Without a seed: a fresh one each time, kept so that the run can be repeated.
    state = torch.get_rng_state()
    one, two = sample(None), sample(None)
    assert torch.equal(torch.get_rng_state(), state)
    assert one.generation is not None and two.generation is not None
    assert one.generation.settings.seed != two.generation.settings.seed
    assert one.generated_ids.tolist() != two.generated_ids.tolist()
    assert sample(one.generation.settings.seed).generated_ids.tolist() == one.generated_ids.tolist()


# ---- end of sequence -------------------------------------------------------------------------------------
def test_the_end_of_sequence_token_ends_it_and_is_kept(extractor: AttentionExtractor) -> None:
    free = extractor.generate(PROMPT, STEPS, stop_at_eos=False)
    tokens = free.generated_ids.tolist()
    eos = tokens[4]
    config = extractor.model.generation_config
    saved = config.eos_token_id
    config.eos_token_id = eos
    try:
        stopped = extractor.generate(PROMPT, STEPS)
        ignoring = extractor.generate(PROMPT, STEPS, stop_at_eos=False)
        ids = prompt_ids(extractor)
        ref = generated(reference(extractor.model, ids), ids.shape[1])
    finally:
        config.eos_token_id = saved
    end = tokens.index(eos) + 1
    assert stopped.generated_ids.tolist() == tokens[:end] == ref
    assert stopped.stop_reason == "eos" and stopped.generated_ids[-1] == eos
    assert ignoring.generated_ids.tolist() == tokens and ignoring.stop_reason == "length"


# ---- streaming: what a widget reads -------------------------------------------------------------------
def test_iter_generate_gives_steps_as_they_come_and_stops(extractor: AttentionExtractor) -> None:
    full = extractor.generate(PROMPT, STEPS)
    run = extractor.iter_generate(PROMPT, STEPS)
    assert run.running and run.steps == []
    steps = [next(run) for _ in range(3)]
    length = full.prompt_length
    assert [s.index for s in steps] == [0, 1, 2] and [s.position for s in steps] == [length, length + 1, length + 2]
    assert [s.token_id for s in steps] == full.generated_ids[:3].tolist()
    assert [s.text for s in steps] == full.generated_tokens[:3]
    assert [s.prob for s in steps] == pytest.approx(full.step_probs[:3].tolist())
    assert steps[0].alternatives(2) == full.step_alternatives(0, 2)
    run.stop()
    assert list(run) == [] and run.stop_reason == "stopped" and not run.running
    result = run.result()
    assert result is run.result(), "the recorded pass is made once"
    assert result.generated_ids.tolist() == full.generated_ids[:3].tolist() and result.stop_reason == "stopped"
    np.testing.assert_allclose(result.attention(0), full.attention(0)[:, : length + 3, : length + 3], atol=1e-6)


def test_a_stop_from_another_thread_keeps_what_was_written(extractor: AttentionExtractor) -> None:
    """As a widget runs it: generation in a thread, steps sent on as they come, the stop button in the
    kernel's thread."""
    run = extractor.iter_generate(PROMPT, 100, stop_at_eos=False)
    seen: queue.Queue[Any] = queue.Queue()
    done: list[Extraction] = []

    def write() -> None:
        for step in run:
            seen.put(step)
        done.append(run.result())

    thread = threading.Thread(target=write)
    thread.start()
    seen.get(timeout=30)  # the first token is there
    run.stop()
    thread.join(timeout=30)
    assert done and run.stop_reason == "stopped"
    written = len(done[0].generated_tokens)
    assert 1 <= written < 100 and written == len(run.steps)


def test_ctrl_c_while_writing_keeps_what_was_written(extractor: AttentionExtractor) -> None:
    full = extractor.generate(PROMPT, STEPS)
    calls = []

    def interrupt_fourth_pass(*_: Any) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt

    handle = extractor.model.register_forward_pre_hook(interrupt_fourth_pass)
    try:
        result = extractor.generate(PROMPT, STEPS)
    finally:
        handle.remove()
    # Passes 1-3 chose tokens 0-2; pass 4 was interrupted. The recorded pass (the base model) is not hooked.
    assert result.stop_reason == "interrupted"
    assert result.generated_ids.tolist() == full.generated_ids[:3].tolist()
    assert result.step_probs.tolist() == full.step_probs[:3].tolist()
    assert result.attention(1).shape[-1] == result.prompt_length + 3


# ---- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be an int of at least 1, got 0"),
        ({"max_new_tokens": 2.5}, "max_new_tokens must be an int of at least 1, got 2.5"),
        ({"max_new_tokens": True}, "max_new_tokens must be an int of at least 1, got True"),
        (
            {"max_new_tokens": 200},
            "max_new_tokens must be at most 117 (the prompt has 11 tokens and tiny-gpt2 accepts at most 128 "
            "positions), got 200",
        ),
        ({"do_sample": True, "temperature": 0}, "temperature must be > 0 when sampling (do_sample=True), got 0"),
        ({"do_sample": True, "temperature": -1.0}, "temperature must be > 0 when sampling (do_sample=True), got -1.0"),
        ({"top_p": 0.0}, "top_p must be in (0, 1] (or None: no top-p), got 0.0"),
        ({"top_p": 1.5}, "top_p must be in (0, 1] (or None: no top-p), got 1.5"),
        ({"top_k": 0}, "top_k must be an int of at least 1 (or None: no top-k), got 0"),
        ({"seed": -3}, "seed must be a non-negative int (or None: a random one), got -3"),
        ({"do_sample": "yes"}, "do_sample must be True or False, got 'yes'"),
    ],
)
def test_bad_input_is_one_line_naming_the_limit(bert_tokenizer: Any, options: dict[str, Any], message: str) -> None:
    extractor = AttentionExtractor(model_name="tiny-gpt2", model=tiny_model("gpt2"), tokenizer=bert_tokenizer)
    assert len(extractor.tokenizer(PROMPT)["input_ids"]) == 11
    with pytest.raises(ValueError) as error:
        extractor.generate(PROMPT, **options)
    assert str(error.value) == message
    with pytest.raises(ValueError):
        extractor.iter_generate(PROMPT, **options)  # checked at once, before the first step


def test_the_longest_generation_the_model_accepts(bert_tokenizer: Any) -> None:
    extractor = AttentionExtractor(
        model_name="tiny-gpt2", model=tiny_model("gpt2", positions=16), tokenizer=bert_tokenizer
    )
    result = extractor.generate(PROMPT, max_new_tokens=5, stop_at_eos=False)
    assert result.seq_len == 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extractor.generate(PROMPT, max_new_tokens=1, temperature=0)  # greedy: a temperature of 0 is no error
    with pytest.warns(UserWarning, match=r"^temperature, top_p apply only when sampling \(do_sample=True\)"):
        extractor.generate(PROMPT, max_new_tokens=1, temperature=0.7, top_p=0.5)


def test_an_encoder_cannot_generate(bert_tokenizer: Any) -> None:
    encoder = AttentionExtractor(model_name="tiny-bert", model=tiny_model("bert"), tokenizer=bert_tokenizer)
    with pytest.raises(ValueError) as error:
        encoder.generate(PROMPT)
    assert str(error.value) == "generation needs a causal language model; tiny-bert (BertModel) is an encoder"


# ---- the result is an Extraction like any other ------------------------------------------------------------
def test_every_method_works_on_a_generated_result(extractor: AttentionExtractor) -> None:
    result = extractor.generate(PROMPT, STEPS)
    length, seq = result.prompt_length, result.seq_len
    maps = result.attention(1)
    assert maps.shape == (result.num_heads, seq, seq)
    np.testing.assert_allclose(maps.sum(-1), 1, atol=1e-5)
    scores = result.head_scores()
    assert scores["induction"].shape == (result.num_layers, result.num_heads)
    assert result.neuron_activations(0, "mlp").shape[0] == seq
    assert result.display_tokens[length:] == result.generated_tokens
    for step in (0, STEPS - 1):
        position = result.step_position(step)
        # The logit lens's last row is the prediction that chose the token (greedy: the most likely one).
        lens = result.logit_lens(position, k=1)
        assert len(lens) == result.num_layers + 1
        text, prob = result.top_predictions(position)[0]
        assert lens[-1][0][0] == text == result.step_alternatives(step, 1)[0][0]
        assert prob == pytest.approx(float(result.step_probs[step]), rel=1e-4)
    parts = result.logit_attribution(result.step_position(2), target=int(result.generated_ids[2]))
    assert parts.total == pytest.approx(parts.logit, abs=1e-3)
    ablated = result.ablate(heads=[(0, 0)])
    assert ablated.logprobs(result.step_position(2)).shape == (extractor.model.config.vocab_size,)
    assert "12 generated" in repr(result)
    chose = [result.step_position(step) for step in range(STEPS)]
    np.testing.assert_allclose(result.attention_rows(chose)[1], maps[:, chose], atol=1e-6)


def test_attention_rows_are_the_maps_rows(tiny_extractor: AttentionExtractor) -> None:
    """Every head's row at some positions, computed without the maps (the generation view's strips), on every
    tiny architecture (GPT-Neo's local layer, BERT's bidirectional attention included)."""
    result = tiny_extractor.extract_activations(PROMPT)
    positions = [0, 4, result.seq_len - 1]
    rows = result.attention_rows(positions)
    assert rows.shape == (result.num_layers, result.num_heads, 3, result.seq_len) and rows.dtype == np.float32
    every = np.stack([result.attention(layer)[:, positions] for layer in range(result.num_layers)])
    np.testing.assert_allclose(rows, every, atol=1e-6)
    np.testing.assert_allclose(result.attention_rows(-1), rows[:, :, 2], atol=1e-6)
    with pytest.raises(IndexError, match="position 99 is out of range"):
        result.attention_rows([99])


def test_a_prompt_result_has_no_steps(extractor: AttentionExtractor) -> None:
    result = extractor.extract_activations(PROMPT)
    assert result.prompt_length == result.seq_len and result.generated_tokens == []
    assert result.generated_ids.shape == (0,) and result.stop_reason is None and result.generated_text == ""
    assert result.step_probs.shape == result.step_entropy.shape == (0,)
    assert result.step_probs.dtype == np.float32
    with pytest.raises(ValueError, match="generated no tokens"):
        result.step_alternatives(0)
    # And generating did not replace the prompt's own cached result.
    extractor.generate(PROMPT, 2)
    assert extractor.extract_activations(PROMPT).seq_len == result.seq_len


# ---- the bundled SmolLM2: a byte-level tokenizer and a real model ----------------------------------------
@pytest.mark.slow
def test_smollm2_greedy_and_its_streamed_token_texts(smollm2: AttentionExtractor) -> None:
    prompt = "Hello 🌍 世界"
    tokenizer = smollm2.tokenizer
    encoded = tokenizer(prompt, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    # Tokens that come one at a time show what the same tokens of a prompt show, notes included.
    expected = display_tokens(tokenizer, prompt, ids, [tuple(span) for span in encoded["offset_mapping"]])
    stream = TokenTextStream(tokenizer, start=0)
    assert [stream.add(i) for i in ids] == expected.display and stream.notes == expected.notes
    result = smollm2.generate("The capital of France is", max_new_tokens=6)
    reference_ids = smollm2.model.generate(
        torch.tensor([tokenizer("The capital of France is")["input_ids"]]), max_new_tokens=6, do_sample=False
    )
    assert result.generated_ids.tolist() == reference_ids[0, result.prompt_length :].tolist()
    assert "".join(result.generated_tokens).startswith(" Paris") and result.generated_text.startswith(" Paris")
