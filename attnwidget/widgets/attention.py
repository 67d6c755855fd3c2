"""`AttentionWidget`: one `Extraction` in linked canvas views. Its TypeScript half is `js/model.ts` (the
traits) and `js/widget.ts` (the views).

Selection lives in synced traits (`layer`, `head`, `token`, `hovered_token`, ...); set them from Python and
the views follow, click in the views and `observe` / `on_select` callbacks see it. Arrays travel as bytes
in the format of `attnwidget.widgets.encode`. What the views show for the selection (the selected head's
map, the layer's neurons, the logit lens of the pinned token) is made by pure functions of the selection
(`encoded_head`, `encoded_neurons`, `encoded_lens`, `encoded_window`); the observers compare what a trait
holds with the selection and replace it when they differ, so nothing else needs to remember what is shown.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any

import numpy as np
import traitlets

from ..analysis.neurons import top_variable_neurons
from ..analysis.scores import FORMER_NAMES, LAYER_STAT_NAMES, SCORE_NAMES, score_info
from ..engine.extraction import NEURON_KINDS, Extraction
from ..engine.extractor import shared_extractor
from ..engine.tokens import visible_text
from . import encode
from .base import BoundedInt, Checked, Choice, Names, WidgetBase, invalid, one_of

COLOR_SCALES = ("linear", "gamma", "row", "log")
NEURON_K_MAX = 256
PREDICTIONS_SHOWN = 3
PREDICTIONS_MAX_TOKENS = 4096
# What `head_score` can be: "none" (the grid shows thumbnails) or a score of attnwidget.analysis.scores.
HEAD_SCORE_CHOICES = ("none", *SCORE_NAMES)
# Logit lens: top-k per layer for the pinned (else hovered) token; positions already computed are kept.
LENS_K = 5
LENS_CACHE_SIZE = 64
# The views (each named by its data-testid), in the order of the page: the main ones on top, then the side
# panel's, one tab each (`panel` says which is open).
MAIN_VIEWS = ("token-strip", "head-grid", "heatmap")
PANEL_VIEWS = ("logit-lens", "head-scores", "neuron-plot", "layer-stats")
VIEWS = (*MAIN_VIEWS, *PANEL_VIEWS)
NO_PANEL = "none"


def panel_choices(views: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What `panel` can be for these views: one of their side-panel views, or "none" when they have none."""
    return tuple(view for view in PANEL_VIEWS if view in views) or (NO_PANEL,)


def _panel_why(widget: AttentionWidget, value: str) -> str:
    return f" ({value!r} is not among this widget's views)" if value in PANEL_VIEWS else ""


