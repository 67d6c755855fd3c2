"""Patch A → B for one head, as `CompareWidget` shows it: how much of prompt B's next-token prediction moves
toward prompt A's when one head's output in B's run is taken from A's run. The engine patches
(`Extraction.patch`, `attnwidget.engine.interventions`); this module measures and encodes.

Definition (activation patching)
    B's run with the output of head (layer, head) (its slice of the attention output projection's input)
    taken from A's run: at every position when the prompts have the same number of tokens, else at the last
    position only (B's last row from A's last row). Everything is read at the last position. ``p_A`` and
    ``p_B`` are A's and B's top next tokens (unpatched). When they differ, the log-prob difference
    ``LD = log p(p_A) − log p(p_B)`` (= the logit difference) is measured in A's run, B's run and the patched
    run, and the **fraction moved** is ``(LD_patched − LD_B) / (LD_A − LD_B)``: 0 when nothing moved, 1 when
    B's run reads as A's on those two tokens (it can leave 0..1 either way). When A and B predict the same
    token the fraction is undefined; ``delta`` (the change of that token's log-prob) says what moved.

`_patch` (`encoded_patch`), the bytes the views read
    info ``{pair: [a, b], layer, head, positions: "all" | "last", source_position, target_position,
    source_top, target_top (visible texts), source_top_id, target_top_id, same_top, ids, before, after, k,
    unavailable}``; ``tokens``: the visible text of each row; ``data``: float32 ``[5 + 3 × rows]``: the
    fraction moved (NaN when undefined), LD in A's run, in B's run, in the patched run (NaN when the tops are
    the same), ``delta``; then per row its log-probability in A's run, in B's run and in the patched run. The
    rows (token ids ``ids``) are ``p_A``, ``p_B`` and B's top-k before and after; ``before`` and ``after``
    list the rows of B's top-k before and after the patch, most likely first. ``unavailable`` (no data) says
    why a model cannot be patched (an encoder predicts no next token). Every float travels in ``data``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import interventions
from ..engine.tokens import visible_text
from .encode import encode_float32

# B's next tokens listed before and after the patch.
PATCH_K = 5
# A's and B's unpatched log-probabilities after their last token (`last_logprobs`), or None to compute them.
Unpatched = tuple[np.ndarray, np.ndarray] | None


def _top_ids(logprobs: np.ndarray, k: int) -> list[int]:
    top = np.argpartition(-logprobs, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-logprobs[top], kind="stable")]]


def _texts(extraction: Any, ids: list[int]) -> list[str]:
    texts: list[str] = extraction.predictor.texts(np.array([ids]))[0]
    return list(texts)


def last_logprobs(extraction: Any) -> np.ndarray:
    """float64 [vocab]: the unmodified run's next-token log-probabilities after the last token."""
    last = extraction.seq_len - 1
    row = interventions.log_probs(extraction.predictor, extraction.final_hidden[last : last + 1])[0]
    return row.numpy().astype(np.float64)  # type: ignore[no-any-return]


def patch_effect(
    source: Any, target: Any, layer: int, head: int, k: int = PATCH_K, unpatched: Unpatched = None
) -> dict[str, Any]:
    """How far patching head (layer, head) from `source` (A) into `target` (B) moves B's prediction toward
    A's (see the module docstring). Raises the engine's ValueError for a model that cannot be patched.

    Returns ``{"layer", "head", "positions": "all" | "last", "source_top", "target_top" (texts),
    "source_top_id", "target_top_id", "same_top", "fraction" (None when the tops are the same),
    "logit_diff": {"source", "target", "patched"} (None when the same), "logprobs": {"source_top": {"source",
    "target", "patched"}, "target_top": {...}}, "delta" (the patched run's log-prob of B's top minus B's),
    "top_before", "top_after": [(text, probability)] × k}`` (B's top-k next tokens). `unpatched`: A's and B's
    `last_logprobs`, when the caller keeps them (they are the same for every head).
    """
    return _measure(source, target, layer, head, k, unpatched)[0]


def _runs(source: Any, target: Any, layer: int, head: int, unpatched: Unpatched) -> dict[str, np.ndarray]:
    """float64 [vocab] log-probabilities after the last token in A's run ("source"), B's ("target") and B's
    patched run ("patched")."""
    positions = None if source.seq_len == target.seq_len else [(target.seq_len - 1, source.seq_len - 1)]
    intervention = target.patch(source, heads=[(layer, head)], positions=positions)
    a, b = unpatched if unpatched is not None else (last_logprobs(source), last_logprobs(target))
    return {"source": a, "target": b, "patched": intervention.logprobs(-1).astype(np.float64)}


