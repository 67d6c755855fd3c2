"""Generation: the model writes one token at a time with its KV cache; one recorded pass over prompt + output
then gives every step's internals.

Why one pass afterwards is enough: attention is causal, so the row of position i over prompt + output sees
only positions <= i: the same tokens the model saw when it computed that row, with its cache, at the step
that read position i. The recorded pass recomputes those rows (and everything else) in one batch; it does the
same arithmetic in another order, so it agrees with what the cached steps computed to float rounding
(tests/test_generation.py checks every row against transformers' own `generate` to 1e-4).

What the recorded pass cannot give is the step's processed distribution (after temperature, top-k, top-p) as
it was when the token was chosen: that is kept here, per step (`Step`), while generating.

`Generation` is the lower-level API a widget streams from: iterate it to get each `Step` as the model writes
it; `stop()` (from any thread) ends it before the next forward pass; `result()` records what was written.
`AttentionExtractor.generate` is `iter_generate(...).run()`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from .capture import model_lock
from .tokens import TokenTextStream

# Alternatives kept per step (the most likely tokens of its processed distribution): enough for any list a
# person reads, and 20 x 12 bytes a step.
ALTERNATIVES_KEPT = 20
# Why a generation ended: "eos" (the model wrote its end-of-sequence token, kept as the last token),
# "length" (max_new_tokens written), "stopped" (`Generation.stop`, or its result asked for before the end),
# "interrupted" (KeyboardInterrupt), "error" (the model raised).
STOP_REASONS = ("eos", "length", "stopped", "interrupted", "error")

ResultT = TypeVar("ResultT")


# ---- settings ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerationSettings:
    """How a generation chose its tokens. `seed` is the seed sampling really used (drawn at random when none
    was given), so that a sampled run can be repeated; None for greedy decoding."""

    max_new_tokens: int
    do_sample: bool
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int | None
    stop_at_eos: bool


def check_settings(
    *,
    max_new_tokens: Any,
    do_sample: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    seed: Any,
    stop_at_eos: Any,
    prompt_length: int,
    max_positions: int,
    model_name: str,
) -> GenerationSettings:
    """Validate `generate`'s arguments, each error one line: "<name> must be <allowed>, got <value>"."""
    if not _is_int(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int of at least 1, got {max_new_tokens!r}")
    room = max_positions - prompt_length
    if max_positions and max_new_tokens > room:
        raise ValueError(
            f"max_new_tokens must be at most {room} (the prompt has {prompt_length} tokens and {model_name} "
            f"accepts at most {max_positions} positions), got {max_new_tokens}"
        )
    if not isinstance(do_sample, bool):
        raise ValueError(f"do_sample must be True or False, got {do_sample!r}")
    if not isinstance(stop_at_eos, bool):
        raise ValueError(f"stop_at_eos must be True or False, got {stop_at_eos!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature != temperature:
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    if do_sample and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling (do_sample=True), got {temperature!r}")
    if top_k is not None and (not _is_int(top_k) or top_k < 1):
        raise ValueError(f"top_k must be an int of at least 1 (or None: no top-k), got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1] (or None: no top-p), got {top_p!r}")
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed must be a non-negative int (or None: a random one), got {seed!r}")
    if not do_sample:
        _warn_if_ignored(temperature, top_k, top_p)
    if do_sample and seed is None:
        # A fresh seed from the operating system: sampling never reads (or advances) torch's global RNG.
        seed = int(torch.Generator().seed())
    return GenerationSettings(
        max_new_tokens=int(max_new_tokens),
        do_sample=do_sample,
        temperature=float(temperature),
        top_k=None if top_k is None else int(top_k),
        top_p=None if top_p is None else float(top_p),
        seed=None if seed is None or not do_sample else int(seed),
        stop_at_eos=stop_at_eos,
    )


def _warn_if_ignored(temperature: Any, top_k: Any, top_p: Any) -> None:
    """Greedy decoding reads no sampling setting: say so when one was set (a temperature of 0 is a common way
    of asking for greedy decoding, so it is no reason to warn)."""
    given = {"temperature": temperature not in (1.0, 0), "top_k": top_k is not None, "top_p": top_p not in (None, 1.0)}
    ignored = [name for name, set_ in given.items() if set_]
    if ignored:
        message = f"{', '.join(ignored)} apply only when sampling (do_sample=True); greedy decoding ignores them"
        warnings.warn(message, UserWarning, stacklevel=4)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def logits_processors(settings: GenerationSettings) -> Any:
    """Temperature, top-k and top-p, in the order and with the classes `model.generate` uses for the same
    arguments, so that a step's distribution is the one transformers would sample from. Greedy decoding
    uses none: as in transformers, it picks the most likely token of the model's own distribution."""
    from transformers.generation import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    processors = LogitsProcessorList()
    if not settings.do_sample:
        return processors
    if settings.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k is not None:
        processors.append(TopKLogitsWarper(top_k=settings.top_k))
    if settings.top_p is not None and settings.top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=settings.top_p))
    return processors


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """The tokens that end a generation: those `model.generate` stops at (its generation config, else the
    model config), else the tokenizer's end-of-sequence token."""
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None)
        if value is not None:
            return {int(v) for v in (value if isinstance(value, (list, tuple)) else [value])}
    eos = getattr(tokenizer, "eos_token_id", None)
    return set() if eos is None else {int(eos)}


