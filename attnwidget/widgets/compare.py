"""`CompareWidget`: two or more prompts side by side with one shared selection, and how their heads differ.

Each prompt gets a panel (its tokens and the selected head's map, the same views as `AttentionWidget`);
layer, head, pinned and hovered token are synced traits shared by every panel. When the prompts have the
same number of tokens a difference map (``diff_pair[1]`` minus ``diff_pair[0]``) is shown too. A layers ×
heads grid and a sorted list show which heads change most between the prompts; the distances are defined
in `attnwidget.differences`. Arrays travel as bytes made by `attnwidget.encode`; `js/compare/model.ts`
mirrors the traits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..analysis import differences as _differences
from ..engine.extraction import Extraction
from . import encode
from .attention import _STATIC, COLOR_SCALES
from .select_events import SelectEvents

# Full-resolution maps of all prompts together get at most this many bytes (each prompt's map side shrinks
# below encode.MAP_MAX_SIZE when there are many long prompts); with the thumbnails (THUMBNAIL_BUDGET in
# all) every message stays under encode.MESSAGE_LIMIT.
MAPS_BUDGET = 6 * 1024 * 1024
RANKING_SIZE = 10
_SHARED_TRAITS = ("layer", "head", "token", "hovered_token", "color_scale", "metric", "diff_pair")


class _Checked(traitlets.TraitType):  # type: ignore[type-arg]
    """A trait whose every assignment goes through `CompareWidget._check` (one message format)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(obj, CompareWidget) and hasattr(obj, "_extractions"):
            return obj._check(str(self.name), value)
        return value


