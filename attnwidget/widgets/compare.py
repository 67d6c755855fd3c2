"""`CompareWidget`: two or more prompts side by side with one shared selection, and how their heads differ.
Its TypeScript half is `js/compare/` (`model.ts` mirrors the traits).

Each prompt gets a panel (its tokens and the selected head's map, the same views as `AttentionWidget`);
layer, head, pinned and hovered token are synced traits shared by every panel. When the prompts have the
same number of tokens a difference map (``diff_pair[1]`` minus ``diff_pair[0]``) is shown too. A layers ×
heads grid and a sorted list show which heads change most between the prompts; the distances are defined
in `attnwidget.analysis.differences`. "Patch A → B" (`patching`, `patch_pair`) shows how much of prompt B's
next-token prediction moves toward prompt A's when the selected head's output in B's run is taken from A's
run (`attnwidget.widgets.patching`). Arrays travel as bytes in the format of `attnwidget.widgets.encode`.

Encoder-decoder runs (T5, BART, Marian: `attnwidget.engine.seq2seq.EncoderDecoderExtraction`, one per phrasing
of a source) are compared one kind of attention at a time (``kind``): ``"encoder"`` (the default: the
sources' self-attention), ``"decoder"`` (the decoder's own tokens) or ``"cross"`` (the decoder's attention
over each source). Cross-attention maps are ``[decoder tokens, source tokens]`` and the sources' lengths
differ, so heads are compared by the length-free scores that mean something over another text's tokens
(peak weight, normalized entropy, first-token attention: the ``stats`` metric); their thumbnails and maps
travel as rectangles (``_info``: ``key_lens``, ``thumbnail_rows``, ``thumbnail_cols``, ``key_tokens``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from ..analysis import differences as _differences
from ..analysis.scores import SCORES, ScoreAccumulator
from ..engine.extraction import Extraction
from ..engine.extractor import shared_extractor
from ..engine.seq2seq import CROSS_SCORE_NAMES, CrossExtraction, EncoderDecoderExtraction, check_kind
from . import encode
from . import patching as _patching
from .attention import COLOR_SCALES
from .base import BoundedInt, Checked, Choice, Recent, WidgetBase, invalid

# Full-resolution maps of all prompts together get at most this many bytes (each prompt's map side shrinks
# below encode.MAP_MAX_SIZE when there are many long prompts); with the thumbnails (THUMBNAIL_BUDGET in
# all) every message stays under encode.MESSAGE_LIMIT.
MAPS_BUDGET = 6 * 1024 * 1024
RANKING_SIZE = 10
# Encoded patches kept per (source, target, layer, head).
PATCH_CACHE_SIZE = 64


def map_side(seq_len: int, causal: bool, prompts: int) -> int:
    """The side of each prompt's map so that all of them fit `MAPS_BUDGET` together."""
    per_prompt = MAPS_BUDGET // prompts
    # Lower triangle of float16: ~side² bytes; full: 2·side² bytes.
    return max(1, min(seq_len, encode.MAP_MAX_SIZE, math.isqrt(per_prompt // (1 if causal else 2))))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _metric_why(widget: CompareWidget, value: str) -> str:
    if value in _differences.METRICS and value not in widget._diffs.metrics:
        if widget.kind == "cross":
            return " (cross-attention is compared by the length-free scores: each run reads its own source)"
        return " (the map metrics need prompts with the same number of tokens)"
    return ""


class CompareWidget(WidgetBase):
    """Attention of two or more prompts side by side, with one shared selection and per-head differences.

    Parameters
    ----------
    extractions : two or more `Extraction` objects from models with the same layer and head counts
        (e.g. ``AttentionExtractor().extract_batch([...])``), or two or more `EncoderDecoderExtraction` runs
        of an encoder-decoder model (one per phrasing of a source).
    kind : for encoder-decoder runs, which attention is compared: ``"encoder"`` (default), ``"decoder"`` or
        ``"cross"`` (compared by the length-free scores, `metric` ``"stats"``). Not for other extractions.
    layer, head : the head every panel shows.
    token : the pinned token index (-1 for none), shared by every panel.
    color_scale : colour scale of the panels' maps, as in `AttentionWidget`.
    metric : how head differences are measured: ``"js"`` (Jensen-Shannon), ``"tv"`` (total variation) or
        ``"stats"`` (length-independent scores); the map metrics need prompts of equal length.
        Default: ``"js"`` when the prompts have the same length, else ``"stats"``.
    diff_pair : the two prompts of the difference map (shows ``diff_pair[1] − diff_pair[0]``).
    patch_pair : ``[a, b]``: "patch a → b" takes the selected head's output in prompt b's run from prompt a's
        run. Default: the default `diff_pair`.
    patching : compute "patch a → b" for the selected head (and again whenever the head or `patch_pair`
        changes); the view's "patch" button sets it. `patch_effect` gives the same numbers at any time.
    labels : a short name for each prompt (default: A, B, C, ...).

    Patching (standard activation patching; `attnwidget.widgets.patching`): B's run with head (layer, head)'s
    output taken from A's run, at every position when the prompts have the same number of tokens, else at
    the last position only. At the last position, with ``p_A`` and ``p_B`` the two runs' top next tokens and
    ``LD = log p(p_A) − log p(p_B)`` (the logit difference), the fraction moved is
    ``(LD_patched − LD_B) / (LD_A − LD_B)``: 0 nothing moved, 1 all the way to A's. When A and B predict the
    same token it is undefined (None) and ``delta``, the change in that token's log-probability, says what
    moved.

    Examples
    --------
    >>> extractor = AttentionExtractor()                                              # doctest: +SKIP
    >>> a, b = extractor.extract_batch(["The cat sat on the mat", "The dog sat on the mat"])  # doctest: +SKIP
    >>> w = CompareWidget([a, b])                                                     # doctest: +SKIP
    >>> w.ranking(3)                                    # [(layer, head, score), ...]  # doctest: +SKIP
    >>> w.patch_effect(5, 2)["fraction"]                # patch A → B for head 2 of layer 5  # doctest: +SKIP
    """

    _bundle = "compare"

    # ---- public, synced both ways -----------------------------------------------------------------
    layer = BoundedInt(0, bounds="_layer_bounds", help="Selected layer, shared by every panel.").tag(sync=True)
    head = BoundedInt(0, bounds="_head_bounds", help="Selected head, shared by every panel.").tag(sync=True)
    token = BoundedInt(-1, bounds="_token_bounds", help="Pinned token index (-1 for none), shared by every panel.").tag(
        sync=True
    )
    hovered_token = BoundedInt(
        -1, bounds="_token_bounds", help="Token index under the pointer in any panel (-1 for none)."
    ).tag(sync=True)
    color_scale = Choice("log", choices=COLOR_SCALES, help=f"One of {COLOR_SCALES}.").tag(sync=True)
    metric = Choice(
        "stats",
        choices="_metrics",
        why=_metric_why,
        help=f"One of {_differences.METRICS} (see attnwidget.analysis.differences).",
    ).tag(sync=True)
    diff_pair = Checked(
        [0, 1], check="_check_diff_pair", help="[a, b]: the difference map shows prompt b minus prompt a."
    ).tag(sync=True)
    patch_pair = Checked(
        [0, 1],
        check="_check_patch_pair",
        help="[a, b]: 'patch a → b' takes the selected head's output in prompt b's run from prompt a's run.",
    ).tag(sync=True)
    patching = Checked(
        False, check="_check_patching", help="Whether 'patch a → b' is computed for the selected head."
    ).tag(sync=True)

    # ---- private, Python → views (byte layouts: attnwidget.widgets.encode) ---------------------------
    _info = traitlets.Dict().tag(sync=True)
    _tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    # Per prompt: uint8 [layers, heads, T, T].
    _thumbnails = traitlets.List(traitlets.Bytes()).tag(sync=True)
    # Per prompt: the selected head's map (encode_attention_map), info + {"layer", "head"}.
    _maps = traitlets.List(traitlets.Dict()).tag(sync=True)
    # float32 [len(metrics), layers, heads] and [prompts, len(stats), layers, heads].
    _head_diff = traitlets.Bytes(b"").tag(sync=True)
    _head_stats = traitlets.Bytes(b"").tag(sync=True)
    # Patch patch_pair[0] → patch_pair[1] of the selected head (attnwidget.widgets.patching.encoded_patch),
    # {} while `patching` is off (a model that cannot be patched says why whatever `patching` is).
    _patch = traitlets.Dict().tag(sync=True)

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
        patch_pair: Sequence[int] | None = None,
        patching: bool = False,
        labels: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> None:
        self._extractions, self._kind = _validated(extractions, kind)
        self._patches: Recent[dict[str, Any]] = Recent(PATCH_CACHE_SIZE)  # per (a, b, layer, head)
        # Each prompt's next-token log-probabilities after its last token, the same for every patch.
        self._last_logprobs: dict[int, np.ndarray] = {}
        self._labels = _validated_labels(labels, len(self._extractions))
        self._diffs, thumbnails = self._one_pass()
        self._checks_ready = True
        traits = self.traits()
        selection = {
            name: traits[name].validate(self, value)
            for name, value in {
                "layer": layer,
                "head": head,
                "token": token,
                "color_scale": color_scale,
                "metric": self._diffs.metrics[0] if metric is None else metric,
                "diff_pair": self._default_pair() if diff_pair is None else diff_pair,
                "patch_pair": self._default_pair() if patch_pair is None else patch_pair,
                "patching": patching,
            }.items()
        }
        super().__init__(
            **self._static_state(thumbnails),
            **selection,
            _maps=self.encoded_maps(selection["layer"], selection["head"]),
            _patch=self._wanted_patch(**{k: selection[k] for k in ("layer", "head", "patch_pair", "patching")}),
        )

    # ---- state built once ---------------------------------------------------------------------------
    def _one_pass(self) -> tuple[_differences.HeadDifferences, list[np.ndarray]]:
        """One pass over every layer of every prompt: the head differences (from each prompt's scores, which
        its extraction keeps too) and uint8 thumbnails [L, H, rows, cols] per prompt (square but for
        cross-attention), which share `encode.THUMBNAIL_BUDGET` bytes."""
        exs = self._extractions
        count = len(exs)
        layers, heads = exs[0].num_layers, exs[0].num_heads
        budget = encode.THUMBNAIL_BUDGET // count
        shapes = [encode.thumbnail_shape(layers * heads, ex.seq_len, ex.key_len, budget)[1:] for ex in exs]
        thumbnails = [np.zeros((layers, heads, rows, cols), dtype=np.uint8) for rows, cols in shapes]
        accumulator = _differences.DifferenceAccumulator(exs)
        scorers = [ScoreAccumulator(layers, heads, ex.input_ids, ex.is_causal) for ex in exs]
        for per_prompt in zip(*(ex.iter_attention() for ex in exs)):
            layer = per_prompt[0][0]
            maps = [m for _, m in per_prompt]
            tables = [
                # Cross-attention: scored over the source's keys, NaN where a score needs the keys to be the queries.
                scorer.put(layer, ex.score_layer(m)) if isinstance(ex, CrossExtraction) else scorer.add(layer, m)
                for scorer, ex, m in zip(scorers, exs, maps)
            ]
            for index, layer_maps in enumerate(maps):
                thumbnails[index][layer] = encode.thumbnails(layer_maps, *shapes[index])
            accumulator.add(layer, maps, tables)
        for ex, scorer in zip(exs, scorers):
            ex.remember_head_scores(scorer.result())
        return accumulator.result(), thumbnails

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
            "thumbnail_sizes": [int(max(t.shape[-2:])) for t in thumbnails],
            # The compared kind of attention of encoder-decoder runs ("" for other models); a cross map's keys
            # are its source's tokens: key_lens, key_tokens, and rectangular thumbnails and maps.
            "kind": self._kind or "",
            "key_lens": [ex.key_len for ex in exs],
            "thumbnail_rows": [int(t.shape[-2]) for t in thumbnails],
            "thumbnail_cols": [int(t.shape[-1]) for t in thumbnails],
            "metrics": list(diffs.metrics),
            "metric_labels": [
                # Cross-attention has only some of the length-free scores: the label names those.
                _differences.stats_label(CROSS_SCORE_NAMES)
                if m == "stats" and self._kind == "cross"
                else _differences.METRIC_LABELS[m]
                for m in diffs.metrics
            ],
            "stats": [
                {"name": name, "title": SCORES[name].title, "label": SCORES[name].label}
                for name in _differences.STAT_NAMES
            ],
            "ranking_size": RANKING_SIZE,
        }
        if self._kind == "cross":
            info["key_tokens"] = [list(ex.key_display_tokens) for ex in exs if isinstance(ex, CrossExtraction)]
        return {
            "_info": info,
            "_tokens": [list(ex.display_tokens) for ex in exs],
            "_thumbnails": [t.tobytes() for t in thumbnails],
            "_head_diff": encode.encode_float32(np.stack([diffs.scores[m] for m in diffs.metrics])),
            "_head_stats": encode.encode_float32(diffs.statistics),
        }

    def _default_pair(self) -> list[int]:
        lengths = [ex.seq_len for ex in self._extractions]
        for a in range(len(lengths)):
            for b in range(a + 1, len(lengths)):
                if lengths[a] == lengths[b]:
                    return [a, b]
        return [0, 1]

    # ---- what each trait allows -------------------------------------------------------------------------
    def _layer_bounds(self) -> tuple[int, int, str]:
        layers = self._extractions[0].num_layers
        return 0, layers - 1, f" (this model has {layers} layers)"

    def _head_bounds(self) -> tuple[int, int, str]:
        heads = self._extractions[0].num_heads
        return 0, heads - 1, f" (each layer has {heads} heads)"

    def _token_bounds(self) -> tuple[int, int, str]:
        longest = max(ex.seq_len for ex in self._extractions)
        return -1, longest - 1, f" (-1 for none; the longest prompt has {longest} tokens)"

    def _metrics(self) -> tuple[str, ...]:
        return self._diffs.metrics

    def _check_pair(self, name: str, value: Any) -> list[int]:
        count = len(self._extractions)
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
            and all(0 <= v < count for v in value)
            and value[0] != value[1]
        )
        if not ok:
            raise ValueError(str(invalid(name, f"two different prompt indices in 0..{count - 1}", value)))
        return [int(value[0]), int(value[1])]

    def _check_diff_pair(self, value: Any) -> list[int]:
        return self._check_pair("diff_pair", value)

    def _check_patch_pair(self, value: Any) -> list[int]:
        return self._check_pair("patch_pair", value)

    def _check_patching(self, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(str(invalid("patching", "True or False", value)))
        return bool(value)

    # ---- what the views show for a selection (pure) -----------------------------------------------------
    def encoded_maps(self, layer: int, head: int) -> list[dict[str, Any]]:
        """Every prompt's map of one head, as the views receive them in ``_maps``."""
        traits = self.traits()
        layer, head = traits["layer"].validate(self, layer), traits["head"].validate(self, head)
        count = len(self._extractions)
        maps: list[dict[str, Any]] = []
        for ex in self._extractions:
            # A cross-attention map [decoder tokens, source tokens]: each side capped at the longer one's share.
            cross = isinstance(ex, CrossExtraction)
            side = map_side(max(ex.seq_len, ex.key_len), ex.is_causal, count)
            encoded = encode.encode_attention_map(ex.attention(layer, head), ex.is_causal, side, rectangular=cross)
            info: dict[str, Any] = {"layer": layer, "head": head, **encoded["info"]}
            maps.append({"info": info, "data": encoded["data"]})
        return maps

    def encoded_patch(self, layer: int, head: int, pair: Sequence[int] | None = None) -> dict[str, Any]:
        """Head (layer, head) patched from prompt a into prompt b (`pair` ``[a, b]``, default `patch_pair`), as
        the views receive it in ``_patch`` (`attnwidget.widgets.patching.encoded_patch`). Kept per (a, b, layer,
        head)."""
        layer, head, (a, b) = self._checked_patch_args(layer, head, pair)
        source, target = self._extractions[a], self._extractions[b]
        return self._patches.get(
            (a, b, layer, head),
            lambda: _patching.encoded_patch(source, target, [a, b], layer, head, self._unpatched(a, b)),
        )

    def _unpatched(self, a: int, b: int) -> _patching.Unpatched:
        """Prompts a's and b's log-probabilities after their last token (None for a model without logits)."""
        if self._extractions[0].predictor is None:
            return None
        for index in (a, b):
            if index not in self._last_logprobs:
                self._last_logprobs[index] = _patching.last_logprobs(self._extractions[index])
        return self._last_logprobs[a], self._last_logprobs[b]

    def _checked_patch_args(self, layer: Any, head: Any, pair: Any) -> tuple[int, int, list[int]]:
        traits = self.traits()
        checked_pair = traits["patch_pair"].validate(self, self.patch_pair if pair is None else pair)
        return traits["layer"].validate(self, layer), traits["head"].validate(self, head), checked_pair

    def _wanted_patch(self, layer: int, head: int, patch_pair: list[int], patching: bool) -> dict[str, Any]:
        """What ``_patch`` holds for this state: the patch while `patching` is on, else nothing, unless the
        model cannot be patched at all (that is said at once, without waiting for a click)."""
        if patching or self._extractions[0].predictor is None:
            return self.encoded_patch(layer, head, patch_pair)
        return {}

    @traitlets.observe("layer", "head")
    def _on_head_change(self, _change: dict[str, Any]) -> None:
        shown = self._maps[0]["info"] if self._maps else {}
        if (shown.get("layer"), shown.get("head")) != (self.layer, self.head):
            self.apply({"_maps": self.encoded_maps(self.layer, self.head)})

    @traitlets.observe("layer", "head", "patch_pair", "patching")
    def _on_patch_change(self, _change: dict[str, Any]) -> None:
        wanted = self._wanted_patch(self.layer, self.head, self.patch_pair, self.patching)
        if wanted is not self._patch and wanted != self._patch:
            self.apply({"_patch": wanted})

    # ---- read-outs ------------------------------------------------------------------------------------
    @property
    def extractions(self) -> list[Extraction]:
        """The compared extractions (for encoder-decoder runs, each run's part `kind`)."""
        return list(self._extractions)

    @property
    def kind(self) -> str | None:
        """The compared kind of attention of encoder-decoder runs ("encoder", "decoder", "cross"); None for
        other models."""
        return self._kind

    @property
    def differences(self) -> _differences.HeadDifferences:
        """Per-head distances and scores (see `attnwidget.analysis.differences`)."""
        return self._diffs

    @property
    def head_differences(self) -> np.ndarray:
        """float32 [layers, heads]: each head's distance between the prompts under the current `metric`."""
        return self._diffs.scores[self.metric]

    def ranking(self, k: int | None = RANKING_SIZE) -> list[tuple[int, int, float]]:
        """(layer, head, score) of the `k` heads that change most under the current `metric`, largest first."""
        return self._diffs.ranking(self.metric, k)

    def patch_effect(
        self, layer: int | None = None, head: int | None = None, pair: Sequence[int] | None = None
    ) -> dict[str, Any]:
        """How far patching head (layer, head) (default: the selected one) from prompt a into prompt b (`pair`
        ``[a, b]``, default `patch_pair`) moves b's prediction toward a's: what the view shows, in float64 (see
        the class docstring for the definition).

        Returns ``{"pair": [a, b], "layer", "head", "positions": "all" | "last", "source_top", "target_top"
        (a's and b's top next tokens), "source_top_id", "target_top_id", "same_top", "fraction" (None when
        the tops are the same), "logit_diff": {"source", "target", "patched"} (None when the same),
        "logprobs": {"source_top": {"source", "target", "patched"}, "target_top": {...}}, "delta",
        "top_before", "top_after": [(text, probability)] × 5}`` (b's top next tokens before and after).
        A model that cannot be patched (an encoder) raises the engine's ValueError.
        """
        layer, head, (a, b) = self._checked_patch_args(
            self.layer if layer is None else layer, self.head if head is None else head, pair
        )
        source, target = self._extractions[a], self._extractions[b]
        effect = _patching.patch_effect(source, target, layer, head, unpatched=self._unpatched(a, b))
        return {"pair": [a, b], **effect}


def _validated(extractions: Any, kind: str | None = None) -> tuple[list[Extraction], str | None]:
    """The extractions compared (for encoder-decoder runs, their part `kind`, default "encoder") and the kind."""
    if (
        isinstance(extractions, (Extraction, EncoderDecoderExtraction))
        or not isinstance(extractions, Sequence)
        or isinstance(extractions, str)
    ):
        raise TypeError(
            f"CompareWidget needs a list of Extractions (from AttentionExtractor().extract_batch), "
            f"got {type(extractions).__name__}"
        )
    given = list(extractions)
    for index, item in enumerate(given):
        if not isinstance(item, (Extraction, EncoderDecoderExtraction)):
            raise TypeError(f"CompareWidget needs Extractions, item {index} is a {type(item).__name__}")
    runs = [item for item in given if isinstance(item, EncoderDecoderExtraction)]
    items = [item for item in given if isinstance(item, Extraction)]
    if runs:
        if items:
            index = next(i for i, item in enumerate(given) if isinstance(item, Extraction))
            raise TypeError(f"CompareWidget needs encoder-decoder runs only or none: item {index} is an Extraction")
        kind = "encoder" if kind is None else check_kind(kind)
        items = [run.part(kind) for run in runs]
    elif kind is not None:
        name = items[0].model_name if items else "this model"
        raise ValueError(
            f"kind={kind!r} is for encoder-decoder runs (T5, BART, Marian, ...); {name} has one kind of attention"
        )
    if len(items) < 2:
        raise ValueError(f"CompareWidget needs at least 2 extractions to compare, got {len(items)}")
    first = items[0]

    def shape(i: int, ex: Extraction) -> str:
        kind = "causal" if ex.is_causal else "bidirectional"
        return f"#{i} ({ex.model_name}: {ex.num_layers} layers × {ex.num_heads} heads, {kind})"

    for index, ex in enumerate(items[1:], start=1):
        if (ex.num_layers, ex.num_heads, ex.is_causal) != (first.num_layers, first.num_heads, first.is_causal):
            raise ValueError(f"extractions must come from models of one shape: {shape(0, first)} vs {shape(index, ex)}")
    return items, kind


def _validated_labels(labels: Sequence[str] | None, count: int) -> list[str]:
    if labels is None:
        return [chr(ord("A") + i) if i < 26 else str(i) for i in range(count)]
    if isinstance(labels, str) or len(labels) != count or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be a list of {count} strings, one per extraction")
    return [_clip(x, 40) for x in labels]


def compare(
    prompts: Sequence[str], model: Any = None, *, target: str | None = None, **widget_options: Any
) -> CompareWidget:
    """Extract `prompts` with `model` (the bundled SmolLM2 by default) and return a `CompareWidget`.

    `model` is a model spec (alias, folder, .gguf file, cached hub id) or an `AttentionExtractor`;
    extractors built from specs are shared with `attnwidget.show`. Keyword options go to `CompareWidget`
    (``kind=`` for an encoder-decoder model, whose `prompts` are sources: the decoder reads `target` after
    each, or writes its own greedy output when `target` is None).

    Examples
    --------
    >>> attnwidget.compare(["The movie was great", "The movie was awful"])  # doctest: +SKIP
    """
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}")
    if len(prompts) < 2:
        raise ValueError(f"compare needs at least 2 prompts, got {len(prompts)}")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt {index} must be a non-empty string, got {prompt!r}")
    extractor = shared_extractor(model)
    if target is None:
        return CompareWidget(extractor.extract_batch(list(prompts)), **widget_options)
    return CompareWidget([extractor.extract_activations(prompt, target) for prompt in prompts], **widget_options)