# ---- one step ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Step:
    """One generated token and the distribution it was chosen from (after temperature, top-k, top-p).

    index : 0 for the first generated token. position : its index in prompt + output (prompt length + index);
    the position whose prediction chose it is ``position - 1``.
    text : its display text (as `display_tokens` makes it: a piece of a split character shows its bytes).
    prob : the probability the processed distribution gave it. entropy : that distribution's entropy, nats.
    alternative_ids, alternative_probs : int64 / float32, the most likely tokens of that distribution (at most
    `ALTERNATIVES_KEPT`, none of probability 0), most likely first.
    """

    index: int
    position: int
    token_id: int
    text: str
    prob: float
    entropy: float
    alternative_ids: np.ndarray = field(repr=False)
    alternative_probs: np.ndarray = field(repr=False)
    decode: Callable[[np.ndarray], list[list[str]]] = field(repr=False)

    def alternatives(self, k: int = 5) -> list[tuple[str, float]]:
        """The `k` (at most `ALTERNATIVES_KEPT`) most likely tokens the model could have written here, as
        (decoded text, probability); fewer when top-k or top-p left fewer."""
        if not _is_int(k) or not 1 <= k <= ALTERNATIVES_KEPT:
            raise ValueError(f"k must be an int in 1..{ALTERNATIVES_KEPT}, got {k!r}")
        ids = self.alternative_ids[:k]
        texts = self.decode(ids)[0] if len(ids) else []
        return [(text, float(p)) for text, p in zip(texts, self.alternative_probs[:k])]


@dataclass(frozen=True)
class GenerationRecord:
    """What an `Extraction` made by `generate` knows beyond its recorded pass: the steps as they were taken."""

    prompt_length: int
    steps: tuple[Step, ...]
    stop_reason: str
    settings: GenerationSettings

    @property
    def probs(self) -> np.ndarray:
        return np.array([step.prob for step in self.steps], dtype=np.float32)

    @property
    def entropy(self) -> np.ndarray:
        return np.array([step.entropy for step in self.steps], dtype=np.float32)


def _step_from(
    index: int,
    position: int,
    token: int,
    scores: torch.Tensor,
    probs: torch.Tensor,
    texts: TokenTextStream,
    decode: Any,
) -> Step:
    """The record of one step, from its processed scores [vocab] and their softmax `probs` (float32, CPU)."""
    top_probs, top_ids = probs.topk(min(ALTERNATIVES_KEPT, probs.shape[-1]))
    kept = top_probs > 0  # tokens top-k / top-p removed are no alternative
    # -sum p log p, with log p from log_softmax (exact in float32 where p is tiny); a removed token gives
    # 0 * -inf = nan, which nansum skips: it adds nothing to the entropy.
    entropy = -(probs * torch.log_softmax(scores, dim=-1)).nansum(dtype=torch.float64)
    return Step(
        index=index,
        position=position,
        token_id=token,
        text=texts.add(token),
        prob=float(probs[token]),
        entropy=float(entropy),
        alternative_ids=top_ids[kept].numpy().astype(np.int64),
        alternative_probs=top_probs[kept].numpy().astype(np.float32),
        decode=decode,
    )


def _choose(scores: torch.Tensor, probs: torch.Tensor, generator: torch.Generator | None) -> int:
    """As `model.generate` chooses: the most likely token (greedy), or one drawn from `probs` (sampling)."""
    if generator is None:
        return int(scores.argmax())
    return int(torch.multinomial(probs, num_samples=1, generator=generator))


# ---- the loop ---------------------------------------------------------------------------------------------
def _forward_options(model: Any) -> tuple[str, dict[str, Any]]:
    """The keyword the model's forward takes its KV cache by (transformers renamed `past_key_values` to
    `cache`), and `logits_to_keep=1` where supported: the prompt's pass then unembeds its last position only."""
    import inspect

    parameters = inspect.signature(model.forward).parameters
    cache_keyword = "cache" if "cache" in parameters else "past_key_values"
    return cache_keyword, ({"logits_to_keep": 1} if "logits_to_keep" in parameters else {})