def _map_side(seq_len: int, causal: bool, prompts: int) -> int:
    per_prompt = MAPS_BUDGET // prompts
    # Lower triangle of float16: ~side² bytes; full: 2·side² bytes.
    return max(1, min(encode.map_size(seq_len), math.isqrt(per_prompt // (1 if causal else 2))))


def encode_map(weights: np.ndarray, causal: bool, side: int) -> tuple[bytes, dict[str, Any]]:
    """`encode.encode_attention_map`, max-pooled to at most `side` first (same layout and info keys)."""
    seq_len = weights.shape[0]
    pooled = encode.max_pool(weights, side) if side < seq_len else weights
    data, info = encode.encode_attention_map(pooled, causal)
    info.update(seq_len=seq_len, pooled=info["size"] < seq_len)
    return data, info


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CompareWidget(SelectEvents, anywidget.AnyWidget):
    """Attention of two or more prompts side by side, with one shared selection and per-head differences.

    Parameters
    ----------
    extractions : two or more `Extraction` objects from models with the same layer and head counts
        (e.g. ``AttentionExtractor().extract_batch([...])``).
    layer, head : the head every panel shows.
    token : the pinned token index (-1 for none), shared by every panel.
    color_scale : colour scale of the panels' maps, as in `AttentionWidget`.
    metric : how head differences are measured: ``"js"`` (Jensen-Shannon), ``"tv"`` (total variation) or
        ``"stats"`` (length-independent statistics); the map metrics need prompts of equal length.
        Default: ``"js"`` when the prompts have the same length, else ``"stats"``.
    diff_pair : the two prompts of the difference map (shows ``diff_pair[1] − diff_pair[0]``).
    labels : a short name for each prompt (default: the prompt text).

    Examples
    --------
    >>> extractor = AttentionExtractor()                                              # doctest: +SKIP
    >>> a, b = extractor.extract_batch(["The cat sat on the mat", "The dog sat on the mat"])  # doctest: +SKIP
    >>> w = CompareWidget([a, b])                                                     # doctest: +SKIP
    >>> w.ranking(3)                                    # [(layer, head, score), ...]  # doctest: +SKIP
    """

    _esm = _STATIC / "compare.js"
    _css = _STATIC / "compare.css"

    # ---- public, synced both ways -----------------------------------------------------------------
    layer = _Checked(0, help="Selected layer, shared by every panel.").tag(sync=True)
    head = _Checked(0, help="Selected head, shared by every panel.").tag(sync=True)
    token = _Checked(-1, help="Pinned token index (-1 for none), shared by every panel.").tag(sync=True)
    hovered_token = _Checked(-1, help="Token index under the pointer in any panel (-1 for none).").tag(sync=True)
    color_scale = _Checked("log", help=f"One of {COLOR_SCALES}.").tag(sync=True)
    metric = _Checked("stats", help=f"One of {_differences.METRICS} (see attnwidget.differences).").tag(sync=True)
    diff_pair = _Checked([0, 1], help="[a, b]: the difference map shows prompt b minus prompt a.").tag(sync=True)

    # ---- private, Python → views (byte layouts: attnwidget.encode, attnwidget.differences) ---------
    _info = traitlets.Dict().tag(sync=True)
    _tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    _thumbnails = traitlets.List(traitlets.Bytes()).tag(sync=True)
    _maps = traitlets.List(traitlets.Bytes()).tag(sync=True)
    _maps_info = traitlets.List(traitlets.Dict()).tag(sync=True)
    _head_diff = traitlets.Bytes(b"").tag(sync=True)
    _head_stats = traitlets.Bytes(b"").tag(sync=True)

    def __init__(
        self,
        extractions: Sequence[Extraction],
        *,
        layer: int = 0,
        head: int = 0,
        token: int = -1,
        color_scale: str = "log",
        metric: str | None = None,
        diff_pair: Sequence[int] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self._extractions = _validated(extractions)
        self._labels = _validated_labels(labels, len(self._extractions))
        if not _STATIC.joinpath("compare.js").exists():
            raise FileNotFoundError(
                f"{_STATIC / 'compare.js'} is missing: build the views with `npm run build` (or `make js`)"
            )
        self._maps_key: tuple[int, int] | None = None
        self._diffs, thumbnails = _differences.compute(self._extractions)
        if metric is None:
            metric = self._diffs.metrics[0]
        if diff_pair is None:
            diff_pair = self._default_pair()
        selection = {
            name: self._check(name, value)
            for name, value in {
                "layer": layer,
                "head": head,
                "token": token,
                "color_scale": color_scale,
                "metric": metric,
                "diff_pair": diff_pair,
            }.items()
        }
        super().__init__(
            **self._static_state(thumbnails), **selection, **self._maps_state(selection["layer"], selection["head"])
        )
        self._listen_for_selects()

    # ---- state built once ---------------------------------------------------------------------------
    def _static_state(self, thumbnails: list[np.ndarray]) -> dict[str, Any]:
        exs = self._extractions
        first = exs[0]
        diffs = self._diffs
        info = {
            "model_name": first.model_name,
            "num_layers": first.num_layers,
            "num_heads": first.num_heads,
            "num_kv_heads": first.num_kv_heads,
            "is_causal": bool(first.is_causal),
            "prompts": [ex.prompt for ex in exs],
            "labels": self._labels,
            "seq_lens": [ex.seq_len for ex in exs],
            "thumbnail_sizes": [int(t.shape[-1]) for t in thumbnails],
            "metrics": list(diffs.metrics),
            "metric_labels": [_differences.METRIC_LABELS[m] for m in diffs.metrics],
            "stat_names": list(_differences.HEAD_STAT_NAMES),
            "stat_labels": [_differences.HEAD_STAT_LABELS[s] for s in _differences.HEAD_STAT_NAMES],
            "ranking_size": RANKING_SIZE,
        }
        return {
            "_info": info,
            "_tokens": [list(ex.display_tokens) for ex in exs],
            "_thumbnails": [t.tobytes() for t in thumbnails],
            # float32 [len(metrics), layers, heads] and [prompts, len(stat_names), layers, heads].
            "_head_diff": np.stack([diffs.scores[m] for m in diffs.metrics]).astype("<f4").tobytes(),
            "_head_stats": diffs.statistics.astype("<f4").tobytes(),
        }

    def _default_pair(self) -> list[int]:
        lengths = [ex.seq_len for ex in self._extractions]
        for a in range(len(lengths)):
            for b in range(a + 1, len(lengths)):
                if lengths[a] == lengths[b]:
                    return [a, b]
        return [0, 1]

    # ---- validation ---------------------------------------------------------------------------------
    def _check(self, name: str, value: Any) -> Any:
        first = self._extractions[0]
        longest = max(ex.seq_len for ex in self._extractions)
        count = len(self._extractions)
        if name in ("layer", "head", "token", "hovered_token"):
            low, high, extra = {
                "layer": (0, first.num_layers - 1, f" (this model has {first.num_layers} layers)"),
                "head": (0, first.num_heads - 1, f" (each layer has {first.num_heads} heads)"),
                "token": (-1, longest - 1, f" (-1 for none; the longest prompt has {longest} tokens)"),
                "hovered_token": (-1, longest - 1, f" (-1 for none; the longest prompt has {longest} tokens)"),
            }[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise traitlets.TraitError(f"{name} must be an int in {low}..{high}{extra}, got {value!r}")
            return int(value)
        if name == "diff_pair":
            ok = (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
                and all(0 <= v < count for v in value)
                and value[0] != value[1]
            )
            if not ok:
                raise traitlets.TraitError(
                    f"diff_pair must be two different prompt indices in 0..{count - 1}, got {value!r}"
                )
            return [int(value[0]), int(value[1])]
        choices = COLOR_SCALES if name == "color_scale" else self._diffs.metrics
        if value not in choices:
            why = ""
            if name == "metric" and value in _differences.METRICS:
                why = " (the map metrics need prompts with the same number of tokens)"
            raise traitlets.TraitError(f"{name} must be one of {', '.join(map(repr, choices))}{why}, got {value!r}")
        return value

    # ---- arrays that follow the selection ---------------------------------------------------------
    def _maps_state(self, layer: int, head: int) -> dict[str, Any]:
        count = len(self._extractions)
        maps, infos = [], []
        for ex in self._extractions:
            data, info = encode_map(ex.attention(layer, head), ex.is_causal, _map_side(ex.seq_len, ex.is_causal, count))
            maps.append(data)
            infos.append({"layer": layer, "head": head, **info})
        self._maps_key = (layer, head)
        return {"_maps": maps, "_maps_info": infos}

    @traitlets.observe("layer", "head")
    def _on_head_change(self, _change: dict[str, Any]) -> None:
        if self._maps_key != (self.layer, self.head):
            with self.hold_sync():
                for name, value in self._maps_state(self.layer, self.head).items():
                    setattr(self, name, value)

    # ---- events from the views: see SelectEvents (on_select) -----------------------------------------

    # ---- read-outs ------------------------------------------------------------------------------------
    @property
    def extractions(self) -> list[Extraction]:
        return list(self._extractions)

    @property
    def differences(self) -> _differences.HeadDifferences:
        """Per-head distances and statistics (see `attnwidget.differences`)."""
        return self._diffs

    @property
    def head_differences(self) -> np.ndarray:
        """float32 [layers, heads]: each head's distance between the prompts under the current `metric`."""
        return self._diffs.scores[self.metric]

    def ranking(self, k: int | None = RANKING_SIZE) -> list[tuple[int, int, float]]:
        """(layer, head, score) of the `k` heads that change most under the current `metric`, largest first."""
        return self._diffs.ranking(self.metric, k)

    @property
    def selection(self) -> dict[str, int]:
        return {"layer": self.layer, "head": self.head, "token": self.token}

    def state_nbytes(self) -> int:
        """Bytes of array data plus the JSON size of everything else, roughly what the first message costs."""
        import json

        total = 0
        for name in (*_SHARED_TRAITS, "_info", "_tokens", "_thumbnails", "_maps", "_maps_info", "_head_diff",
                     "_head_stats"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bytes):
                total += len(value)
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                total += sum(len(v) for v in value)
            else:
                total += len(json.dumps(value))
        return total


def _validated(extractions: Any) -> list[Extraction]:
    if isinstance(extractions, Extraction) or not isinstance(extractions, Sequence) or isinstance(extractions, str):
        raise TypeError(
            f"CompareWidget needs a list of Extractions (from AttentionExtractor().extract_batch), "
            f"got {type(extractions).__name__}"
        )
    items = list(extractions)
    for index, item in enumerate(items):
        if not isinstance(item, Extraction):
            raise TypeError(f"CompareWidget needs Extractions, item {index} is a {type(item).__name__}")
    if len(items) < 2:
        raise ValueError(f"CompareWidget needs at least 2 extractions to compare, got {len(items)}")
    first = items[0]

    def shape(i: int, ex: Extraction) -> str:
        kind = "causal" if ex.is_causal else "bidirectional"
        return f"#{i} ({ex.model_name}: {ex.num_layers} layers × {ex.num_heads} heads, {kind})"

    for index, ex in enumerate(items[1:], start=1):
        if (ex.num_layers, ex.num_heads, ex.is_causal) != (first.num_layers, first.num_heads, first.is_causal):
            raise ValueError(f"extractions must come from models of one shape: {shape(0, first)} vs {shape(index, ex)}")
    return items


def _validated_labels(labels: Sequence[str] | None, count: int) -> list[str]:
    if labels is None:
        return [chr(ord("A") + i) if i < 26 else str(i) for i in range(count)]
    if isinstance(labels, str) or len(labels) != count or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be a list of {count} strings, one per extraction")
    return [_clip(x, 40) for x in labels]


def compare(prompts: Sequence[str], model: Any = None, **widget_options: Any) -> CompareWidget:
    """Extract `prompts` with `model` (the bundled SmolLM2 by default) and return a `CompareWidget`.

    `model` is a model spec (alias, folder, .gguf file, cached hub id) or an `AttentionExtractor`;
    extractors built from specs are shared with `attnwidget.show`. Keyword options go to `CompareWidget`.

    Examples
    --------
    >>> attnwidget.compare(["The movie was great", "The movie was awful"])  # doctest: +SKIP
    """
    from ..engine.extractor import AttentionExtractor
    from .attention import _extractors

    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}")
    if len(prompts) < 2:
        raise ValueError(f"compare needs at least 2 prompts, got {len(prompts)}")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt {index} must be a non-empty string, got {prompt!r}")
    if isinstance(model, AttentionExtractor):
        extractor = model
    elif model is None or isinstance(model, (str, os.PathLike)):
        key = str(model)
        if key not in _extractors:
            _extractors[key] = AttentionExtractor(model)
        extractor = _extractors[key]
    else:
        raise TypeError(f"model must be a model spec or an AttentionExtractor, got {type(model).__name__}")
    return CompareWidget(extractor.extract_batch(list(prompts)), **widget_options)