def _measure(
    source: Any, target: Any, layer: int, head: int, k: int, unpatched: Unpatched
) -> tuple[dict[str, Any], dict[str, np.ndarray], list[int], list[int]]:
    """`patch_effect`'s dict, the three runs' log-probabilities, and the ids of B's top-k before and after."""
    runs = _runs(source, target, layer, head, unpatched)
    a_top, b_top = int(np.argmax(runs["source"])), int(np.argmax(runs["target"]))
    same = a_top == b_top
    logit_diff = None if same else {name: float(lp[a_top] - lp[b_top]) for name, lp in runs.items()}
    fraction = None
    if logit_diff is not None:
        span = logit_diff["source"] - logit_diff["target"]
        fraction = (logit_diff["patched"] - logit_diff["target"]) / span if span > 0 else None
    k = min(k, runs["target"].shape[0])
    before, after = _top_ids(runs["target"], k), _top_ids(runs["patched"], k)
    texts = dict(zip([a_top, b_top, *before, *after], _texts(target, [a_top, b_top, *before, *after])))
    effect = {
        "layer": layer,
        "head": head,
        "positions": "all" if source.seq_len == target.seq_len else "last",
        "source_top": texts[a_top],
        "target_top": texts[b_top],
        "source_top_id": a_top,
        "target_top_id": b_top,
        "same_top": same,
        "fraction": fraction,
        "logit_diff": logit_diff,
        "logprobs": {
            "source_top": {name: float(lp[a_top]) for name, lp in runs.items()},
            "target_top": {name: float(lp[b_top]) for name, lp in runs.items()},
        },
        "delta": float(runs["patched"][b_top] - runs["target"][b_top]),
        "top_before": [(texts[i], math.exp(runs["target"][i])) for i in before],
        "top_after": [(texts[i], math.exp(runs["patched"][i])) for i in after],
    }
    return effect, runs, before, after


def encoded_patch(
    source: Any, target: Any, pair: list[int], layer: int, head: int, unpatched: Unpatched = None
) -> dict[str, Any]:
    """`_patch` for head (layer, head) patched from `source` (prompt ``pair[0]``) into `target` (``pair[1]``);
    a model that cannot be patched gets ``unavailable`` (the engine's reason) and no data."""
    info = _base_info(source, target, pair, layer, head)
    try:
        effect, runs, before, after = _measure(source, target, layer, head, PATCH_K, unpatched)
    except ValueError as error:  # an encoder, a model outside the attention interface, two models
        return unavailable_patch(source, target, pair, layer, head, str(error))
    a_top, b_top = effect["source_top_id"], effect["target_top_id"]
    ids = list(dict.fromkeys([a_top, b_top, *before, *after]))
    row = {token: index for index, token in enumerate(ids)}
    logit_diff = effect["logit_diff"] or {}
    summary = [
        math.nan if effect["fraction"] is None else effect["fraction"],
        *(logit_diff.get(name, math.nan) for name in ("source", "target", "patched")),
        effect["delta"],
    ]
    table = np.stack([runs[name][ids] for name in ("source", "target", "patched")], axis=1)
    info.update(
        source_top=visible_text(effect["source_top"]),
        target_top=visible_text(effect["target_top"]),
        source_top_id=a_top,
        target_top_id=b_top,
        same_top=effect["same_top"],
        ids=ids,
        before=[row[i] for i in before],
        after=[row[i] for i in after],
        k=len(before),
    )
    data = encode_float32(np.concatenate([np.array(summary, dtype=np.float64), table.ravel()]))
    return {"info": info, "tokens": [visible_text(text) for text in _texts(target, ids)], "data": data}


def unavailable_patch(source: Any, target: Any, pair: list[int], layer: int, head: int, why: str) -> dict[str, Any]:
    """`_patch` that says why nothing can be patched (`why`)."""
    return {"info": {**_base_info(source, target, pair, layer, head), "unavailable": why}, "tokens": [], "data": b""}


def _base_info(source: Any, target: Any, pair: list[int], layer: int, head: int) -> dict[str, Any]:
    return {
        "pair": list(pair),
        "layer": layer,
        "head": head,
        "positions": "all" if source.seq_len == target.seq_len else "last",
        "source_position": source.seq_len - 1,
        "target_position": target.seq_len - 1,
        "source_top": "",
        "target_top": "",
        "source_top_id": -1,
        "target_top_id": -1,
        "same_top": False,
        "ids": [],
        "before": [],
        "after": [],
        "k": 0,
        "unavailable": None,
    }