def _new_cache(model: Any) -> Any:
    """The cache `model.generate` would make: a DynamicCache built from the config (sliding-window layers)."""
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # a transformers whose DynamicCache takes no config
        return DynamicCache()


def decode_steps(
    model: Any,
    prompt_ids: Sequence[int],
    settings: GenerationSettings,
    eos_ids: set[int],
    texts: TokenTextStream,
    decode: Callable[[np.ndarray], list[list[str]]],
) -> Generator[Step, None, str]:
    """Run the model with its KV cache, one token at a time: the prompt's pass, then one pass per token.
    Yields each `Step` once its token is chosen; returns the stop reason ("eos" or "length").

    Each pass runs under `torch.inference_mode` on its own: a generator must not leave a mode switched on for
    its consumer's code between two steps."""
    device = next(model.parameters()).device
    cache_keyword, options = _forward_options(model)
    cache = _new_cache(model)
    processors = logits_processors(settings)
    # Sampling reads its own generator (on the CPU, where the probabilities are sampled), never the global
    # RNG: the same seed gives the same tokens whatever ran before, on any device.
    generator = torch.Generator().manual_seed(settings.seed) if settings.seed is not None else None
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long)  # what the processors see (they read past ids)
    step_input = ids.to(device)
    lock = model_lock(model)  # no replay's hooks on the model while a step runs (see capture.model_lock)
    for index in range(settings.max_new_tokens):
        with lock, torch.inference_mode():
            outputs = model(input_ids=step_input, **{cache_keyword: cache}, use_cache=True, **options)
            # As `generate` does: the last position's logits in float32, then the processors.
            logits = outputs.logits[:, -1].to(dtype=torch.float32, device="cpu", copy=True)
            del outputs
            scores = processors(ids, logits)[0]
            probs = torch.softmax(scores, dim=-1)  # what sampling draws from, as in `generate`
            token = _choose(scores, probs, generator)
            step = _step_from(index, ids.shape[1], token, scores, probs, texts, decode)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        step_input = ids[:, -1:].to(device)
        yield step
        if settings.stop_at_eos and token in eos_ids:
            return "eos"
    return "length"


class Generation(Generic[ResultT]):
    """A generation as it runs: an iterator of `Step`, one per token, each as soon as the model chose it.

    `stop()` may be called from any thread (a widget's stop button): the iteration then ends before the next
    forward pass. `result()` makes the one recorded pass over prompt + what was written (stopping first if
    it still runs) and returns it, an `Extraction`; iterate and call `result()` from one thread.
    `stop_reason` is None while it runs, then one of `STOP_REASONS`.

    >>> run = extractor.iter_generate("Once upon a time", max_new_tokens=30)  # doctest: +SKIP
    >>> for step in run:                                                      # doctest: +SKIP
    ...     print(step.text, f"{step.prob:.2f}")
    >>> result = run.result()                                                 # doctest: +SKIP
    """

    def __init__(
        self,
        steps: Generator[Step, None, str],
        settings: GenerationSettings,
        prompt_length: int,
        finish: Callable[[Generation[ResultT]], ResultT],
    ) -> None:
        self.settings = settings
        self.prompt_length = prompt_length
        self.steps: list[Step] = []
        self.stop_reason: str | None = None
        self._loop = steps
        self._finish = finish
        self._stop = threading.Event()
        self._result: ResultT | None = None
        self._done = False

    def __iter__(self) -> Generation[ResultT]:
        return self

    def __next__(self) -> Step:
        if self.stop_reason is not None:
            raise StopIteration
        if self._stop.is_set():
            self._end("stopped")
            raise StopIteration
        try:
            step = next(self._loop)
        except StopIteration as end:
            self._end(end.value or "length")
            raise
        except KeyboardInterrupt:
            self._end("interrupted")
            raise
        except BaseException:
            self._end("error")
            raise
        self.steps.append(step)
        return step

    def stop(self) -> None:
        """End the generation before its next forward pass (thread-safe; what was written is kept)."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self.stop_reason is None

    def _end(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self._loop.close()  # frees the KV cache now, not when the Generation is collected

    def run(self) -> ResultT:
        """Generate to the end, then `result()`. A KeyboardInterrupt while generating ends the generation
        with what was written (stop_reason "interrupted") instead of losing it; one during the recorded pass
        that follows interrupts as usual."""
        try:
            for _ in self:
                pass
        except KeyboardInterrupt:
            self._end("interrupted")  # the tokens written so far are kept
        return self.result()

    def result(self) -> ResultT:
        """The recorded pass over prompt + the tokens written so far (made once; the generation is stopped
        first if it still runs)."""
        if not self._done:
            self._end("stopped")
            self._result = self._finish(self)
            self._done = True
        return self._result  # type: ignore[return-value]