def check_window(window: Any, seq_len: int, name: str = "map_window") -> tuple[int, int, int, int] | None:
    """A heatmap window ``[q0, q1, k0, k1]`` (list/tuple, or a dict with those keys; empty or None: no
    window) → a tuple of ints with ``0 ≤ q0 < q1 ≤ seq_len`` and ``0 ≤ k0 < k1 ≤ seq_len``; ValueError
    (naming what is allowed) otherwise."""
    if window is None or (isinstance(window, (list, tuple, dict)) and len(window) == 0):
        return None
    keys = ("q0", "q1", "k0", "k1")
    allowed = "[q0, q1, k0, k1] (half-open token ranges) or [] for none"
    bounds = window
    if isinstance(window, dict):
        if set(window) != set(keys):
            raise ValueError(f"{name} must be a dict with exactly the keys q0, q1, k0, k1, got {window!r}")
        bounds = [window[key] for key in keys]
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 4:
        raise ValueError(f"{name} must be {allowed}, got {window!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in bounds):
        raise ValueError(f"{name} must be {allowed} of ints, got {window!r}")
    q0, q1, k0, k1 = (int(v) for v in bounds)
    if not (0 <= q0 < q1 <= seq_len and 0 <= k0 < k1 <= seq_len):
        raise ValueError(
            f"{name} must be [q0, q1, k0, k1] with 0 <= q0 < q1 <= {seq_len} and 0 <= k0 < k1 <= {seq_len} "
            f"(the prompt has {seq_len} tokens), got {window!r}"
        )
    return q0, q1, k0, k1


class AttentionWidget(WidgetBase):
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
    head_score : ``"none"`` or a per-head score (``"induction"``, ``"previous_token"``, ``"first_token"``,
        ``"self"``, ``"local"``, ``"peak"``, ``"entropy"``, ``"normalized_entropy"``; see
        `attnwidget.analysis.scores`) that colours the head grid and ranks the heads in the head-roles view.
    views : which views exist (default: all), by name: ``"token-strip"``, ``"head-grid"``, ``"heatmap"``
        on top, ``"logit-lens"``, ``"head-scores"``, ``"neuron-plot"``, ``"layer-stats"`` as tabs of the
        side panel.
    panel : the side panel's open tab, one of its views (default: the first of them, passing over the logit
        lens of a model that has none); a click on a tab sets it.

    Examples
    --------
    >>> result = AttentionExtractor().extract_activations("The cat sat on the mat")  # doctest: +SKIP
    >>> w = AttentionWidget(result, layer=3, head=5)                                 # doctest: +SKIP
    >>> w.on_select(lambda selection: print(selection))                              # doctest: +SKIP
    >>> w                                                                            # doctest: +SKIP
    """

    _bundle = "widget"

    # ---- public, synced both ways -----------------------------------------------------------------
    layer = BoundedInt(0, bounds="_layer_bounds", help="Selected layer (row of the head grid).").tag(sync=True)
    head = BoundedInt(0, bounds="_head_bounds", help="Selected head (column of the head grid).").tag(sync=True)
    token = BoundedInt(-1, bounds="_token_bounds", help="Pinned token index, -1 for none.").tag(sync=True)
    hovered_token = BoundedInt(
        -1, bounds="_token_bounds", help="Token under the pointer (written by the views, throttled)."
    ).tag(sync=True)
    color_scale = Choice("log", choices=COLOR_SCALES, help=f"One of {COLOR_SCALES}.").tag(sync=True)
    neuron_kind = Choice("residual", choices="_neuron_kinds", help=f"One of {NEURON_KINDS}.").tag(sync=True)
    neuron_k = BoundedInt(16, bounds="_neuron_k_bounds", help="Number of neurons in the neuron plot.").tag(sync=True)
    head_score = Choice(
        "none",
        choices=HEAD_SCORE_CHOICES,
        aliases=FORMER_NAMES,
        help=f"Per-head score that colours the grid, one of {HEAD_SCORE_CHOICES}.",
    ).tag(sync=True)
    map_window = Checked(
        [],
        check="_check_map_window",
        help="The heatmap's zoom window [q0, q1, k0, k1] (half-open token ranges), [] when not zoomed.",
    ).tag(sync=True)
    views = Names(VIEWS, choices=VIEWS, help=f"The views the widget shows, any of {VIEWS}.").tag(sync=True)
    panel = Choice(
        PANEL_VIEWS[0],
        choices="_panel_choices",
        why=_panel_why,
        help=f"The side panel's open tab: one of {PANEL_VIEWS} that is in `views` ({NO_PANEL!r} when none is).",
    ).tag(sync=True)

    # ---- private, Python → views (see attnwidget.widgets.encode for the byte layouts) -----------------
    _info = traitlets.Dict().tag(sync=True)
    _tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # uint8 [layers, heads, T, T]
    _thumbnails = traitlets.Bytes(b"").tag(sync=True)
    # float32 [len(_info.scores), layers, heads]: every per-head score, NaN where undefined.
    _head_scores = traitlets.Bytes(b"").tag(sync=True)
    # The selected head's map: encode_attention_map, info + {"layer", "head"}.
    _attention_map = traitlets.Dict().tag(sync=True)
    # `map_window` of the selected head (encode_attention_window), info + {"layer", "head"}; {} if none.
    _map_window = traitlets.Dict().tag(sync=True)
    # The layer's most variable neurons: float16 [k, seq]; info {layer, kind, k, seq_len, indices}.
    _neurons = traitlets.Dict().tag(sync=True)
    # Top next tokens per position: {"info": {k}, "tokens": [seq][k] texts, "data": float16 [seq, k]}.
    _predictions = traitlets.Dict().tag(sync=True)
    # Logit lens at one position: {"info": {position, k, unavailable?}, "tokens": [layers + 1][k] texts,
    # "data": float16 [layers + 1, k]}; position -1: none yet.
    _lens = traitlets.Dict().tag(sync=True)

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
        views: list[str] | tuple[str, ...] = VIEWS,
        panel: str | None = None,
    ) -> None:
        if not isinstance(extraction, Extraction):
            raise TypeError(
                f"AttentionWidget needs an Extraction (from AttentionExtractor().extract_activations), "
                f"got {type(extraction).__name__}"
            )
        self._extraction = extraction
        self._lens_cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._checks_ready = True
        selection = self._checked(
            layer=layer,
            head=head,
            token=token,
            color_scale=color_scale,
            neuron_kind=neuron_kind,
            neuron_k=neuron_k,
            head_score=head_score,
            views=views,
        )
        selection["panel"] = self._initial_panel(panel, selection["views"])
        # Everything goes to super().__init__ so that the comm's first message carries the whole state.
        super().__init__(
            **self._static_state(),
            **selection,
            _attention_map=self.encoded_head(selection["layer"], selection["head"]),
            _neurons=self.encoded_neurons(selection["layer"], selection["neuron_kind"], selection["neuron_k"]),
            _lens=self.encoded_lens(selection["token"]),
        )

    def _checked(self, **values: Any) -> dict[str, Any]:
        traits = self.traits()
        return {name: traits[name].validate(self, value) for name, value in values.items()}

    # ---- state built once ---------------------------------------------------------------------------
    def _static_state(self) -> dict[str, Any]:
        ex = self._extraction
        side = encode.thumbnail_size(ex.num_layers * ex.num_heads, ex.seq_len)
        thumbnails = np.zeros((ex.num_layers, ex.num_heads, side, side), dtype=np.uint8)
        # One pass over the layers: thumbnails here, the head scores on the way (unless already known).
        for layer, maps in ex.iter_attention(score=True):
            thumbnails[layer] = encode.thumbnails(maps, side)
        scores = ex.head_scores()
        info = {
            "model_name": ex.model_name,
            "num_layers": ex.num_layers,
            "num_heads": ex.num_heads,
            "num_kv_heads": ex.num_kv_heads,
            "seq_len": ex.seq_len,
            "is_causal": bool(ex.is_causal),
            "thumbnail_size": side,
            "scores": score_info(),
            "layer_stats": list(LAYER_STAT_NAMES),
            "neuron_widths": self._neuron_widths,
            # What a token holds when it is part of a character split over several tokens (shown on hover).
            "token_notes": {str(index): note for index, note in ex.token_notes.items()},
        }
        return {
            "_info": info,
            "_tokens": list(ex.display_tokens),
            "_thumbnails": thumbnails.tobytes(),
            "_head_scores": encode.encode_float32(np.stack([scores[name] for name in SCORE_NAMES])),
            "_predictions": self._encoded_predictions(),
        }

    def _encoded_predictions(self) -> dict[str, Any]:
        ex = self._extraction
        # Predictions are unembedded on first read (~1 s per 1000 tokens for SmolLM2); very long prompts
        # go without them rather than wait.
        top_probs = ex.top_probs if ex.seq_len <= PREDICTIONS_MAX_TOKENS else None
        top_tokens = ex.top_tokens if top_probs is not None else None
        if top_tokens is None or top_probs is None:
            return {"info": {"k": 0}, "tokens": [], "data": b""}
        shown = min(PREDICTIONS_SHOWN, top_probs.shape[1])
        return {
            "info": {"k": shown},
            "tokens": [[visible_text(text) for text in row[:shown]] for row in top_tokens],
            "data": encode.encode_float16(top_probs[:, :shown]),
        }

    # ---- what each trait allows -------------------------------------------------------------------------
    def _layer_bounds(self) -> tuple[int, int, str]:
        layers = self._extraction.num_layers
        return 0, layers - 1, f" (this model has {layers} layers)"

    def _head_bounds(self) -> tuple[int, int, str]:
        heads = self._extraction.num_heads
        return 0, heads - 1, f" (each layer has {heads} heads)"

    def _token_bounds(self) -> tuple[int, int, str]:
        seq = self._extraction.seq_len
        return -1, seq - 1, f" (-1 for none; the prompt has {seq} tokens)"

    def _neuron_k_bounds(self) -> tuple[int, int, str]:
        return 1, min(NEURON_K_MAX, *self._neuron_widths.values()), ""

    def _neuron_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in NEURON_KINDS if kind in self._neuron_widths)

    def _panel_choices(self) -> tuple[str, ...]:
        return panel_choices(self.views)

    def _initial_panel(self, panel: str | None, views: list[str]) -> str:
        """`panel` checked against the views the widget is built with (its `views` trait is not set yet)."""
        choices = panel_choices(views)
        if panel is None:
            # A model with no logit lens (an encoder) opens on the first tab that has something to show.
            has_lens = self._extraction.lens is not None
            return next((name for name in choices if has_lens or name != "logit-lens"), choices[0])
        if panel not in choices:
            raise invalid("panel", one_of(choices) + (_panel_why(self, panel) if isinstance(panel, str) else ""), panel)
        return panel

    def _check_map_window(self, value: Any) -> list[int]:
        window = check_window(value, self._extraction.seq_len)
        return [] if window is None else list(window)

    @property
    def _neuron_widths(self) -> dict[str, int]:
        """Width of each neuron kind the extraction has (MLP neurons are read one layer, not all)."""
        if not hasattr(self, "_widths"):
            ex = self._extraction
            self._widths = {"residual": int(ex.residual_stream.shape[-1])}
            with contextlib.suppress(ValueError):  # raised when the model's MLP could not be located
                self._widths["mlp"] = int(ex.neuron_activations(0, "mlp").shape[-1])
        return self._widths

    # ---- what the views show for a selection (pure: nothing is recorded) -----------------------------------
    def encoded_head(self, layer: int, head: int) -> dict[str, Any]:
        """A head's full-resolution map as ``{"info": ..., "data": bytes}``: what the views receive in
        ``_attention_map`` when that head is selected. A kernel-less page can carry several
        (``mountStatic(el, state, extraMaps)``) so that clicking them needs no kernel."""
        layer, head = self._checked(layer=layer, head=head).values()
        ex = self._extraction
        encoded = encode.encode_attention_map(ex.attention(layer, head), ex.is_causal)
        return {"info": {"layer": layer, "head": head, **encoded["info"]}, "data": encoded["data"]}

    def encoded_window(self, layer: int, head: int, window: Any) -> dict[str, Any]:
        """A head's map inside ``window`` = ``[q0, q1, k0, k1]`` as ``{"info": ..., "data": bytes}``: what the
        views receive in ``_map_window`` when the heatmap is zoomed there ({} for no window)."""
        layer, head = self._checked(layer=layer, head=head).values()
        checked = check_window(window, self._extraction.seq_len, "window")
        if checked is None:
            return {}
        encoded = encode.encode_attention_window(self._extraction.attention(layer, head), checked)
        return {"info": {"layer": layer, "head": head, **encoded["info"]}, "data": encoded["data"]}

    def encoded_neurons(self, layer: int, kind: str | None = None, k: int | None = None) -> dict[str, Any]:
        """A layer's neuron plot (kind and k: the widget's unless given) as ``{"info": ..., "data": bytes}``:
        what the views receive in ``_neurons`` when that layer is selected."""
        checked = self._checked(
            layer=layer,
            neuron_kind=self.neuron_kind if kind is None else kind,
            neuron_k=self.neuron_k if k is None else k,
        )
        layer, kind, k = checked["layer"], checked["neuron_kind"], checked["neuron_k"]
        activations = self._extraction.neuron_activations(layer, kind)
        indices = top_variable_neurons(activations, k)
        info = {"layer": layer, "kind": kind, "k": len(indices), "seq_len": activations.shape[0], "dtype": "float16"}
        data = encode.encode_float16(np.ascontiguousarray(activations[:, indices].T))
        return {"info": {**info, "indices": [int(i) for i in indices]}, "data": data}

    def encoded_lens(self, position: int) -> dict[str, Any]:
        """The logit lens at `position` (-1: none) as the views receive it in ``_lens``."""
        ex = self._extraction
        empty: dict[str, Any] = {"info": {"position": -1, "k": 0}, "tokens": [], "data": b""}
        if ex.lens is None or ex.final_hidden is None:
            empty["info"]["unavailable"] = f"{ex.model_name} is not a causal language model: it has no logit lens"
            return empty
        if position < 0:
            return empty
        position = self._checked(token=position)["token"]
        if position not in self._lens_cache:
            try:
                ids, probs = ex.logit_lens_arrays(position, LENS_K)
            except ValueError as error:  # the final norm could not be located
                empty["info"]["unavailable"] = str(error)
                return empty
            texts = [[visible_text(text) for text in row] for row in ex.lens.texts(ids)]
            self._lens_cache[position] = {
                "info": {"position": position, "k": len(texts[0]) if texts else 0},
                "tokens": texts,
                "data": encode.encode_float16(probs),
            }
            while len(self._lens_cache) > LENS_CACHE_SIZE:
                self._lens_cache.popitem(last=False)
        self._lens_cache.move_to_end(position)
        return self._lens_cache[position]

    # ---- observers: replace what is shown when it no longer matches the selection ----------------------
    @traitlets.observe("layer", "head")
    def _on_head_change(self, _change: dict[str, Any]) -> None:
        # A click sets layer and head in one message; both observers then see the final pair.
        shown = self._attention_map.get("info", {})
        if (shown.get("layer"), shown.get("head")) != (self.layer, self.head):
            self.apply({"_attention_map": self.encoded_head(self.layer, self.head)})

    @traitlets.observe("layer", "neuron_kind", "neuron_k")
    def _on_neuron_change(self, _change: dict[str, Any]) -> None:
        shown = self._neurons.get("info", {})
        if (shown.get("layer"), shown.get("kind"), shown.get("k")) != (self.layer, self.neuron_kind, self.neuron_k):
            self.apply({"_neurons": self.encoded_neurons(self.layer)})

    @traitlets.observe("token", "hovered_token")
    def _on_lens_target_change(self, _change: dict[str, Any]) -> None:
        # The pinned token, else the hovered one. When neither, the last lens stays (the views say so): a
        # person moving the pointer from the token strip to the lens can still read it.
        position = self.token if self.token >= 0 else self.hovered_token
        if position >= 0 and position != self._lens.get("info", {}).get("position"):
            self.apply({"_lens": self.encoded_lens(position)})

    @traitlets.observe("views")
    def _on_views_change(self, _change: dict[str, Any]) -> None:
        # The open tab goes when its view does: the first of the side panel's views opens instead.
        if self.panel not in self._panel_choices():
            self.panel = self._panel_choices()[0]

    @traitlets.observe("layer", "head", "map_window")
    def _on_window_change(self, _change: dict[str, Any]) -> None:
        shown = self._map_window.get("info")
        shown_window = (shown["layer"], shown["head"], [shown[k] for k in ("q0", "q1", "k0", "k1")]) if shown else None
        wanted = (self.layer, self.head, self.map_window) if self.map_window else None
        if shown_window != wanted:
            self.apply({"_map_window": self.encoded_window(self.layer, self.head, self.map_window)})

    # ---- read-outs ------------------------------------------------------------------------------------
    @property
    def extraction(self) -> Extraction:
        return self._extraction


def show(prompt: str, model: Any = None, **widget_options: Any) -> AttentionWidget:
    """Extract `prompt` with `model` (the bundled SmolLM2 by default) and return the widget.

    `model` is a model spec (alias, folder, .gguf file, cached hub id) or an `AttentionExtractor`;
    extractors built from specs are kept for the next call. Keyword options go to `AttentionWidget`
    (``views=["token-strip", "heatmap"]`` shows only those; ``panel="neuron-plot"`` opens that tab).
    """
    return AttentionWidget(shared_extractor(model).extract_activations(prompt), **widget_options)
