"""`AttentionWidget`: an anywidget that shows one `Extraction` in five linked canvas views.

Selection lives in synced traits (`layer`, `head`, `token`, `hovered_token`); set them from Python and the
views follow, click in the views and `observe` / `on_select` callbacks see it. Large arrays travel as
bytes made by `attnwidget.encode` (see that module for every encoding); `js/model.ts` mirrors the traits.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections import OrderedDict
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..analysis.scores import ASCENDING, SCORE_LABELS, SCORE_NAMES, HeadScoreAccumulator
from ..engine.extraction import NEURON_KINDS, Extraction
from . import encode
from .select_events import SelectEvents

_STATIC = pathlib.Path(__file__).parent.parent / "static"
COLOR_SCALES = ("linear", "gamma", "row", "log")
NEURON_K_MAX = 256
PREDICTIONS_SHOWN = 3
PREDICTIONS_MAX_TOKENS = 4096
# What `head_score` can be: "none" (the grid shows thumbnails) or a score of attnwidget.scores.
HEAD_SCORE_CHOICES = ("none", *SCORE_NAMES)
# Logit lens: top-k per layer for the pinned (else hovered) token; positions already computed are kept.
LENS_K = 5
LENS_CACHE_SIZE = 64
# Traits that describe the extraction (sent once) and the selection-dependent arrays; together with the
# public traits they are the widget's whole state (`state_for_export`).
_DATA_TRAITS = (
    "_info", "_tokens", "_thumbnails", "_stats", "_attention_map", "_attention_map_info",
    "_neurons", "_neurons_info", "_predictions", "_prediction_probs",
    "_head_scores",
    "_lens_tokens", "_lens_probs", "_lens_info",
    # The part of the selected head the zoomed heatmap shows at full resolution (long prompts).
    "_map_window", "_map_window_info",
)  # fmt: skip
_PUBLIC_TRAITS = (
    "layer", "head", "token", "hovered_token", "color_scale", "neuron_kind", "neuron_k", "head_score",
    "map_window",  # the heatmap's zoom window
)  # fmt: skip


def _index_error(what: str, value: object, low: int, high: int, extra: str = "") -> traitlets.TraitError:
    return traitlets.TraitError(f"{what} must be an int in {low}..{high}{extra}, got {value!r}")


class _CheckedInt(traitlets.Int):
    """An Int whose every assignment goes through `AttentionWidget._check` (one message format, naming the
    valid range; traitlets' own Int would cast 1.0 and word its errors differently)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(obj, AttentionWidget) and hasattr(obj, "_extraction") and self.name:
            return obj._check(self.name, value)
        return super().validate(obj, value)


class _CheckedUnicode(traitlets.Unicode):
    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(obj, AttentionWidget) and hasattr(obj, "_extraction") and self.name:
            return obj._check(self.name, value)
        return super().validate(obj, value)


class _CheckedWindow(traitlets.List):
    """`map_window`: ``[]`` or ``[q0, q1, k0, k1]`` (a dict with those keys is accepted), checked against the
    prompt's length by `encode.check_window` and stored as a list of ints."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(obj, AttentionWidget) and hasattr(obj, "_extraction"):
            try:
                window = encode.check_window(value, obj._extraction.seq_len)
            except ValueError as error:
                raise traitlets.TraitError(f"map_window: {error}") from None
            return [] if window is None else list(window)
        return super().validate(obj, value)


class AttentionWidget(SelectEvents, anywidget.AnyWidget):
    """Attention maps, neurons and statistics of one prompt, as linked views in a notebook.

    Parameters
    ----------
    extraction : the result of `AttentionExtractor.extract_activations`.
    layer, head : the head shown in the big heatmap.
    token : the pinned token (-1 for none).
    color_scale : ``"log"`` (the default: four decades below the map's maximum, so the small weights of
        long prompts stay visible), ``"linear"``, ``"gamma"`` (square root) or ``"row"`` (each query row
        scaled to its own maximum).
    neuron_kind : ``"residual"`` (residual stream after the layer) or ``"mlp"`` (MLP neurons).
    neuron_k : how many of the layer's most variable neurons the neuron plot shows (1..256).
    head_score : ``"none"`` or a head-role score (``"induction"``, ``"previous_token"``, ``"bos"``,
        ``"self"``, ``"local"``, ``"entropy"``; see `attnwidget.scores`) that colours the head grid and
        ranks the heads in the head-scores view.

    Examples
    --------
    >>> result = AttentionExtractor().extract_activations("The cat sat on the mat")  # doctest: +SKIP
    >>> w = AttentionWidget(result, layer=3, head=5)                                 # doctest: +SKIP
    >>> w.on_select(lambda selection: print(selection))                              # doctest: +SKIP
    >>> w                                                                            # doctest: +SKIP
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    # ---- public, synced both ways -----------------------------------------------------------------
    layer = _CheckedInt(0, help="Selected layer (row of the head grid).").tag(sync=True)
    head = _CheckedInt(0, help="Selected head (column of the head grid).").tag(sync=True)
    token = _CheckedInt(-1, help="Pinned token index, -1 for none.").tag(sync=True)
    hovered_token = _CheckedInt(-1, help="Token under the pointer (written by the views, throttled).").tag(sync=True)
    color_scale = _CheckedUnicode("log", help=f"One of {COLOR_SCALES}.").tag(sync=True)
    neuron_kind = _CheckedUnicode("residual", help=f"One of {NEURON_KINDS}.").tag(sync=True)
    neuron_k = _CheckedInt(16, help="Number of neurons in the neuron plot.").tag(sync=True)
    head_score = _CheckedUnicode(
        "none", help=f"Head-role score that colours the grid, one of {HEAD_SCORE_CHOICES}."
    ).tag(sync=True)
    map_window = _CheckedWindow(
        [], help="The heatmap's zoom window [q0, q1, k0, k1] (half-open token ranges), [] when not zoomed."
    ).tag(sync=True)

    # ---- private, Python → views (see attnwidget.encode for the byte layouts) -------------------------
    _info = traitlets.Dict().tag(sync=True)
    _tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _thumbnails = traitlets.Bytes(b"").tag(sync=True)
    _stats = traitlets.Bytes(b"").tag(sync=True)
    # float32 [len(score_names), layers, heads]: head-role scores (attnwidget.scores), NaN where undefined.
    _head_scores = traitlets.Bytes(b"").tag(sync=True)
    _attention_map = traitlets.Bytes(b"").tag(sync=True)
    _attention_map_info = traitlets.Dict().tag(sync=True)
    # `map_window` of the selected head (encode.encode_attention_window), info + {"layer", "head"}; {} if none.
    _map_window = traitlets.Bytes(b"").tag(sync=True)
    _map_window_info = traitlets.Dict().tag(sync=True)
    _neurons = traitlets.Bytes(b"").tag(sync=True)
    _neurons_info = traitlets.Dict().tag(sync=True)
    _predictions = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    _prediction_probs = traitlets.Bytes(b"").tag(sync=True)
    # Logit lens at one position: token texts [layers + 1][k], float16 probabilities [layers + 1, k], and
    # {"position", "k"} (position -1: none yet; "unavailable": why a model has none).
    _lens_tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    _lens_probs = traitlets.Bytes(b"").tag(sync=True)
    _lens_info = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        extraction: Extraction,
        *,
        layer: int = 0,
        head: int = 0,
        token: int = -1,
        color_scale: str = "log",
        neuron_kind: str = "residual",
        neuron_k: int = 16,
        head_score: str = "none",
    ) -> None:
        if not isinstance(extraction, Extraction):
            raise TypeError(
                f"AttentionWidget needs an Extraction (from AttentionExtractor().extract_activations), "
                f"got {type(extraction).__name__}"
            )
        if not _STATIC.joinpath("widget.js").exists():
            raise FileNotFoundError(
                f"{_STATIC / 'widget.js'} is missing: build the views with `npm run build` (or `make js`)"
            )
        self._extraction = extraction
        self._map_key: tuple[int, int] | None = None
        self._neurons_key: tuple[int, str, int] | None = None
        self._window_key: tuple[int, int, tuple[int, ...]] | None = None
        # The selected head's exact map, kept for zoom windows when the sent map is max-pooled.
        self._head_weights: tuple[tuple[int, int], np.ndarray] | None = None
        self._lens_position: int | None = None
        self._lens_cache: OrderedDict[int, tuple[list[list[str]], bytes]] = OrderedDict()
        # Everything goes to super().__init__ so that the comm's first message carries the whole state.
        super().__init__(
            **self._static_state(),
            **self._checked_selection(layer, head, token, color_scale, neuron_kind, neuron_k),
            head_score=self._check("head_score", head_score),
        )
        self._listen_for_selects()

    # ---- state built once ---------------------------------------------------------------------------
    def _static_state(self) -> dict[str, Any]:
        ex = self._extraction
        # Head-role scores ride on the same pass over the layers (unless the extraction has them already).
        roles = None if ex._head_scores is not None else HeadScoreAccumulator(ex.num_layers, ex.num_heads, ex.input_ids)
        layers = ex.iter_attention() if roles is None else roles.tap(ex.iter_attention())
        thumbnails, stats = encode.attention_summary(layers, ex.num_layers, ex.num_heads, ex.seq_len)
        if roles is not None:
            ex._head_scores = roles.result()
        role_scores = ex.head_scores()
        widths = self._neuron_widths
        info = {
            "model_name": ex.model_name,
            "num_layers": ex.num_layers,
            "num_heads": ex.num_heads,
            "num_kv_heads": ex.num_kv_heads,
            "seq_len": ex.seq_len,
            "is_causal": bool(ex.is_causal),
            "thumbnail_size": int(thumbnails.shape[-1]),
            "stat_names": list(encode.STAT_NAMES),
            "stat_labels": [encode.STAT_LABELS[name] for name in encode.STAT_NAMES],
            "neuron_widths": widths,
            "score_names": list(SCORE_NAMES),
            "score_labels": [SCORE_LABELS[name] for name in SCORE_NAMES],
            "score_ascending": [name in ASCENDING for name in SCORE_NAMES],
        }
        predictions: list[list[str]] = []
        probs = b""
        # Predictions are unembedded on first read (~1 s per 1000 tokens for SmolLM2); very long prompts
        # go without them rather than wait.
        top_probs = ex.top_probs if ex.seq_len <= PREDICTIONS_MAX_TOKENS else None
        top_tokens = ex.top_tokens if top_probs is not None else None
        if top_tokens is not None and top_probs is not None:
            shown = min(PREDICTIONS_SHOWN, top_probs.shape[1])
            predictions = [list(row[:shown]) for row in top_tokens]
            probs = encode.to_float16(top_probs[:, :shown]).tobytes()
        return {
            "_info": info,
            "_tokens": list(ex.display_tokens),
            "_thumbnails": thumbnails.tobytes(),
            "_stats": stats.tobytes(),
            "_head_scores": np.stack([role_scores[name] for name in SCORE_NAMES]).astype("<f4").tobytes(),
            "_predictions": predictions,
            "_prediction_probs": probs,
        }

    def _checked_selection(
        self, layer: int, head: int, token: int, color_scale: str, neuron_kind: str, neuron_k: int
    ) -> dict[str, Any]:
        values = {
            "layer": layer,
            "head": head,
            "token": token,
            "color_scale": color_scale,
            "neuron_kind": neuron_kind,
            "neuron_k": neuron_k,
        }
        checked = {name: self._check(name, value) for name, value in values.items()}
        checked.update(self._map_state(checked["layer"], checked["head"]))
        checked.update(self._neuron_state(checked["layer"], checked["neuron_kind"], checked["neuron_k"]))
        checked.update(self._lens_state(checked["token"]))
        return checked

    # ---- validation ---------------------------------------------------------------------------------
    def _check(self, name: str, value: Any) -> Any:
        ex = self._extraction
        if name in ("layer", "head", "token", "hovered_token", "neuron_k"):
            low, high, extra = {
                "layer": (0, ex.num_layers - 1, f" (this model has {ex.num_layers} layers)"),
                "head": (0, ex.num_heads - 1, f" (each layer has {ex.num_heads} heads)"),
                "token": (-1, ex.seq_len - 1, f" (-1 for none; the prompt has {ex.seq_len} tokens)"),
                "hovered_token": (-1, ex.seq_len - 1, f" (-1 for none; the prompt has {ex.seq_len} tokens)"),
                "neuron_k": (1, self._neuron_k_max(), ""),
            }[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise _index_error(name, value, low, high, extra)
            return int(value)
        if name == "head_score":
            if not isinstance(value, str) or value not in HEAD_SCORE_CHOICES:
                raise traitlets.TraitError(
                    f"head_score must be one of {', '.join(map(repr, HEAD_SCORE_CHOICES))}, got {value!r}"
                )
            return value
        choices: tuple[str, ...] = COLOR_SCALES if name == "color_scale" else self._neuron_kinds()
        if value not in choices:
            raise traitlets.TraitError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    @property
    def _neuron_widths(self) -> dict[str, int]:
        """Width of each neuron kind the extraction has (MLP neurons are read one layer, not all)."""
        if not hasattr(self, "_widths"):
            ex = self._extraction
            self._widths = {"residual": int(ex.residual_stream.shape[-1])}
            with contextlib.suppress(ValueError):  # raised when the model's MLP could not be located
                self._widths["mlp"] = int(ex.neuron_activations(0, "mlp").shape[-1])
        return self._widths

    def _neuron_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in NEURON_KINDS if kind in self._neuron_widths)

    def _neuron_k_max(self) -> int:
        return min(NEURON_K_MAX, *self._neuron_widths.values())

    # ---- arrays that follow the selection ---------------------------------------------------------
    def _head_map(self, layer: int, head: int) -> np.ndarray:
        """`extraction.attention(layer, head)`, kept for the selected head of a long prompt (its zoom windows
        are sliced from it, not recomputed)."""
        if self._head_weights is not None and self._head_weights[0] == (layer, head):
            return self._head_weights[1]
        weights = self._extraction.attention(layer, head)
        if weights.shape[-1] > encode.MAP_MAX_SIZE:
            # A view into a cached layer would keep all of its heads alive after the cache drops it.
            if weights.base is not None and weights.base.nbytes > weights.nbytes:
                weights = weights.copy()
            self._head_weights = ((layer, head), weights)
        return weights

    def _map_state(self, layer: int, head: int) -> dict[str, Any]:
        ex = self._extraction
        data, info = encode.encode_attention_map(self._head_map(layer, head), ex.is_causal)
        self._map_key = (layer, head)
        return {"_attention_map": data, "_attention_map_info": {"layer": layer, "head": head, **info}}

    def _neuron_state(self, layer: int, kind: str, k: int) -> dict[str, Any]:
        activations = self._extraction.neuron_activations(layer, kind)
        data, indices = encode.encode_neurons(activations, k)
        self._neurons_key = (layer, kind, k)
        return {
            "_neurons": data,
            "_neurons_info": {
                "layer": layer,
                "kind": kind,
                "k": len(indices),
                "seq_len": activations.shape[0],
                "dtype": "float16",
                "indices": indices,
            },
        }

    @traitlets.observe("layer", "head")
    def _on_head_change(self, _change: dict[str, Any]) -> None:
        # A click sets layer and head in one message; both observers then see the final pair.
        if self._map_key != (self.layer, self.head):
            with self.hold_sync():
                for name, value in self._map_state(self.layer, self.head).items():
                    setattr(self, name, value)

    @traitlets.observe("layer", "neuron_kind", "neuron_k")
    def _on_neuron_change(self, _change: dict[str, Any]) -> None:
        if self._neurons_key != (self.layer, self.neuron_kind, self.neuron_k):
            with self.hold_sync():
                for name, value in self._neuron_state(self.layer, self.neuron_kind, self.neuron_k).items():
                    setattr(self, name, value)

    def _lens_state(self, position: int) -> dict[str, Any]:
        """Logit lens traits for `position` (-1: none), from a small per-position cache."""
        ex = self._extraction
        empty: dict[str, Any] = {"_lens_tokens": [], "_lens_probs": b"", "_lens_info": {"position": -1, "k": 0}}
        if ex.lens is None or ex.final_hidden is None:
            empty["_lens_info"]["unavailable"] = f"{ex.model_name} is not a causal language model: it has no logit lens"
            self._lens_position = -1
            return empty
        if position < 0:
            self._lens_position = -1
            return empty
        cached = self._lens_cache.get(position)
        if cached is None:
            try:
                ids, probs = ex.logit_lens_arrays(position, LENS_K)
            except ValueError as error:  # the final norm could not be located
                empty["_lens_info"]["unavailable"] = str(error)
                self._lens_position = -1
                return empty
            cached = (ex.lens.texts(ids), encode.to_float16(probs).tobytes())
            self._lens_cache[position] = cached
            while len(self._lens_cache) > LENS_CACHE_SIZE:
                self._lens_cache.popitem(last=False)
        self._lens_cache.move_to_end(position)
        self._lens_position = position
        texts, data = cached
        return {
            "_lens_tokens": texts,
            "_lens_probs": data,
            "_lens_info": {"position": position, "k": len(texts[0]) if texts else 0},
        }

    @traitlets.observe("token", "hovered_token")
    def _on_lens_target_change(self, _change: dict[str, Any]) -> None:
        # The pinned token, else the hovered one. When neither, the last lens stays (the views say so): a
        # person moving the pointer from the token strip to the lens can still read it.
        position = self.token if self.token >= 0 else self.hovered_token
        if position >= 0 and position != self._lens_position:
            with self.hold_sync():
                for name, value in self._lens_state(position).items():
                    setattr(self, name, value)

    def _window_state(self, layer: int, head: int, window: list[int]) -> dict[str, Any]:
        self._window_key = (layer, head, tuple(window))
        if not window:
            return {"_map_window": b"", "_map_window_info": {}}
        q0, q1, k0, k1 = window
        data, info = encode.encode_attention_window(self._head_map(layer, head), (q0, q1, k0, k1))
        return {"_map_window": data, "_map_window_info": {"layer": layer, "head": head, **info}}

    @traitlets.observe("layer", "head", "map_window")
    def _on_window_change(self, _change: dict[str, Any]) -> None:
        if self._window_key != (self.layer, self.head, tuple(self.map_window)):
            with self.hold_sync():
                for name, value in self._window_state(self.layer, self.head, self.map_window).items():
                    setattr(self, name, value)

    def encoded_window(self, layer: int, head: int, window: Any) -> dict[str, Any]:
        """A head's map inside ``window`` = ``[q0, q1, k0, k1]`` as ``{"info": ..., "data": bytes}``: what the
        views receive in ``_map_window_info`` / ``_map_window`` when the heatmap is zoomed there."""
        layer, head = self._check("layer", layer), self._check("head", head)
        checked = encode.check_window(window, self._extraction.seq_len)
        if checked is None:
            raise ValueError("window must be [q0, q1, k0, k1], not empty")
        data, info = encode.encode_attention_window(self._extraction.attention(layer, head), checked)
        return {"info": {"layer": layer, "head": head, **info}, "data": data}

    # ---- events from the views: see SelectEvents (on_select) -----------------------------------------

    # ---- read-outs ------------------------------------------------------------------------------------
    @property
    def extraction(self) -> Extraction:
        return self._extraction

    @property
    def selection(self) -> dict[str, int]:
        return {"layer": self.layer, "head": self.head, "token": self.token}

    def state_for_export(self) -> dict[str, Any]:
        """The whole state the views need, as ``{trait name: value}``: JSON values, and `bytes` for the
        array traits (give those to the page as base64 ``{"$bytes": "..."}``; `mountStatic` in the JS
        bundle turns them into DataViews). Rendering it needs no kernel."""
        return {name: getattr(self, name) for name in (*_PUBLIC_TRAITS, *_DATA_TRAITS)}

    def encoded_head(self, layer: int, head: int) -> dict[str, Any]:
        """Another head's full-resolution map as ``{"info": ..., "data": bytes}``: what the views receive
        in ``_attention_map_info`` / ``_attention_map`` when that head is selected. A kernel-less page can
        carry several (``mountStatic(el, state, extraMaps)``) so that clicking them needs no kernel."""
        layer = self._check("layer", layer)
        head = self._check("head", head)
        ex = self._extraction
        data, info = encode.encode_attention_map(ex.attention(layer, head), ex.is_causal)
        return {"info": {"layer": layer, "head": head, **info}, "data": data}

    def encoded_neurons(self, layer: int) -> dict[str, Any]:
        """Another layer's neuron plot (current kind and k) as ``{"info": ..., "data": bytes}``: what the
        views receive in ``_neurons_info`` / ``_neurons`` when that layer is selected."""
        state = self._neuron_state(self._check("layer", layer), self.neuron_kind, self.neuron_k)
        return {"info": state["_neurons_info"], "data": state["_neurons"]}

    def state_nbytes(self) -> int:
        """Bytes of array data plus the JSON size of everything else, roughly what the first message costs."""
        import json

        total = 0
        for value in self.state_for_export().values():
            total += len(value) if isinstance(value, bytes) else len(json.dumps(value))
        return total


_extractors: dict[str, Any] = {}


def show(prompt: str, model: Any = None, **widget_options: Any) -> AttentionWidget:
    """Extract `prompt` with `model` (the bundled SmolLM2 by default) and return the widget.

    `model` is a model spec (alias, folder, .gguf file, cached hub id) or an `AttentionExtractor`;
    extractors built from specs are kept for the next call. Keyword options go to `AttentionWidget`.
    """
    from ..engine.extractor import AttentionExtractor

    if isinstance(model, AttentionExtractor):
        extractor = model
    elif model is None or isinstance(model, (str, os.PathLike)):
        key = str(model)
        if key not in _extractors:
            _extractors[key] = AttentionExtractor(model)
        extractor = _extractors[key]
    else:
        raise TypeError(f"model must be a model spec or an AttentionExtractor, got {type(model).__name__}")
    return AttentionWidget(extractor.extract_activations(prompt), **widget_options)
