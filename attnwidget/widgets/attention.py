"""`AttentionWidget`: one `Extraction` in linked canvas views. Its TypeScript half is `js/model.ts` (the
traits) and `js/widget.ts` (the views).

Selection lives in synced traits (`layer`, `head`, `token`, `hovered_token`, ...); set them from Python and
the views follow, click in the views and `observe` / `on_select` callbacks see it. Arrays travel as bytes
in the format of `attnwidget.widgets.encode`. What the views show for the selection (the selected head's
map, the layer's neurons, the logit lens of the pinned token) is made by pure functions of the selection
(`encoded_head`, `encoded_neurons`, `encoded_lens`, `encoded_window`, `encoded_effects`,
`encoded_neuron_effects`); the observers compare what a trait holds with the selection and replace it when
they differ, so nothing else needs to remember what is shown. The one exception is `_effects.info.error`: the
last `target` / `contrast` the views sent that Python refused (a front-end message never raises here).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from ..analysis.neurons import top_variable_neurons
from ..analysis.scores import FORMER_NAMES, LAYER_STAT_NAMES, SCORE_NAMES, score_info
from ..engine import attribution, interventions, seq2seq
from ..engine.extraction import NEURON_KINDS, Extraction
from ..engine.extractor import shared_extractor
from ..engine.generation import Generation, Step
from ..engine.seq2seq import EncoderDecoderExtraction
from ..engine.tokens import visible_text
from . import ablation, encode
from . import generation as writing
from .base import BoundedInt, Checked, Choice, Names, Recent, WidgetBase, invalid, one_of

COLOR_SCALES = ("linear", "gamma", "row", "log")
NEURON_K_MAX = 256
DEFAULT_NEURON_K = 16
PREDICTIONS_SHOWN = 3
PREDICTIONS_MAX_TOKENS = 4096
# What `head_score` can be: "none" (the grid shows thumbnails), a score of attnwidget.analysis.scores,
# "attribution" (each head's logit attribution to `target`, from `_effects`) or "ablation" (the change in the
# target's log-probability when each head alone is ablated, from `_head_effects`). A model without logits
# accepts both; `_effects.info.unavailable` / `_head_effects.info.unavailable` say why the grid is empty.
HEAD_SCORE_CHOICES = ("none", *SCORE_NAMES, "attribution", "ablation")
# What the heatmap shows: attention weights, or αᵢⱼ·‖W_O vⱼ‖ (`Extraction.value_weighted`).
WEIGHTINGS = ("attention", "value_weighted")
# Effects (logit attribution) kept per (position, target id, contrast id); neuron effects per (layer, neuron).
EFFECTS_CACHE_SIZE = 32
NEURON_EFFECTS_K = 10
NEURON_EFFECTS_CACHE_SIZE = 64
# Ablations kept per (position, target id, heads, mode); head effects per (position, target id, mode).
ABLATION_CACHE_SIZE = 64
HEAD_EFFECTS_CACHE_SIZE = 16
# Logit lens: top-k per layer for the pinned (else hovered) token; positions already computed are kept.
LENS_K = 5
LENS_CACHE_SIZE = 64
# The views (each named by its data-testid), in the order of the page: the main ones on top, then the side
# panel's, one tab each (`panel` says which is open).
MAIN_VIEWS = ("token-strip", "head-grid", "heatmap")
PANEL_VIEWS = ("generation", "logit-lens", "effects", "ablation", "head-scores", "neuron-plot", "layer-stats")
VIEWS = (*MAIN_VIEWS, *PANEL_VIEWS)
# The views a widget shows unless told: all, but the generation tab only where there is a generation.
VIEWS_WITHOUT_GENERATION = tuple(view for view in VIEWS if view != "generation")
NO_PANEL = "none"
# The views an encoder-decoder run can fill: not those that need the model's next-token predictions (the
# generation, logit lens, effects and ablation tabs; `Extraction.needs_model` says why).
PREDICTION_VIEWS = ("generation", "logit-lens", "effects", "ablation")
SEQ2SEQ_VIEWS = tuple(view for view in VIEWS if view not in PREDICTION_VIEWS)
# `kind` of a widget over one model's only attention (anything but an encoder-decoder run).
ONLY_KIND = ""
# What each kind of an encoder-decoder run is (the kind switch's titles say the same).
KIND_TITLES = {
    "encoder": "encoder: which source token each source token reads",
    "decoder": "decoder: which earlier decoder token each decoder token reads (causal)",
    "cross": "cross: which source token each decoder token reads",
}


def panel_choices(views: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What `panel` can be for these views: one of their side-panel views, or "none" when they have none."""
    return tuple(view for view in PANEL_VIEWS if view in views) or (NO_PANEL,)


def _panel_why(widget: AttentionWidget, value: str) -> str:
    return f" ({value!r} is not among this widget's views)" if value in PANEL_VIEWS else ""


