"""What the Ablate tab shows, as the views receive it: the prediction with some heads ablated (`_ablation`) and
every head's effect when ablated alone (`_head_effects`). Pure functions of an `Extraction` and the widget's
selection; the engine (`attnwidget.engine.interventions`) computes, this module encodes.

`_ablation` (`encoded_ablation`)
    info ``{position, target, target_id, heads: [[layer, head], ...], mode, ids, unavailable}``; ``tokens``:
    the visible text of each row; ``data``: float32 ``[1 + 2 × rows]``: KL(before ‖ after) over the
    vocabulary in nats, then each row's log-probability before and after. The rows are the top next tokens
    before and after and the target (always a row: its Δ is after − before), most likely before first;
    ``ids`` their token ids. (Numbers travel as bytes, never as JSON floats.)
`_head_effects` (`head_effects_state`)
    info ``{position, target, target_id, mode, layers, heads, done, state, unavailable}``; ``data``: float32
    ``[layers × heads]`` layer-major, the change in the target's log-probability when that head alone is
    ablated, NaN for a layer not computed yet. ``state``: ``"none"`` (not asked for; no data), ``"running"``
    (``done`` layers so far), ``"done"``, or ``"stopped"`` (interrupted after ``done`` layers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import interventions
from ..engine.tokens import visible_text
from .encode import encode_float32

# Next tokens listed before and after (their union, and the target, are the rows).
PREDICTIONS_K = 5
HEAD_EFFECT_STATES = ("none", "running", "done", "stopped")


def _texts(extraction: Any, ids: list[int]) -> list[str]:
    return [visible_text(text) for text in extraction.predictor.texts(np.array([ids]))[0]]


def _top_ids(logprobs: np.ndarray, k: int) -> list[int]:
    top = np.argpartition(-logprobs, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-logprobs[top], kind="stable")]]


def encoded_ablation(
    extraction: Any, position: int, target_id: int, heads: list[tuple[int, int]], mode: str
) -> dict[str, Any]:
    """The predictions after `position` with `heads` ablated (`Extraction.ablate`): the rows of `_ablation`.
    With no heads, "after" is "before" (no re-run)."""
    intervention = extraction.ablate(heads=heads, mode=mode)
    before = interventions.before_logprobs(extraction, position)  # kept with the recording: effect() reads it too
    after = intervention.logprobs(position) if heads else before
    k = min(PREDICTIONS_K, before.shape[0])
    ids = list(dict.fromkeys([*_top_ids(before, k), *_top_ids(after, k), target_id]))
    ids.sort(key=lambda i: -float(before[i]))
    effect = intervention.effect(position, target_id)
    info = {
        "position": position,
        "target": visible_text(effect["target"]),
        "target_id": target_id,
        "heads": [list(pair) for pair in intervention.heads],
        "mode": mode,
        "ids": ids,
        "unavailable": None,
    }
    kl = max(0.0, effect["kl"])  # float rounding can leave -1e-9 where nothing changed
    rows = np.stack([before[ids], after[ids]], axis=1)
    values = np.concatenate([[kl], rows.ravel()])
    return {"info": info, "tokens": _texts(extraction, ids), "data": encode_float32(values)}


def decode_ablation(encoded: dict[str, Any]) -> dict[str, Any]:
    """`_ablation` back into numbers (what the views read): {"kl", "rows": {token id: (before, after)},
    "target": (before, after)}; None values when unavailable."""
    info = encoded["info"]
    if not encoded["data"]:
        return {"kl": None, "rows": {}, "target": None}
    values = np.frombuffer(encoded["data"], dtype="<f4")
    pairs = values[1:].reshape(len(info["ids"]), 2)
    rows = {token: (float(b), float(a)) for token, (b, a) in zip(info["ids"], pairs)}
    return {"kl": float(values[0]), "rows": rows, "target": rows[info["target_id"]]}


def unavailable_ablation(position: int, heads: list[tuple[int, int]], mode: str, why: str) -> dict[str, Any]:
    """`_ablation` for a model that has nothing to ablate toward (an encoder): `why` says so."""
    info = {
        "position": position,
        "target": "",
        "target_id": -1,
        "heads": [list(pair) for pair in heads],
        "mode": mode,
        "ids": [],
        "unavailable": why,
    }
    return {"info": info, "tokens": [], "data": b""}


def head_effects_state(
    extraction: Any,
    position: int,
    target_id: int,
    mode: str,
    values: np.ndarray | None,
    done: int,
    state: str,
    unavailable: str | None = None,
) -> dict[str, Any]:
    """`_head_effects`: `values` float [layers, heads] with the first `done` layers computed (None: none)."""
    assert state in HEAD_EFFECT_STATES
    layers, heads = extraction.num_layers, extraction.num_heads
    target = "" if target_id < 0 else _texts(extraction, [target_id])[0]
    info = {
        "position": position,
        "target": target,
        "target_id": target_id,
        "mode": mode,
        "layers": layers,
        "heads": heads,
        "done": done,
        "state": state,
        "unavailable": unavailable,
    }
    if values is None:
        return {"info": info, "data": b""}
    shown = np.full((layers, heads), np.nan, dtype=np.float32)
    shown[:done] = values[:done]
    return {"info": info, "data": encode_float32(shown.ravel())}
