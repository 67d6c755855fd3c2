"""The wire format of an AttentionWidget's generation: `_generation` (the steps as the model chose them) and
`_step_rows` (where every head looked when it chose each token). Pure functions of the steps and the maps;
the widget (attention.py) decides when to send them. The views' half: js/generation.ts.

`_generation`::

    {"info": {prompt_length, steps, max_new_tokens, running, recorded, stop_reason, error, k, sampling},
     "tokens": [steps] texts, "alternatives": [steps][<= k] texts (both as `visible_text` shows them),
     "data": float32 [steps probs, steps entropies (nats), steps * k alternative probs (NaN: fewer than k)]}

`_step_rows`::

    {"info": {first, count, prompt_length, layers, heads, dtype: "float16"},
     "data": float16: for each step s of first..first+count-1, layers x heads rows of prompt_length + s values
     (the causal part of the attention row of position prompt_length + s - 1, the one that chose token s)}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.generation import GenerationSettings, Step
from ..engine.tokens import visible_text
from . import encode

# Alternatives per step the views list.
ALTERNATIVES_SHOWN = 5
# Raw bytes `_step_rows` may hold for all steps at once (the first message stays under 3 MiB with the rest);
# beyond it, the selected step only.
STEP_ROWS_BUDGET = 2 * 1024 * 1024


class StepTexts:
    """The texts each step shows (its token, its alternatives), decoded once per step: the views get the whole
    list again after every step, and decoding is the only part that costs."""

    def __init__(self) -> None:
        self._texts: list[tuple[str, list[str], list[float]]] = []

    def of(self, steps: Sequence[Step]) -> list[tuple[str, list[str], list[float]]]:
        for step in steps[len(self._texts) :]:
            alternatives = step.alternatives(ALTERNATIVES_SHOWN) if len(step.alternative_ids) else []
            texts = [visible_text(text) for text, _ in alternatives]
            self._texts.append((visible_text(step.text), texts, [p for _, p in alternatives]))
        return self._texts[: len(steps)]


def no_generation(prompt_length: int) -> dict[str, Any]:
    """`_generation` of a widget that generated nothing."""
    return encoded_generation([], StepTexts(), None, prompt_length, 0, running=False, recorded=False)


def encoded_generation(
    steps: Sequence[Step],
    texts: StepTexts,
    settings: GenerationSettings | None,
    prompt_length: int,
    max_new_tokens: int,
    *,
    running: bool,
    recorded: bool,
    stop_reason: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """`_generation` for the steps taken so far (layout: module docstring)."""
    k = ALTERNATIVES_SHOWN
    shown = texts.of(steps)
    alternative_probs = np.full((len(steps), k), np.nan)
    for row, (_, _, probs) in enumerate(shown):
        alternative_probs[row, : len(probs)] = probs
    values = np.concatenate(
        [[step.prob for step in steps], [step.entropy for step in steps], alternative_probs.ravel()]
    )
    sampling = describe_sampling(settings)
    info = {
        "prompt_length": int(prompt_length),
        "steps": len(steps),
        "max_new_tokens": int(max_new_tokens),
        "running": bool(running),
        "recorded": bool(recorded),
        "stop_reason": stop_reason,
        "error": error,
        "k": k,
        "sampling": sampling,
    }
    return {
        "info": info,
        "tokens": [text for text, _, _ in shown],
        "alternatives": [alternatives for _, alternatives, _ in shown],
        "data": encode.encode_float32(values),
    }


def describe_sampling(settings: GenerationSettings | None) -> str:
    """How the tokens were chosen, as the view shows it ("greedy", or "sampled · temperature 0.7 · top-k 40 ·
    top-p 0.9 · seed 7"): text, so that no setting travels as a JSON float (arrays never do)."""
    if settings is None or not settings.do_sample:
        return "greedy"
    parts = ["sampled", f"temperature {settings.temperature:g}"]
    parts += [f"top-k {settings.top_k}"] if settings.top_k is not None else []
    parts += [f"top-p {settings.top_p:g}"] if settings.top_p is not None else []
    parts += [f"seed {settings.seed}"] if settings.seed is not None else []
    return " · ".join(parts)


def step_rows_values(prompt_length: int, first: int, count: int, layers: int, heads: int) -> int:
    """How many values `_step_rows` holds for steps first..first+count-1."""
    lengths = prompt_length + first + np.arange(count)
    return int(layers * heads * lengths.sum())


def encoded_step_rows(rows: np.ndarray, prompt_length: int, first: int) -> dict[str, Any]:
    """`_step_rows` from `rows` float [layers, heads, count, seq]: the attention rows of positions
    prompt_length + first - 1 ... (the positions that chose steps first...), each cut to its causal part."""
    layers, heads, count = (int(n) for n in rows.shape[:3])
    parts = [rows[:, :, index, : prompt_length + first + index].ravel() for index in range(count)]
    values = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    info = {
        "first": int(first),
        "count": count,
        "prompt_length": int(prompt_length),
        "layers": layers,
        "heads": heads,
        "dtype": "float16",
    }
    return {"info": info, "data": encode.encode_float16(values)}


def no_step_rows(prompt_length: int, layers: int, heads: int) -> dict[str, Any]:
    return encoded_step_rows(np.zeros((layers, heads, 0, 0), np.float32), prompt_length, 0)


def decode_step_rows(encoded: dict[str, Any]) -> dict[int, np.ndarray]:
    """The inverse of `encoded_step_rows`: {step: float32 [layers, heads, prompt_length + step]} (for tests
    and for Python readers of a saved state)."""
    info = encoded["info"]
    values = np.frombuffer(encoded["data"], dtype="<f2").astype(np.float32)
    layers, heads, prompt_length = info["layers"], info["heads"], info["prompt_length"]
    out: dict[int, np.ndarray] = {}
    offset = 0
    for step in range(info["first"], info["first"] + info["count"]):
        size = layers * heads * (prompt_length + step)
        out[step] = values[offset : offset + size].reshape(layers, heads, prompt_length + step)
        offset += size
    return out