def _kind_why(widget: AttentionWidget, value: str) -> str:
    if value in seq2seq.KINDS and widget._result is None:
        return f" ({value!r} is for encoder-decoder runs; {widget._extraction.model_name} has one kind of attention)"
    return ""


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
    head_score : ``"none"``, a per-head score (``"induction"``, ``"previous_token"``, ``"first_token"``,
        ``"self"``, ``"local"``, ``"peak"``, ``"entropy"``, ``"normalized_entropy"``; see
        `attnwidget.analysis.scores`), ``"attribution"`` (each head's logit attribution to `target`, a
        diverging colour around 0; an encoder has none to show) or ``"ablation"`` (the change in the
        target's log-probability when the head alone is ablated, once `compute_head_effects` or the Ablate
        tab's button computed it): it colours the head grid and ranks the heads in the head-roles view.
    target : the token whose logit the effects view explains at the pinned token (else the last one): a text
        that is exactly one token (``" Paris"``), or ``""`` (the default) for the model's own prediction
        there. A text of several tokens is refused (TraitError naming them); typed in the view, it is kept
        out and the view says why (``_effects.info.error``).
    contrast : ``""`` (none) or a one-token text: the effects then explain logit(target) − logit(contrast).
    weighting : what the heatmap shows: ``"attention"`` (the weights) or ``"value_weighted"`` (each weight
        times the norm of what the key's value vector writes through the head's output projection,
        ``Extraction.value_weighted``). The head grid's thumbnails stay attention.
    neuron : the neuron chosen in the neuron plot (its index in the layer, -1 for none); for MLP neurons the
        plot lists the tokens its output direction promotes and suppresses. Back to -1 when `layer` or
        `neuron_kind` changes.
    kind : for an encoder-decoder run (an `EncoderDecoderExtraction`: T5, BART, Marian), which attention the
        views show: ``"cross"`` (the default: which source token each decoder token reads; maps ``[decoder
        tokens, source tokens]``), ``"encoder"`` (the source's self-attention) or ``"decoder"`` (the decoder's,
        causal). Changing it shows that part (`EncoderDecoderExtraction.part`), keeping layer and head where
        they exist (else the last one). ``""`` for any other model: its only attention.
    views : which views exist (default: all; an encoder-decoder run has no generation, logit-lens, effects or
        ablation tab: they need next-token predictions), by name: ``"token-strip"``, ``"head-grid"``, ``"heatmap"``
        on top, ``"logit-lens"``, ``"effects"``, ``"ablation"``, ``"head-scores"``, ``"neuron-plot"``,
        ``"layer-stats"`` as tabs of the side panel.
    ablated : the heads the Ablate tab ablates, a list of ``[layer, head]`` (default none); its predictions
        before → after, the target's Δ log-probability and the KL divergence follow every change
        (`Extraction.ablate`). Shift-click in the head grid adds or removes a head.
    ablation_mode : ``"zero"`` (a head's output set to 0) or ``"mean"`` (to its mean over the prompt's
        positions), for `ablated` and the head effects.
    panel : the side panel's open tab, one of its views (default: the first of them, passing over the logit
        lens and effects of a model that has no logits); a click on a tab sets it.
    step : for an extraction made by `AttentionExtractor.generate` (or a widget that is writing, see
        `generation`), the generated token the generation tab shows (0 for the first, -1 for none). It pins
        the position that chose that token (``prompt_length + step - 1``), so the heatmap's highlighted row,
        the logit lens and the effects follow it; pinning that position selects the step.
    generation : a running `Generation` of this extraction's prompt (`AttentionExtractor.iter_generate`): the
        widget follows it from a background thread, the generation tab filling in token by token; when it
        ends (or `stop_generation()`, or the tab's stop button) the widget shows the recorded pass over
        prompt + output. `generating` says whether it runs; `wait()` blocks until it is done.
        `show(prompt, generate=30)` makes both.

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
    target = Checked(
        "",
        check="_check_target",
        help="The token the effects view explains: a one-token text, '' for the model's prediction.",
    ).tag(sync=True)
    contrast = Checked(
        "", check="_check_contrast", help="A one-token text the target is explained against, '' for none."
    ).tag(sync=True)
    weighting = Checked(
        "attention", check="_check_weighting", help=f"What the heatmap shows, one of {WEIGHTINGS}."
    ).tag(sync=True)
    neuron = BoundedInt(
        -1, bounds="_neuron_bounds", help="The neuron chosen in the neuron plot (index in the layer), -1 for none."
    ).tag(sync=True)
    map_window = Checked(
        [],
        check="_check_map_window",
        help="The heatmap's zoom window [q0, q1, k0, k1] (half-open token ranges), [] when not zoomed.",
    ).tag(sync=True)
    ablated = Checked(
        [], check="_check_ablated", help="The heads the Ablate tab ablates: a list of [layer, head]."
    ).tag(sync=True)
    ablation_mode = Choice(
        "zero", choices=interventions.MODES, help=f"How heads are ablated, one of {interventions.MODES}."
    ).tag(sync=True)
    step = BoundedInt(
        -1, bounds="_step_bounds", help="The generated token the generation tab shows (0 first), -1 for none."
    ).tag(sync=True)
    generating = traitlets.Bool(False, help="Whether the model is writing (set by Python).").tag(sync=True)
    views = Names(VIEWS, choices="_view_choices", help=f"The views the widget shows, any of {VIEWS}.").tag(sync=True)
    kind = Choice(
        ONLY_KIND,
        choices="_kinds",
        why=_kind_why,
        help=(
            f"Which attention of an encoder-decoder run the views show, one of {seq2seq.KINDS} (cross: which "
            f"source token each decoder token reads); {ONLY_KIND!r} for other models (their only attention)."
        ),
    ).tag(sync=True)
    panel = Choice(
        PANEL_VIEWS[0],
        choices="_panel_choices",
        why=_panel_why,
        help=f"The side panel's open tab: one of {PANEL_VIEWS} that is in `views` ({NO_PANEL!r} when none is).",
    ).tag(sync=True)

    # ---- private, Python → views (see attnwidget.widgets.encode for the byte layouts) -----------------
    _info = traitlets.Dict().tag(sync=True)
    _tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # uint8 [layers, heads, rows, cols] (_info.thumbnail_rows, thumbnail_cols)
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
    # Logit attribution at the pinned (else last) token: encoded_effects, info + {"error"}.
    _effects = traitlets.Dict().tag(sync=True)
    # What `neuron` promotes and suppresses: encoded_neuron_effects.
    _neuron_effects = traitlets.Dict().tag(sync=True)
    # The predictions with `ablated` ablated (encoded_ablation) and every head's effect ablated alone
    # (head_effects_state); layouts in attnwidget/widgets/ablation.py.
    _ablation = traitlets.Dict().tag(sync=True)
    _head_effects = traitlets.Dict().tag(sync=True)
    # The generated tokens with their probabilities, and every head's attention row at the steps that chose
    # them; layouts in attnwidget/widgets/generation.py.
    _generation = traitlets.Dict().tag(sync=True)
    _step_rows = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        extraction: Extraction | EncoderDecoderExtraction,
        *,
        kind: str | None = None,
        layer: int = 0,
        head: int = 0,
        token: int = -1,
        color_scale: str = "log",
        neuron_kind: str = "residual",
        neuron_k: int | None = None,
        head_score: str = "none",
        target: str = "",
        contrast: str = "",
        weighting: str = "attention",
        neuron: int = -1,
        ablated: list[list[int]] | tuple[tuple[int, int], ...] = (),
        ablation_mode: str = "zero",
        step: int = -1,
        views: list[str] | tuple[str, ...] | None = None,
        panel: str | None = None,
        generation: Generation[Extraction] | None = None,
    ) -> None:
        if not isinstance(extraction, (Extraction, EncoderDecoderExtraction)):
            raise TypeError(
                f"AttentionWidget needs an Extraction (from AttentionExtractor().extract_activations), "
                f"got {type(extraction).__name__}"
            )
        # An encoder-decoder run: the widget shows one of its parts (`kind`), `_extraction`.
        self._result = extraction if isinstance(extraction, EncoderDecoderExtraction) else None
        shown: Extraction
        if isinstance(extraction, EncoderDecoderExtraction):
            if generation is not None:
                raise ValueError("generation is for decoder-only models: an encoder-decoder run has no generation")
            kind = seq2seq.DEFAULT_KIND if kind is None else kind
            if kind not in seq2seq.KINDS:
                raise invalid("kind", one_of(seq2seq.KINDS), kind)
            shown = extraction.part(kind)
        else:
            shown = extraction
            if kind not in (None, ONLY_KIND):
                why = f" (the kinds {seq2seq.KINDS} are for encoder-decoder runs)"
                raise invalid("kind", one_of([ONLY_KIND]) + why, kind)
        kind = ONLY_KIND if kind is None else kind
        self._extraction = shown
        self._forget_extraction_results()
        # Generation: the run followed (None once its recorded pass is shown, or when there is none), the
        # steps the views show, and the lock that keeps the writing thread's updates apart from the views'.
        self._run = self._check_generation(generation, shown)
        self._step_texts = writing.StepTexts()
        self._generation_error: str | None = None
        self._state_lock = threading.RLock()
        self._written = threading.Event()
        self._writer: threading.Thread | None = None
        if views is None:
            views = VIEWS if self._steps() or self._run is not None else VIEWS_WITHOUT_GENERATION
            views = tuple(view for view in views if view in self._view_choices())
        if neuron_k is None:  # 16, or all of them where a model (or a cache) has fewer
            neuron_k = min(DEFAULT_NEURON_K, self._neuron_k_bounds()[1])
        # The last target / contrast the views sent that was refused (shown in `_effects.info.error`), and
        # the messages refused while a front-end message is applied (`set_state`).
        self._effects_error: str | None = None
        self._front_end_errors: dict[str, str] | None = None
        self._checks_ready = True
        selection = self._checked(
            layer=layer,
            head=head,
            token=token,
            color_scale=color_scale,
            neuron_kind=neuron_kind,
            neuron_k=neuron_k,
            head_score=head_score,
            target=target,
            contrast=contrast,
            weighting=weighting,
            ablated=ablated,
            ablation_mode=ablation_mode,
            step=step,
            views=views,
        )
        selection["kind"] = kind
        if selection["step"] >= 0 and selection["token"] < 0:
            selection["token"] = self._step_token(selection["step"])
        selection["neuron"] = self._check_neuron(neuron, selection["neuron_kind"])
        selection["panel"] = self._initial_panel(panel, selection["views"])
        layer, kind = selection["layer"], selection["neuron_kind"]
        # Everything goes to super().__init__ so that the comm's first message carries the whole state.
        super().__init__(
            **self._static_state(),
            **selection,
            _attention_map=self.encoded_head(layer, selection["head"], selection["weighting"]),
            _neurons=self.encoded_neurons(layer, kind, selection["neuron_k"]),
            _lens=self.encoded_lens(selection["token"]),
            _effects=self.encoded_effects(selection["token"], selection["target"], selection["contrast"]),
            _neuron_effects=self.encoded_neuron_effects(layer, kind, selection["neuron"]),
            _ablation=self.encoded_ablation(
                selection["token"], selection["target"], selection["ablated"], selection["ablation_mode"]
            ),
            _head_effects=self.encoded_head_effects(
                selection["token"], selection["target"], selection["ablation_mode"]
            ),
            _generation=self.encoded_generation(),
            _step_rows=self.encoded_step_rows(selection["step"]),
            generating=self._run is not None,
        )
        self.on_msg(self._handle_head_effects_message)
        self.on_msg(self._handle_stop_message)
        if self._run is not None:
            self._start_writing(self._run)
        else:
            self._written.set()

    def _forget_extraction_results(self) -> None:
        """Empty what the widget keeps of its extraction's results (a new extraction replaces it)."""
        self._lens_cache: Recent[dict[str, Any]] = Recent(LENS_CACHE_SIZE)
        self._effects_cache: Recent[dict[str, Any]] = Recent(EFFECTS_CACHE_SIZE)
        self._neuron_effects_cache: Recent[dict[str, Any]] = Recent(NEURON_EFFECTS_CACHE_SIZE)
        self._ablation_cache: Recent[dict[str, Any]] = Recent(ABLATION_CACHE_SIZE)
        # (position, target id, mode) → (values [layers, heads], layers done, state)
        self._head_effects_cache: Recent[tuple[np.ndarray, int, str]] = Recent(HEAD_EFFECTS_CACHE_SIZE)
        # Every step's rows (`_step_rows`), when they fit its budget: made by the thumbnails' pass.
        self._all_step_rows: dict[str, Any] | None = None
        self._predicted: dict[int, int] = {}  # position → the token the model predicts after it
        for name in ("_widths", "_value_weighting_why"):
            self.__dict__.pop(name, None)

    def _checked(self, **values: Any) -> dict[str, Any]:
        traits = self.traits()
        return {name: traits[name].validate(self, value) for name, value in values.items()}

    # ---- state built once ---------------------------------------------------------------------------
    def _static_state(self) -> dict[str, Any]:
        ex = self._extraction
        # Square for self-attention; cross-attention's rows are the decoder's tokens, its columns the source's.
        side, thumb_rows, thumb_cols = encode.thumbnail_shape(ex.num_layers * ex.num_heads, ex.seq_len, ex.key_len)
        thumbnails = np.zeros((ex.num_layers, ex.num_heads, thumb_rows, thumb_cols), dtype=np.uint8)
        # A generation's rows (every step's, when they fit `_step_rows`' budget) are rows of these maps.
        steps, prompt_length = len(self._steps()), ex.prompt_length
        fits = writing.step_rows_values(prompt_length, 0, steps, ex.num_layers, ex.num_heads) * 2
        keep_rows = ex.generation is not None and steps > 0 and fits <= writing.STEP_ROWS_BUDGET
        rows = np.zeros((ex.num_layers, ex.num_heads, steps if keep_rows else 0, ex.seq_len), np.float32)
        # One pass over the layers, a block of rows at a time: thumbnails (the maps max-pooled), the steps'
        # rows and the head scores on the way (unless already known); its replays also prepare the logit
        # attribution at the last token (the effects view's unless a token is pinned).
        wanted = (prompt_length - 1, prompt_length - 1 + steps) if keep_rows else None
        passes = ex.iter_pooled_attention(side, rows=wanted, attribution_at=ex.seq_len - 1)
        for layer, pooled, step_rows in passes:
            assert pooled is not None
            thumbnails[layer] = encode.compand_uint8(pooled)
            if step_rows is not None:
                rows[layer] = step_rows
        if keep_rows:
            self._all_step_rows = writing.encoded_step_rows(rows, prompt_length, 0)
        scores = ex.head_scores()
        info = {
            "model_name": ex.model_name,
            "num_layers": ex.num_layers,
            "num_heads": ex.num_heads,
            "num_kv_heads": ex.num_kv_heads,
            "seq_len": ex.seq_len,
            "is_causal": bool(ex.is_causal),
            "thumbnail_size": side,
            "thumbnail_rows": thumb_rows,
            "thumbnail_cols": thumb_cols,
            "key_len": ex.key_len,
            "scores": score_info(),
            "layer_stats": list(LAYER_STAT_NAMES),
            "neuron_widths": self._neuron_widths,
            # What a token holds when it is part of a character split over several tokens (shown on hover).
            "token_notes": {str(index): note for index, note in ex.token_notes.items()},
            **self._kind_info(),
        }
        return {
            "_info": info,
            "_tokens": list(ex.display_tokens),
            "_thumbnails": thumbnails.tobytes(),
            "_head_scores": encode.encode_float32(np.stack([scores[name] for name in SCORE_NAMES])),
            "_predictions": self._encoded_predictions(),
        }

    def _kind_info(self) -> dict[str, Any]:
        """What `_info` says of the kinds: the kinds and the one shown ([] and "" for a model with one kind of
        attention); for an encoder-decoder run also both texts' tokens (the two token strips) and, for cross,
        the keys' tokens (the source's)."""
        result, ex = self._result, self._extraction
        if result is None:
            return {"kinds": [], "kind": ONLY_KIND, "kind_titles": {}}
        info: dict[str, Any] = {
            "kinds": list(seq2seq.KINDS),
            "kind": ex.stack,
            "kind_titles": dict(KIND_TITLES),
            "source_tokens": list(result.encoder.display_tokens),
            "source_token_notes": {str(index): note for index, note in result.encoder.token_notes.items()},
            "decoder_tokens": list(result.decoder.display_tokens),
            "decoder_token_notes": {str(index): note for index, note in result.decoder.token_notes.items()},
            "target_given": result.target_given,
        }
        if isinstance(ex, seq2seq.CrossExtraction):
            info["key_tokens"] = list(ex.key_display_tokens)
            info["key_token_notes"] = {str(index): note for index, note in ex.key_token_notes.items()}
        return info

    def _kinds(self) -> tuple[str, ...]:
        return seq2seq.KINDS if self._result is not None else (ONLY_KIND,)

    def _view_choices(self) -> tuple[str, ...]:
        """The views this widget can have: all, but those that need predictions for an encoder-decoder run."""
        return SEQ2SEQ_VIEWS if self._result is not None else VIEWS

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

    def _neuron_bounds(self) -> tuple[int, int, str]:
        width = self._neuron_widths[self.neuron_kind]
        return -1, width - 1, f" (-1 for none; {self.neuron_kind} has {width} neurons)"

    def _check_neuron(self, value: Any, kind: str) -> int:
        """`neuron` checked against the width of neuron kind `kind` (TraitError in the one format)."""
        width = self._neuron_widths[kind]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -1 <= value < width:
            raise invalid("neuron", f"an int in -1..{width - 1} (-1 for none; {kind} has {width} neurons)", value)
        return int(value)

    @traitlets.validate("neuron")
    def _remember_neuron_place(self, proposal: Any) -> int:
        # Cross-validation runs once all traits of an update are set: a neuron set together with its layer
        # belongs to that layer; a later change of layer or kind leaves it behind (see _on_neuron_choice).
        self._neuron_place = (self.layer, self.neuron_kind)
        return int(proposal["value"])

    def _no_logits(self) -> str:
        """Why this model has no logit attribution or neuron effects ("" when it has them)."""
        ex = self._extraction
        if ex.predictor is None:
            return ex.needs_model("this view") or (
                f"{ex.model_name} is not a causal language model with an unembedding: it has no logits to explain"
            )
        return ""

    def _token_id(self, name: str, value: Any) -> int | None:
        """`target` / `contrast` text → its token id (None for ""), or ValueError worded as `invalid` words it."""
        none = "the model's prediction" if name == "target" else "none"
        allowed = f"the text of exactly one token, or '' for {none}"
        if not isinstance(value, str):
            raise ValueError(str(invalid(name, "a str: " + allowed, value)))
        if value == "":
            return None
        if self._no_logits():
            raise ValueError(str(invalid(name, f"'' ({self._no_logits()})", value)))
        predictor = self._extraction.predictor
        assert predictor is not None
        ids = list(predictor.tokenizer.encode(value, add_special_tokens=False))
        if len(ids) != 1:
            pieces = ", ".join(repr(visible_text(predictor.tokenizer.decode([i]))) for i in ids)
            raise ValueError(f"{invalid(name, allowed, value)} ({len(ids)} tokens{': ' if ids else ''}{pieces})")
        try:
            return attribution.resolve_token(predictor, value, name)
        except ValueError as error:
            raise ValueError(f"{invalid(name, allowed, value)} ({error})") from None

    def _prediction_at(self, position: int) -> int:
        """The token id the model predicts after `position` (the target when `target` is "")."""
        ex = self._extraction
        assert ex.predictor is not None and ex.final_hidden is not None
        predicted = self._predicted.get(position)
        if predicted is None:  # one row through the whole unembedding: ~20 ms for SmolLM2, asked by every tab
            predicted = self._predicted[position] = int(
                ex.predictor.top_k(ex.final_hidden[position : position + 1], k=1)[0][0, 0]
            )
        return predicted

    def _check_ablated(self, value: Any) -> list[list[int]]:
        layers, heads = self._extraction.num_layers, self._extraction.num_heads
        allowed = f"a list of [layer, head] pairs with layer in 0..{layers - 1} and head in 0..{heads - 1}"

        def is_index(v: Any, size: int) -> bool:
            return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and bool(0 <= v < size)

        pairs = value if isinstance(value, (list, tuple)) else None
        if pairs is None or any(
            not isinstance(p, (list, tuple)) or len(p) != 2 or not is_index(p[0], layers) or not is_index(p[1], heads)
            for p in pairs
        ):
            raise ValueError(str(invalid("ablated", allowed, value)))
        # Each head once, in the order given (the views show them as chips in that order).
        return [list(pair) for pair in dict.fromkeys((int(p[0]), int(p[1])) for p in pairs)]

    def _check_text(self, name: str, value: Any) -> str:
        try:
            self._token_id(name, value)
        except ValueError as error:
            if self._front_end_errors is None:
                raise
            # From the views: keep the value Python has and tell the views why (see set_state).
            self._front_end_errors[name] = str(error)
            return str(getattr(self, name))
        return str(value)

    def _check_target(self, value: Any) -> str:
        return self._check_text("target", value)

    def _check_contrast(self, value: Any) -> str:
        return self._check_text("contrast", value)

    def _check_weighting(self, value: Any) -> str:
        if not isinstance(value, str) or value not in WEIGHTINGS:
            raise ValueError(str(invalid("weighting", one_of(WEIGHTINGS), value)))
        if value == "value_weighted" and self._value_weighting_error():
            error = str(invalid("weighting", f"'attention' ({self._value_weighting_error()})", value))
            if self._front_end_errors is None:
                raise ValueError(error)
            # The heatmap's select offers both whatever the model: keep the map shown (see set_state).
            self._front_end_errors["weighting"] = error
            return str(self.weighting)
        return value

    def _value_weighting_error(self) -> str:
        """Why this model has no value-weighted maps ("" when it has them); tried once, on layer 0."""
        if not hasattr(self, "_value_weighting_why"):
            try:
                self._extraction.value_weighted(0, 0)
                self._value_weighting_why = ""
            except ValueError as error:
                self._value_weighting_why = f"no value-weighted maps: {error}"
        return self._value_weighting_why

    def _neuron_k_bounds(self) -> tuple[int, int, str]:
        # A kind with no neurons recorded (width 0: a cache without the residual stream) bounds nothing.
        widths = [width for width in self._neuron_widths.values() if width > 0]
        return 1, min(NEURON_K_MAX, *widths) if widths else 1, ""

    def _neuron_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in NEURON_KINDS if kind in self._neuron_widths)

    def _panel_choices(self) -> tuple[str, ...]:
        return panel_choices(self.views)

    def _initial_panel(self, panel: str | None, views: list[str]) -> str:
        """`panel` checked against the views the widget is built with (its `views` trait is not set yet)."""
        choices = panel_choices(views)
        if panel is None:
            # A model with no logit lens or logits to explain (an encoder) opens on the first tab that has
            # something to show.
            empty: set[str] = set()
            if self._extraction.lens is None:
                empty.add("logit-lens")
            if self._no_logits():
                empty.update(("effects", "ablation"))
            return next((name for name in choices if name not in empty), choices[0])
        if panel not in choices:
            raise invalid("panel", one_of(choices) + (_panel_why(self, panel) if isinstance(panel, str) else ""), panel)
        return panel

    @property
    def _cross(self) -> bool:
        """Whether the maps shown are cross-attention (keys: the source's tokens): rectangles, sent whole and
        zoomed by the view itself (no `map_window`), even when both texts happen to have as many tokens."""
        return isinstance(self._extraction, seq2seq.CrossExtraction)

    def _check_map_window(self, value: Any) -> list[int]:
        if self._cross and value not in (None, [], (), {}):
            allowed = "[] (a cross-attention map is sent and shown whole, and zoomed by the view itself)"
            raise ValueError(str(invalid("map_window", allowed, value)))
        window = check_window(value, self._extraction.seq_len)
        return [] if window is None else list(window)

    @property
    def _neuron_widths(self) -> dict[str, int]:
        """Width of each neuron kind the extraction has (MLP neurons are read one layer, not all)."""
        if not hasattr(self, "_widths"):
            ex = self._extraction
            self._widths = {"residual": int(ex.residual_stream.shape[-1])}
            # Read from the module, not by running block 0 again (a whole block at 4096 tokens).
            width = ex.layers.mlp_width(0) if ex.layers.has_mlp else None
            if width is not None:
                self._widths["mlp"] = width
        return self._widths

    # ---- what the views show for a selection (pure: nothing is recorded) -----------------------------------
    def _head_map(self, layer: int, head: int, weighting: str | None) -> tuple[int, int, str, np.ndarray]:
        checked = self._checked(layer=layer, head=head, weighting=self.weighting if weighting is None else weighting)
        layer, head, weighting = checked["layer"], checked["head"], checked["weighting"]
        ex = self._extraction
        values = ex.value_weighted(layer, head) if weighting == "value_weighted" else ex.attention(layer, head)
        return layer, head, weighting, values

    def encoded_head(self, layer: int, head: int, weighting: str | None = None) -> dict[str, Any]:
        """A head's full-resolution map (`weighting`: the widget's unless given) as ``{"info": ..., "data":
        bytes}``: what the views receive in ``_attention_map`` when that head is selected. A kernel-less page
        can carry several (``mountStatic(el, state, extraMaps)``) so that clicking them needs no kernel."""
        layer, head, weighting, values = self._head_map(layer, head, weighting)
        encoded = encode.encode_attention_map(values, self._extraction.is_causal, rectangular=self._cross)
        info = {"layer": layer, "head": head, "weighting": weighting, **encoded["info"]}
        if self._result is not None:
            info["kind"] = self._extraction.stack
        return {"info": info, "data": encoded["data"]}

    def encoded_window(self, layer: int, head: int, window: Any, weighting: str | None = None) -> dict[str, Any]:
        """A head's map (`weighting`: the widget's unless given) inside ``window`` = ``[q0, q1, k0, k1]`` as
        ``{"info": ..., "data": bytes}``: what the views receive in ``_map_window`` when the heatmap is zoomed
        there ({} for no window)."""
        checked = check_window(window, self._extraction.seq_len, "window")
        layer, head, weighting, values = self._head_map(layer, head, weighting)
        if checked is None or self._cross:  # a cross map is sent whole: no window from the kernel
            return {}
        encoded = encode.encode_attention_window(values, checked)
        info = {"layer": layer, "head": head, "weighting": weighting, **encoded["info"]}
        return {"info": info, "data": encoded["data"]}

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
        if activations.shape[-1] == 0:
            why = f"{self._extraction.model_name}: no {kind} activations were recorded (a cache without them)"
            info = {"layer": layer, "kind": kind, "k": 0, "seq_len": activations.shape[0], "dtype": "float16"}
            return {"info": {**info, "indices": [], "unavailable": why}, "data": b""}
        indices = top_variable_neurons(activations, k)
        info = {"layer": layer, "kind": kind, "k": len(indices), "seq_len": activations.shape[0], "dtype": "float16"}
        data = encode.encode_float16(np.ascontiguousarray(activations[:, indices].T))
        return {"info": {**info, "indices": [int(i) for i in indices]}, "data": data}

    def encoded_lens(self, position: int) -> dict[str, Any]:
        """The logit lens at `position` (-1: none) as the views receive it in ``_lens``."""
        ex = self._extraction
        empty: dict[str, Any] = {"info": {"position": -1, "k": 0}, "tokens": [], "data": b""}
        if ex.lens is None or ex.final_hidden is None:
            empty["info"]["unavailable"] = ex.needs_model("the logit lens") or (
                f"{ex.model_name} is not a causal language model: it has no logit lens"
            )
            return empty
        if position < 0:
            return empty
        position = self._checked(token=position)["token"]
        lens = ex.lens

        def make() -> dict[str, Any]:
            ids, probs = ex.logit_lens_arrays(position, LENS_K)
            texts = [[visible_text(text) for text in row] for row in lens.texts(ids)]
            return {
                "info": {"position": position, "k": len(texts[0]) if texts else 0},
                "tokens": texts,
                "data": encode.encode_float16(probs),
            }

        try:
            return self._lens_cache.get(position, make)
        except ValueError as error:  # the final norm could not be located
            empty["info"]["unavailable"] = str(error)
            return empty

    def effects_position(self, token: int | None = None) -> int:
        """The position the effects explain for pinned token `token` (the widget's unless given): that
        token, else the last one."""
        token = self._checked(token=self.token if token is None else token)["token"]
        return token if token >= 0 else self._extraction.seq_len - 1

    def encoded_effects(self, token: int = -1, target: str = "", contrast: str = "") -> dict[str, Any]:
        """The logit attribution (`Extraction.logit_attribution`) at pinned token `token` (-1: the last
        token) to `target` ("": the model's prediction there), minus `contrast` ("": none), as the views
        receive it in ``_effects``: float32 [logit, total, embeddings, biases, mlp[layers], heads[layers ×
        heads]]. Kept per (position, target id, contrast id)."""
        position = self.effects_position(token)
        try:
            target_id, contrast_id = self._token_id("target", target), self._token_id("contrast", contrast)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None
        ex = self._extraction
        info: dict[str, Any] = {
            "position": position,
            "target": "",
            "target_id": -1,
            "contrast": None,
            "contrast_id": None,
            "layers": ex.num_layers,
            "heads": ex.num_heads,
            "mlp": bool(ex.layers.has_mlp),
            "error": None,
            "unavailable": self._no_logits() or None,
        }
        if info["unavailable"]:
            return {"info": info, "data": b""}
        target_id = self._prediction_at(position) if target_id is None else target_id

        def make() -> dict[str, Any]:
            try:
                result = ex.logit_attribution(position, target_id, contrast_id)
            except ValueError as error:  # a block that is no sum of head outputs, a soft-capped logit
                return {"info": {**info, "unavailable": str(error)}, "data": b""}
            shown = {
                **info,
                "target": visible_text(result.target),
                "target_id": result.target_id,
                "contrast": None if result.contrast is None else visible_text(result.contrast),
                "contrast_id": result.contrast_id,
            }
            parts = [result.logit, result.total, result.embeddings, result.biases]
            values = np.concatenate([parts, result.mlp, result.heads.ravel()])
            return {"info": shown, "data": encode.encode_float32(values)}

        return self._effects_cache.get((position, target_id, contrast_id), make)

    def encoded_neuron_effects(self, layer: int, kind: str | None = None, neuron: int = -1) -> dict[str, Any]:
        """What neuron `neuron` (-1: none) of `layer` (kind: the widget's unless given) promotes and
        suppresses (`AttentionExtractor.neuron_logit_effects`, k = 10), as the views receive it in
        ``_neuron_effects``: float32 [k promoted values, k suppressed values]. MLP neurons only: a
        residual-stream dimension gets `unavailable`."""
        checked = self._checked(layer=layer, neuron_kind=self.neuron_kind if kind is None else kind)
        layer, kind = checked["layer"], checked["neuron_kind"]
        neuron = self._check_neuron(neuron, kind)
        info: dict[str, Any] = {"layer": layer, "kind": kind, "neuron": neuron, "k": 0, "promoted": []}
        info.update(suppressed=[], unavailable=None)
        if neuron < 0:
            return {"info": info, "data": b""}
        if kind != "mlp":
            why = "a residual-stream dimension is no neuron with an output direction: choose MLP neurons"
            return {"info": {**info, "unavailable": why}, "data": b""}
        if self._no_logits():
            return {"info": {**info, "unavailable": self._no_logits()}, "data": b""}
        ex = self._extraction

        def make() -> dict[str, Any]:
            try:
                effects = attribution.neuron_logit_effects(
                    ex.layers.replayer.model, ex.predictor, layer, neuron, NEURON_EFFECTS_K, ex.model_name
                )
            except ValueError as error:  # the MLP's output projection could not be located
                return {"info": {**info, "unavailable": str(error)}, "data": b""}
            promoted, suppressed = effects["promoted"], effects["suppressed"]
            shown = {
                **info,
                "k": len(promoted),
                "promoted": [visible_text(text) for text, _ in promoted],
                "suppressed": [visible_text(text) for text, _ in suppressed],
            }
            values = np.array([value for _, value in promoted + suppressed], dtype=np.float64)
            return {"info": shown, "data": encode.encode_float32(values)}

        return self._neuron_effects_cache.get((layer, neuron), make)

    def encoded_ablation(
        self, token: int = -1, target: str = "", heads: Any = (), mode: str = "zero"
    ) -> dict[str, Any]:
        """The next-token predictions at pinned token `token` (-1: the last) with `heads` ablated
        (`Extraction.ablate`), before → after, and the effect on `target` ("": the model's prediction), as the
        views receive it in ``_ablation`` (layout: attnwidget/widgets/ablation.py). Kept per selection."""
        position = self.effects_position(token)
        checked = self._checked(ablated=list(heads), ablation_mode=mode)
        pairs = [(layer, head) for layer, head in checked["ablated"]]
        mode = checked["ablation_mode"]
        if self._no_logits():
            return ablation.unavailable_ablation(position, pairs, mode, self._no_logits())
        try:
            target_id = self._token_id("target", target)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None
        target_id = self._prediction_at(position) if target_id is None else target_id
        ex = self._extraction

        def make() -> dict[str, Any]:
            try:
                return ablation.encoded_ablation(ex, position, target_id, pairs, mode)
            except ValueError as error:  # heads whose outputs cannot be located in this model
                return ablation.unavailable_ablation(position, pairs, mode, str(error))

        return self._ablation_cache.get((position, target_id, tuple(pairs), mode), make)

    def _head_effects_key(self, token: int, target: str, mode: str) -> tuple[int, int, str]:
        position = self.effects_position(token)
        mode = self._checked(ablation_mode=mode)["ablation_mode"]
        try:
            target_id = self._token_id("target", target)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None
        return position, self._prediction_at(position) if target_id is None else target_id, mode

    def encoded_head_effects(self, token: int = -1, target: str = "", mode: str = "zero") -> dict[str, Any]:
        """Each head's effect on `target` at pinned token `token` when ablated alone, as the views receive it
        in ``_head_effects``: what `compute_head_effects` found for this selection so far (state "none"
        and no data before it ran)."""
        ex = self._extraction
        if self._no_logits():
            position = self.effects_position(token)
            mode = self._checked(ablation_mode=mode)["ablation_mode"]
            return ablation.head_effects_state(ex, position, -1, mode, None, 0, "none", self._no_logits())
        key = self._head_effects_key(token, target, mode)
        kept = self._head_effects_cache.peek(key)
        if kept is None:
            return ablation.head_effects_state(ex, *key, None, 0, "none")
        values, done, state = kept
        return ablation.head_effects_state(ex, *key, values, done, state)

    def compute_head_effects(self) -> np.ndarray:
        """Ablate every head alone and measure the change in the target's log-probability at the pinned
        (else last) token, with `ablation_mode` (`Extraction.head_effects`); float64 [layers, heads]. The
        views follow layer by layer (``head_score="ablation"`` colours the grid by it). Kept per (position,
        target, mode): a second call returns at once. An interrupt keeps the layers done so far."""
        if self._no_logits():
            raise ValueError(self._no_logits())
        ex = self._extraction
        key = self._head_effects_key(self.token, self.target, self.ablation_mode)
        kept = self._head_effects_cache.peek(key)
        if kept is not None and kept[2] == "done":
            return kept[0].astype(np.float64)
        values = np.full((ex.num_layers, ex.num_heads), np.nan)
        done = 0

        def show(state: str) -> None:
            self._head_effects_cache.put(key, (values, done, state))
            self.apply({"_head_effects": ablation.head_effects_state(ex, *key, values, done, state)})

        show("running")
        position, target_id, mode = key
        try:
            for layer, row in interventions.iter_head_effects(ex, position, target_id, mode):
                values[layer] = row
                done = layer + 1
                show("running" if done < ex.num_layers else "done")
        except BaseException:
            show("stopped")
            raise
        return values.copy()

    def _handle_head_effects_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # The Ablate tab's "head effects" button. A failure is logged (the kernel log) and the view shows
        # the state the computation reached.
        if isinstance(content, dict) and content.get("kind") == "head_effects":
            try:
                self.compute_head_effects()
            except (ValueError, KeyboardInterrupt) as error:
                self.log.warning("head effects stopped: %s", error or "interrupted")

    # ---- generation -----------------------------------------------------------------------------------
    def _steps(self) -> Sequence[Step]:
        """The generated tokens the views show: those of the run being followed (growing while it writes),
        else those of the extraction (none when it generated nothing)."""
        if self._run is not None:
            return self._run.steps
        generation = self._extraction.generation
        return () if generation is None else generation.steps

    def _step_bounds(self) -> tuple[int, int, str]:
        steps = len(self._steps())
        return -1, steps - 1, f" (-1 for none; {steps} tokens generated{' so far' if self._run else ''})"

    def _step_token(self, step: int) -> int:
        """The token pinned for `step`: the position that chose it, -1 while the extraction lacks it (the
        prompt's, while the model writes)."""
        position = self._extraction.prompt_length + step - 1
        return position if 0 <= position < self._extraction.seq_len else -1

    @staticmethod
    def _check_generation(run: Any, extraction: Extraction) -> Generation[Extraction] | None:
        if run is None:
            return None
        if not isinstance(run, Generation):
            raise TypeError(f"generation must be a Generation (AttentionExtractor.iter_generate), got {run!r}")
        if run.prompt_length != extraction.seq_len or extraction.generation is not None:
            raise ValueError(
                f"generation must continue this extraction's prompt ({extraction.seq_len} tokens), got a "
                f"generation of a {run.prompt_length}-token prompt"
            )
        if run.steps or not run.running:
            raise ValueError("generation must be a Generation that has not started yet (iter_generate(...) fresh)")
        return run

    def encoded_generation(self) -> dict[str, Any]:
        """The generated tokens, their probabilities, entropies and alternatives, as the views receive them in
        ``_generation`` (layout: attnwidget/widgets/generation.py)."""
        ex = self._extraction
        run = self._run
        if run is None and ex.generation is None:
            return writing.no_generation(ex.seq_len)
        record = ex.generation
        settings = run.settings if run is not None else record.settings if record is not None else None
        return writing.encoded_generation(
            self._steps(),
            self._step_texts,
            settings,
            ex.prompt_length,
            settings.max_new_tokens if settings is not None else 0,
            running=run is not None and run.running,
            recorded=run is None,
            stop_reason=(run.stop_reason if run is not None else ex.stop_reason),
            error=self._generation_error,
        )

    def encoded_step_rows(self, step: int = -1) -> dict[str, Any]:
        """Every head's attention row at the position that chose generated token `step`, as the views receive
        it in ``_step_rows``: all steps' when they fit `generation.STEP_ROWS_BUDGET` (whatever `step`), else
        that step's (none for -1). Nothing until the recorded pass over prompt + output is in the widget."""
        ex = self._extraction
        steps = len(self._steps())
        if self._run is not None or ex.generation is None or steps == 0:
            return writing.no_step_rows(ex.prompt_length, ex.num_layers, ex.num_heads)
        step = self._checked(step=step)["step"]
        if self._all_step_rows is not None:
            return self._all_step_rows
        if step < 0:
            return writing.no_step_rows(ex.prompt_length, ex.num_layers, ex.num_heads)
        rows = ex.attention_rows([ex.step_position(step)])
        return writing.encoded_step_rows(rows, ex.prompt_length, step)

    @property
    def generation(self) -> Generation[Extraction] | None:
        """The generation this widget follows while it writes (None once it is done, or when there is none)."""
        return self._run

    def stop_generation(self) -> None:
        """End the generation after the token being written; the widget then shows what was written
        (`wait()` returns once it does). Nothing happens when no generation runs."""
        run = self._run
        if run is not None:
            run.stop()

    def wait(self, timeout: float | None = None) -> Extraction:
        """Block until the generation is done and the widget shows its recorded pass; return the extraction
        (prompt + output). At once when there is no generation. A KeyboardInterrupt (the notebook's stop)
        ends the generation, keeps what was written, and is raised again once the widget shows it.
        TimeoutError when `timeout` seconds pass first; RuntimeError when the generation failed."""
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
            raise ValueError(f"timeout must be a non-negative number of seconds or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # Short waits: a signal (KeyboardInterrupt) is handled between them on every platform.
            while not self._written.wait(0.05):
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"the generation still runs after {timeout} s ({len(self._steps())} tokens)")
        except KeyboardInterrupt:
            self.stop_generation()
            self._written.wait()
            raise
        if self._generation_error is not None:
            raise RuntimeError(f"the generation failed: {self._generation_error}")
        return self._extraction

    def _start_writing(self, run: Generation[Extraction]) -> None:
        self._writer = threading.Thread(target=self._write, args=(run,), name="attnwidget-generation", daemon=True)
        self._writer.start()

    def _write(self, run: Generation[Extraction]) -> None:
        """The writing thread: each step to the views as the model chooses it, then the recorded pass over
        prompt + output in place of the prompt's. Whatever happens, `generating` ends False and `wait`
        returns."""
        result: Extraction | None = None
        try:
            for _ in run:
                with self._state_lock:
                    self.apply({"_generation": self.encoded_generation()})
            result = run.result()
        except BaseException as error:  # reported in the view and by wait(), never lost
            self._generation_error = f"{type(error).__name__}: {error}".rstrip(": ")
            self.log.warning("generation stopped: %s", self._generation_error)
            if run.steps:
                with contextlib.suppress(Exception):
                    result = run.result()
        finally:
            with self._state_lock:
                try:
                    if result is not None:
                        self._use_extraction(result)
                    else:  # nothing written: the prompt's pass stays, the view says why
                        self.apply({"_generation": self.encoded_generation(), "generating": False})
                finally:
                    self._written.set()
                    if self.generating:
                        self.generating = False

    def _use_extraction(self, extraction: Extraction, same_tokens: bool = True, same_neurons: bool = True) -> None:
        """Show `extraction` instead of the one shown, keeping the selection where it still exists: every trait
        made from the extraction is replaced in one update. Used for a generation's recorded pass over prompt
        + output, and for another kind of an encoder-decoder run (`kind`): layer and head are kept when in
        range (else the last); the pinned and hovered tokens only when `same_tokens` (the same queries);
        the chosen neuron only when `same_neurons` (the same stack); the zoom only when it still fits."""
        self._extraction = extraction
        self._run = None
        self._forget_extraction_results()
        state: dict[str, Any] = self._static_state()
        layer = min(self.layer, extraction.num_layers - 1)
        head = min(self.head, extraction.num_heads - 1)
        token = self.token if same_tokens and self.token < extraction.seq_len else -1
        hovered = self.hovered_token if same_tokens and self.hovered_token < extraction.seq_len else -1
        if self.step >= 0 and token < 0:
            token = self._step_token(self.step)
        position = token if token >= 0 else hovered
        neuron_k = min(self.neuron_k, self._neuron_k_bounds()[1])
        neuron_kind = self.neuron_kind if self.neuron_kind in self._neuron_kinds() else "residual"
        neuron = self.neuron if same_neurons and self.neuron < self._neuron_widths[neuron_kind] else -1
        try:
            window = self._check_map_window(self.map_window)
        except ValueError:
            window = []
        state.update(
            layer=layer,
            head=head,
            hovered_token=hovered,
            neuron_kind=neuron_kind,
            neuron_k=neuron_k,
            neuron=neuron,
            map_window=window,
            token=token,
            _attention_map=self.encoded_head(layer, head),
            _map_window=self.encoded_window(layer, head, window),
            _neurons=self.encoded_neurons(layer, neuron_kind, neuron_k),
            _neuron_effects=self.encoded_neuron_effects(layer, neuron_kind, neuron),
            _effects=self.encoded_effects(token, self.target, self.contrast),
            _ablation=self.encoded_ablation(token, self.target, self.ablated, self.ablation_mode),
            _head_effects=self.encoded_head_effects(token, self.target, self.ablation_mode),
            _generation=self.encoded_generation(),
            _step_rows=self.encoded_step_rows(self.step),
            generating=False,
        )
        if position >= 0:
            state["_lens"] = self.encoded_lens(position)
        self._neuron_place = (layer, neuron_kind)
        self.apply(state)

    @traitlets.observe("kind")
    def _on_kind_change(self, change: dict[str, Any]) -> None:
        # Another part of an encoder-decoder run: decoder and cross share their queries (the decoder's
        # tokens) and their neurons (the decoder's stack).
        if self._result is None or self._extraction.stack == self.kind:
            return
        old = self._extraction.stack
        decoder_side = {"decoder", "cross"}
        same = old in decoder_side and self.kind in decoder_side
        with self._state_lock:
            self._use_extraction(self._result.part(self.kind), same_tokens=same, same_neurons=same)

    def _handle_stop_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # The generation tab's stop button.
        if isinstance(content, dict) and content.get("kind") == "stop_generation":
            self.stop_generation()

    # ---- observers: replace what is shown when it no longer matches the selection ----------------------
    @traitlets.observe("step")
    def _on_step_change(self, change: dict[str, Any]) -> None:
        # The step pins the position that chose its token (none while that position is not shown yet: the
        # model is writing); a step left unpins the position it had pinned.
        if self.step >= 0:
            position = self._step_token(self.step)
            if self.token != position:
                self.token = position
        elif isinstance(change["old"], int) and change["old"] >= 0 and self.token == self._step_token(change["old"]):
            self.token = -1
        info = self._step_rows.get("info", {})
        held = range(info.get("first", 0), info.get("first", 0) + info.get("count", 0))
        if self.step >= 0 and self.step not in held:
            self.apply({"_step_rows": self.encoded_step_rows(self.step)})

    @traitlets.observe("token")
    def _on_token_step(self, _change: dict[str, Any]) -> None:
        # A pinned position selects the step it chose (none if it chose none); unpinning ends the step,
        # unless its position is not shown yet (the step observer unpinned it).
        steps = len(self._steps())
        if not steps:
            return
        if self.token >= 0:
            step = self.token - self._extraction.prompt_length + 1
            wanted = step if 0 <= step < steps else -1
        else:
            wanted = -1 if self.step < 0 or self._step_token(self.step) >= 0 else self.step
        if wanted != self.step:
            self.step = wanted

    @traitlets.observe("layer", "head", "weighting")
    def _on_head_change(self, _change: dict[str, Any]) -> None:
        # A click sets layer and head in one message; both observers then see the final pair.
        shown = self._attention_map.get("info", {})
        if (shown.get("layer"), shown.get("head"), shown.get("weighting")) != (self.layer, self.head, self.weighting):
            self.apply({"_attention_map": self.encoded_head(self.layer, self.head)})

    @traitlets.observe("layer", "neuron_kind", "neuron")
    def _on_neuron_choice(self, _change: dict[str, Any]) -> None:
        if self.neuron >= 0 and getattr(self, "_neuron_place", None) != (self.layer, self.neuron_kind):
            self.neuron = -1  # chosen on another layer or kind; this observer runs again for the change
            return
        shown = self._neuron_effects.get("info", {})
        wanted = (self.layer, self.neuron_kind, self.neuron)
        # With no neuron chosen, what is shown is empty whatever the layer: nothing to send on a layer change.
        if (shown.get("layer"), shown.get("kind"), shown.get("neuron")) != wanted and (
            self.neuron >= 0 or shown.get("neuron") != -1
        ):
            self.apply({"_neuron_effects": self.encoded_neuron_effects(*wanted)})

    def _wanted_effects(self) -> dict[str, Any]:
        encoded = self.encoded_effects(self.token, self.target, self.contrast)
        return {"info": {**encoded["info"], "error": self._effects_error}, "data": encoded["data"]}

    @traitlets.observe("token", "target", "contrast")
    def _on_effects_change(self, change: dict[str, Any]) -> None:
        if change["name"] != "token":
            self._effects_error = None  # a target or contrast was accepted
        wanted = self._wanted_effects()
        if wanted != self._effects:
            self.apply({"_effects": wanted})

    @traitlets.observe("token", "target", "ablated", "ablation_mode")
    def _on_ablation_change(self, _change: dict[str, Any]) -> None:
        wanted = self.encoded_ablation(self.token, self.target, self.ablated, self.ablation_mode)
        if wanted != self._ablation:
            self.apply({"_ablation": wanted})

    @traitlets.observe("token", "target", "ablation_mode")
    def _on_head_effects_change(self, _change: dict[str, Any]) -> None:
        wanted = self.encoded_head_effects(self.token, self.target, self.ablation_mode)
        if wanted != self._head_effects:
            self.apply({"_head_effects": wanted})

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

    @traitlets.observe("layer", "head", "map_window", "weighting")
    def _on_window_change(self, _change: dict[str, Any]) -> None:
        shown = self._map_window.get("info")
        corners = [shown[k] for k in ("q0", "q1", "k0", "k1")] if shown else None
        shown_window = (shown["layer"], shown["head"], shown["weighting"], corners) if shown else None
        wanted = (self.layer, self.head, self.weighting, self.map_window) if self.map_window else None
        if shown_window != wanted:
            self.apply({"_map_window": self.encoded_window(self.layer, self.head, self.map_window)})

    # ---- messages from the views -----------------------------------------------------------------------
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the views. A `target` or `contrast` Python refuses (a text of several
        tokens) does not raise here: the trait keeps its value, the views get it back, and
        ``_effects.info.error`` says why until a target or contrast is accepted. Likewise a value-weighted
        map asked of a model that has none: `weighting` stays "attention" (and the kernel log says why)."""
        with self._state_lock:  # not while the writing thread replaces the extraction (see _write)
            self._set_state_from_views(sync_data)

    def _set_state_from_views(self, sync_data: dict[str, Any]) -> None:
        self._front_end_errors = {}
        try:
            super().set_state(sync_data)
        finally:
            errors, self._front_end_errors = self._front_end_errors, None
        if "weighting" in errors:
            self.log.warning("ignoring a weighting from the views: %s", errors["weighting"])
        if "target" in sync_data or "contrast" in sync_data:
            texts = [error for name, error in errors.items() if name in ("target", "contrast")]
            self._effects_error = "; ".join(texts) or None
            wanted = self._wanted_effects()
            if wanted != self._effects:
                self.apply({"_effects": wanted})
        if errors:
            self.send_state(list(errors))  # the views hold the refused text: give them the kept value

    # ---- read-outs ------------------------------------------------------------------------------------
    @property
    def extraction(self) -> Extraction:
        return self._extraction


def show(
    prompt: str,
    model: Any = None,
    *,
    target: str | None = None,
    generate: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    stop_at_eos: bool = True,
    **widget_options: Any,
) -> AttentionWidget:
    """Extract `prompt` with `model` (the bundled SmolLM2 by default) and return the widget.

    `model` is a model spec (alias, folder, .gguf file, cached hub id) or an `AttentionExtractor`;
    extractors built from specs are kept for the next call. Keyword options go to `AttentionWidget`
    (``views=["token-strip", "heatmap"]`` shows only those; ``panel="neuron-plot"`` opens that tab).

    `target` is the widget's `target` (the token whose logit the Effects tab explains, e.g. ``" Paris"``),
    except for an encoder-decoder model (T5, BART, Marian), which has no Effects tab: there `prompt` is the
    source text and `target` the decoder's (without it, the model's own greedy output); the widget shows the
    run's cross-attention, and `kind` switches to the encoder's or the decoder's
    (``show(source, target=..., model=..., kind="encoder")``).

    ``generate=30`` lets the model write up to 30 tokens after the prompt: the widget returns at once, showing
    the prompt, and its generation tab fills in token by token from a background thread (stop button;
    `generating`, `wait()`, `stop_generation()`); when writing ends it shows prompt + output. The sampling
    options are `AttentionExtractor.generate`'s (greedy unless ``do_sample=True``) and are checked first.
    """
    extractor = shared_extractor(model)
    if extractor.is_encoder_decoder:
        if generate is not None:
            raise ValueError(
                "generate=N is for decoder-only models; an encoder-decoder model writes its own "
                "output when no target is given"
            )
        return AttentionWidget(extractor.extract_activations(prompt, target), **widget_options)
    if target is not None:
        widget_options["target"] = target
    if generate is None:
        given = {"do_sample": do_sample, "top_k": top_k, "top_p": top_p, "seed": seed}
        asked = [name for name, value in given.items() if value not in (None, False)]
        asked += ["temperature"] if temperature != 1.0 else []
        asked += ["stop_at_eos"] if stop_at_eos is not True else []
        if asked:
            raise ValueError(f"{', '.join(asked)} apply only with generate=N (the number of tokens to write)")
        return AttentionWidget(extractor.extract_activations(prompt), **widget_options)
    # Checked (and the model's context measured) before anything runs.
    run = extractor.iter_generate(
        prompt,
        max_new_tokens=generate,
        do_sample=do_sample,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        stop_at_eos=stop_at_eos,
    )
    return AttentionWidget(extractor.extract_activations(prompt), generation=run, **widget_options)
