"""`AttentionVisualizer`: static matplotlib figures (PNG, SVG, PDF), with the method names of the scripts
attnwidget replaces.

Every method takes `save_path=` (the format follows the suffix) and returns the matplotlib Figure. Figures
are made without pyplot, so importing attnwidget changes no matplotlib setting.
Token labels are the readable display tokens; long prompts get thinned labels so they stay legible.

Encoder-decoder runs (`attnwidget.engine.seq2seq.EncoderDecoderExtraction`): the methods that take an
extraction take one too, with ``kind=`` choosing its part: ``"cross"`` (the default: the decoder's tokens on
the rows, the source's on the columns, drawn as the rectangle it is), ``"encoder"`` or ``"decoder"``. A part
itself (``result.cross``, ...) works like any extraction; titles and axis labels name the kind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..analysis.neurons import colour_limit, most_different_neurons, top_variable_neurons
from ..analysis.pooling import max_pool_2d
from ..analysis.scores import SCORES, focused_heads
from ..engine.extraction import Extraction, check_index
from ..engine.seq2seq import CrossExtraction, EncoderDecoderExtraction, part_of

# At most this many token labels on an axis; beyond it every n-th label is shown.
MAX_LABELS = 48
KIND_TITLES = {"encoder": "encoder self-attention", "decoder": "decoder self-attention", "cross": "cross-attention"}
# (rows, columns) axis labels of a map of each kind; None: a decoder-only or encoder-only model's.
AXIS_LABELS: dict[str | None, tuple[str, str]] = {
    None: ("query (attending)", "key (attended to)"),
    "encoder": ("source token (attending)", "source token (attended to)"),
    "decoder": ("decoder token (attending)", "decoder token (attended to)"),
    "cross": ("decoder token (attending)", "source token (attended to)"),
}


def key_tokens_of(extraction: Extraction) -> list[str] | None:
    """The column tokens of a cross-attention part (the source's), None for square maps."""
    return list(extraction.key_display_tokens) if isinstance(extraction, CrossExtraction) else None


def _kind_title(extraction: Extraction, text: str) -> str:
    return f"{KIND_TITLES[extraction.stack]} · {text}" if extraction.stack in KIND_TITLES else text


def _readable(tokens: Sequence[str]) -> list[str]:
    """Tokens as labels: tokenizer artefacts (Ġ, ▁, Ċ) turned into what they mean."""
    labels = []
    for token in tokens:
        text = str(token).replace("Ġ", " ").replace("▁", " ").replace("Ċ", "↵").replace("\n", "↵")
        labels.append(text if text.strip() else repr(text))
    return labels


def _token_axis(axis: Any, tokens: Sequence[str], which: str) -> None:
    labels = _readable(tokens)
    step = max(1, int(np.ceil(len(labels) / MAX_LABELS)))
    positions = list(range(0, len(labels), step))
    shown = [labels[i] for i in positions]
    if which == "x":
        axis.set_xticks(positions)
        axis.set_xticklabels(shown, rotation=90, fontsize=8)
    else:
        axis.set_yticks(positions)
        axis.set_yticklabels(shown, fontsize=8)


def _subplots(
    rows: int = 1, columns: int = 1, figsize: tuple[float, float] = (6.4, 4.8), squeeze: bool = True
) -> tuple[Figure, Any]:
    """A Figure made without pyplot: nothing global changes (the notebook's backend stays as it is), no
    window opens, and the figure is freed with its last reference. Notebooks still display it."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, columns, squeeze=squeeze)


def _save(figure: Figure, save_path: str | os.PathLike[str] | None) -> Figure:
    if save_path is not None:
        path = Path(save_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


def _as_array(values: Any, what: str, ndim: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.ndim not in ndim:
        allowed = " or ".join(f"{n}-D" for n in ndim)
        raise ValueError(f"{what} must be {allowed}, got shape {array.shape}")
    return array


def _check_head(head_idx: int, num_heads: int) -> int:
    if not -num_heads <= head_idx < num_heads:
        raise IndexError(f"head {head_idx} is out of range: {num_heads} heads (valid: 0..{num_heads - 1})")
    return head_idx % num_heads


class AttentionVisualizer:
    """Static figures of attention, neurons and layer statistics.

    Parameters
    ----------
    model_name : shown in titles (e.g. "smollm2-135m").
    cmap : colour map for attention (sequential); neurons always use a diverging red/blue map.
    """

    def __init__(self, model_name: str | None = None, cmap: str = "viridis") -> None:
        self.model_name = model_name
        self.cmap = cmap

    def _title(self, text: str) -> str:
        return f"{self.model_name} · {text}" if self.model_name else text

    # ---- attention ------------------------------------------------------------------------------------
    def plot_attention_heatmap(
        self,
        attention_weights: Any,
        tokens: Sequence[str] | None = None,
        layer_idx: int = 0,
        head_idx: int = 0,
        save_path: str | os.PathLike[str] | None = None,
        gamma: float = 0.5,
        title: str | None = None,
        *,
        key_tokens: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> Figure:
        """One head's attention map: rows are query tokens, columns the key tokens they attend to.

        `attention_weights` is one layer's [heads, seq, seq] (as `result["attention_weights"][layer]`) or one
        head's [seq, seq], with its `tokens`; or an extraction (then its head (`layer_idx`, `head_idx`) and its
        tokens are used). An `EncoderDecoderExtraction` draws its part `kind` (default "cross"). A
        rectangular map [q, k] (cross-attention: decoder tokens × source tokens) needs `key_tokens` for its
        columns (an extraction gives them). `gamma` < 1 brightens small weights (colour = weight ** gamma;
        1 = linear).
        """
        stack: str | None = None
        if isinstance(attention_weights, (Extraction, EncoderDecoderExtraction)):
            part = part_of(attention_weights, kind)
            stack = part.stack
            layer_idx = check_index(layer_idx, part.num_layers, "layer", "this model's layer count")
            head_idx = _check_head(head_idx, part.num_heads)
            maps = part.attention(layer_idx, head_idx)
            tokens = part.display_tokens if tokens is None else tokens
            key_tokens = key_tokens_of(part) if key_tokens is None else key_tokens
            if title is None:
                title = self._title(_kind_title(part, f"layer {layer_idx}, head {head_idx}"))
        else:
            if kind is not None:
                raise ValueError("kind= chooses the part of an EncoderDecoderExtraction: pass the extraction")
            if tokens is None:
                raise TypeError("tokens are needed with an array of attention weights")
            maps = _as_array(attention_weights, "attention_weights", (2, 3))
            if maps.ndim == 3:
                maps = maps[_check_head(head_idx, maps.shape[0])]
        rows, columns = list(tokens), list(tokens if key_tokens is None else key_tokens)
        if key_tokens is None and maps.shape != (len(rows), len(rows)):
            raise ValueError(f"attention map is {maps.shape} but there are {len(rows)} tokens")
        if maps.shape != (len(rows), len(columns)):
            raise ValueError(
                f"attention map is {maps.shape} but there are {len(rows)} query tokens and {len(columns)} key tokens"
            )
        if stack is None and key_tokens is not None:
            stack = "cross"
        width = min(12.0, 3.0 + 0.22 * len(columns))
        height = min(12.0, 3.0 + 0.22 * len(rows))
        figure, axis = _subplots(figsize=(width + 1.2, height))
        image = axis.imshow(np.power(maps, gamma), cmap=self.cmap, vmin=0, vmax=1, interpolation="nearest")
        _token_axis(axis, columns, "x")
        _token_axis(axis, rows, "y")
        row_label, column_label = AXIS_LABELS[stack]
        axis.set_xlabel(column_label)
        axis.set_ylabel(row_label)
        axis.set_title(title or self._title(f"layer {layer_idx}, head {head_idx}"))
        bar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
        ticks = np.array([0, 0.01, 0.1, 0.25, 0.5, 1.0])
        bar.set_ticks(np.power(ticks, gamma))
        bar.set_ticklabels([f"{t:g}" for t in ticks])
        bar.set_label("attention weight" + (f" (colour ∝ weight^{gamma:g})" if gamma != 1 else ""))
        return _save(figure, save_path)

    def plot_all_heads(
        self,
        attention_weights: Any,
        tokens: Sequence[str] | None = None,
        layer_idx: int | None = 0,
        save_path: str | os.PathLike[str] | None = None,
        gamma: float = 0.5,
        max_columns: int = 12,
        *,
        kind: str | None = None,
    ) -> Figure:
        """A grid of heads: one layer's [heads, seq, seq] (rows of `max_columns`), or every layer when given
        an Extraction, a list of layers or a [layers, heads, seq, seq] array (rows = layers, columns = heads).
        An `EncoderDecoderExtraction` draws its part `kind` (default "cross", whose maps are decoder tokens ×
        source tokens: rectangles, as are rectangular arrays).

        The every-layer grid is one mosaic image; each map is max-pooled to at most 64 pixels a side there,
        so thin patterns (a diagonal, an induction stripe) stay visible and long prompts stay cheap.
        """
        if isinstance(attention_weights, (Extraction, EncoderDecoderExtraction)):
            part = part_of(attention_weights, kind)
            keys = key_tokens_of(part)
            return self._plot_mosaic(
                part.iter_attention(),
                part.num_layers,
                part.num_heads,
                (part.seq_len, part.key_len),
                tokens or part.display_tokens,
                save_path,
                gamma,
                key_tokens=keys,
                stack=part.stack,
            )
        if kind is not None:
            raise ValueError("kind= chooses the part of an EncoderDecoderExtraction: pass the extraction")
        if isinstance(attention_weights, Sequence) and not isinstance(attention_weights, np.ndarray):
            grid = np.stack([np.asarray(m, dtype=np.float32) for m in attention_weights])
        else:
            grid = _as_array(attention_weights, "attention_weights", (3, 4))
        shape = (int(grid.shape[-2]), int(grid.shape[-1]))
        if tokens is not None and len(tokens) != shape[0]:
            raise ValueError(f"attention maps are {shape[0]} tokens long but {len(tokens)} tokens were given")
        if grid.ndim == 4:
            return self._plot_mosaic(enumerate(grid), grid.shape[0], grid.shape[1], shape, tokens, save_path, gamma)
        heads = grid.shape[0]
        columns = min(heads, max_columns)
        rows = int(np.ceil(heads / columns))
        aspect = min(3.0, max(1 / 3, shape[0] / shape[1]))
        figure, axes = _subplots(rows, columns, figsize=(2.4 * columns, 2.4 * aspect * rows + 0.6), squeeze=False)
        for index, axis in enumerate(axes.ravel()):
            axis.set_xticks([])
            axis.set_yticks([])
            if index >= heads:
                axis.axis("off")
                continue
            axis.imshow(np.power(grid[index], gamma), cmap=self.cmap, vmin=0, vmax=1, interpolation="nearest")
            axis.set_title(f"head {index}", fontsize=9, pad=2)
        if tokens is not None:
            figure.text(0.5, 0.005, self._prompt_caption(tokens), ha="center", va="bottom", fontsize=8, wrap=True)
        where = f"layer {layer_idx}, all {heads} heads" if layer_idx is not None else "all heads"
        figure.suptitle(self._title(where))
        figure.tight_layout(rect=(0, 0.03, 1, 0.97))
        return _save(figure, save_path)

    def _plot_mosaic(
        self,
        layers: Any,
        num_layers: int,
        num_heads: int,
        shape: tuple[int, int],
        tokens: Sequence[str] | None,
        save_path: str | os.PathLike[str] | None,
        gamma: float,
        *,
        key_tokens: Sequence[str] | None = None,
        stack: str | None = None,
    ) -> Figure:
        """Every layer × head as one image; each map [q, k] max-pooled to at most 64 × 64 (a rectangle stays
        one: q and k are pooled apart)."""
        tall, wide = min(shape[0], 64), min(shape[1], 64)
        gap = max(1, max(tall, wide) // 8)
        row_step, column_step = tall + gap, wide + gap
        mosaic = np.full((num_layers * row_step - gap, num_heads * column_step - gap), np.nan, dtype=np.float32)
        for layer, maps in layers:
            pooled = max_pool_2d(np.asarray(maps, dtype=np.float32), tall, wide)
            for head in range(num_heads):
                top, left = layer * row_step, head * column_step
                mosaic[top : top + tall, left : left + wide] = pooled[head]
        # Columns of about an inch per head (less with many heads); rows as tall as their maps are.
        cell = min(1.0, 14.0 / max(num_heads, 1))
        width, height = 1.2 + cell * num_heads, 1.0 + cell * num_layers * row_step / column_step
        figure, axis = _subplots(figsize=(width, min(height, 40.0)))
        colours = matplotlib.colormaps[self.cmap].with_extremes(bad=(1, 1, 1, 0))
        axis.imshow(np.power(mosaic, gamma), cmap=colours, vmin=0, vmax=1, interpolation="nearest")
        centres = np.arange(num_heads) * column_step + wide / 2 - 0.5
        axis.set_xticks(centres, [f"H{h}" for h in range(num_heads)], fontsize=8)
        axis.xaxis.tick_top()
        label_every = max(1, int(np.ceil(num_layers / 40)))
        rows = range(0, num_layers, label_every)
        axis.set_yticks([r * row_step + tall / 2 - 0.5 for r in rows], [f"L{r}" for r in rows], fontsize=8)
        axis.tick_params(length=0)
        for spine in axis.spines.values():
            spine.set_visible(False)
        if tokens is not None and key_tokens is not None:
            rows_caption, columns_caption = (
                self._prompt_caption(tokens, "decoder"),
                self._prompt_caption(key_tokens, "source"),
            )
            axis.set_xlabel(f"rows: {rows_caption}\ncolumns: {columns_caption}", fontsize=8)
        elif tokens is not None:
            axis.set_xlabel(self._prompt_caption(tokens), fontsize=8)
        pooled_note = ""
        if (tall, wide) != shape:
            pooled_note = f", maps max-pooled to {tall}²" if tall == wide else f", maps max-pooled to {tall} × {wide}"
        title = f"all {num_layers} layers × {num_heads} heads{pooled_note}"
        axis.set_title(self._title(f"{KIND_TITLES[stack]} · {title}" if stack in KIND_TITLES else title), pad=18)
        figure.tight_layout()
        return _save(figure, save_path)

    @staticmethod
    def _prompt_caption(tokens: Sequence[str], which: str = "") -> str:
        text = "".join(_readable(tokens))
        what = f"{which} tokens" if which else "tokens"
        return f"{len(tokens)} {what}: " + (text if len(text) <= 140 else text[:137] + "…")

    # ---- neurons ------------------------------------------------------------------------------------
    def plot_neuron_activations(
        self,
        activations: Any,
        tokens: Sequence[str],
        layer_idx: int | None = None,
        top_k: int = 20,
        save_path: str | os.PathLike[str] | None = None,
        kind: str = "residual",
    ) -> Figure:
        """The `top_k` neurons whose activation varies most across tokens (after the first), × tokens; red
        positive, blue negative.

        `activations` is [seq, width] (e.g. `result.neuron_activations(layer, "mlp")`).
        """
        values = _as_array(activations, "activations", (2,))
        if values.shape[0] != len(tokens):
            raise ValueError(f"activations have {values.shape[0]} rows but there are {len(tokens)} tokens")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        neurons = [int(n) for n in top_variable_neurons(values, top_k)]
        chosen = values[:, neurons].T  # [k, seq]
        # As in the widget: the first token's (often huge) activations saturate rather than set the scale.
        limit = colour_limit(chosen)
        width = min(16.0, 3.0 + 0.25 * len(tokens))
        figure, axis = _subplots(figsize=(width, 1.5 + 0.28 * len(neurons)))
        image = axis.imshow(chosen, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        _token_axis(axis, tokens, "x")
        axis.set_yticks(range(len(neurons)))
        axis.set_yticklabels([f"n{n}" for n in neurons], fontsize=8)
        axis.set_ylabel(f"{len(neurons)} most variable neurons")
        where = f"layer {layer_idx} " if layer_idx is not None else ""
        axis.set_title(self._title(f"{where}{'MLP neurons' if kind == 'mlp' else 'residual stream'}"))
        figure.colorbar(image, ax=axis, fraction=0.03, pad=0.02).set_label("activation")
        return _save(figure, save_path)

    def plot_activation_comparison(
        self,
        results: Mapping[str, Any] | Sequence[Any],
        layer_idx: int = -1,
        neuron_indices: Sequence[int] | None = None,
        kind: str = "residual",
        top_k: int = 6,
        save_path: str | os.PathLike[str] | None = None,
        *,
        stack: str = "encoder",
    ) -> Figure:
        """How chosen neurons respond across prompts: one panel per neuron, one line per prompt over tokens.

        Without `neuron_indices`, the `top_k` neurons whose mean activation differs most between prompts.
        `kind` is "residual" or "mlp"; for `EncoderDecoderExtraction` results, `stack` ("encoder" or
        "decoder") says whose neurons.
        """
        given = list(results.values()) if isinstance(results, Mapping) else list(results)
        if stack not in ("encoder", "decoder"):
            raise ValueError(f"stack must be 'encoder' or 'decoder', got {stack!r}")
        extractions = [e.part(stack) if isinstance(e, EncoderDecoderExtraction) else e for e in given]
        if len(extractions) < 2:
            raise ValueError(f"comparing needs at least 2 prompts, got {len(extractions)}")
        per_prompt = [e.neuron_activations(layer_idx, kind) for e in extractions]
        width = per_prompt[0].shape[1]
        if neuron_indices is None:
            neurons = [int(n) for n in most_different_neurons(per_prompt, top_k)]
        else:
            neurons = [int(n) for n in neuron_indices]
            bad = [n for n in neurons if not 0 <= n < width]
            if bad:
                raise IndexError(f"neurons {bad} are out of range: this layer has {width} (valid: 0..{width - 1})")
        columns = min(3, len(neurons))
        rows = int(np.ceil(len(neurons) / columns))
        figure, axes = _subplots(rows, columns, figsize=(5 * columns, 3.2 * rows + 0.8), squeeze=False)
        for index, axis in enumerate(axes.ravel()):
            if index >= len(neurons):
                axis.axis("off")
                continue
            neuron = neurons[index]
            for extraction, values in zip(extractions, per_prompt):
                axis.plot(values[:, neuron], marker="o", markersize=3, label=_shorten(extraction.prompt))
            axis.axhline(0, color="0.7", linewidth=0.8)
            axis.set_title(f"neuron {neuron}", fontsize=10)
            axis.set_xlabel("token position")
            axis.set_ylabel("activation")
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
        layer_name = f"layer {layer_idx}" if layer_idx >= 0 else f"layer {extractions[0].num_layers + layer_idx}"
        owner = {"encoder": "encoder ", "decoder": "decoder ", "cross": "decoder "}.get(str(extractions[0].stack), "")
        figure.suptitle(
            self._title(f"{owner}{layer_name} {'MLP neurons' if kind == 'mlp' else 'residual stream'} across prompts")
        )
        figure.tight_layout(rect=(0, 0.08, 1, 0.96))
        return _save(figure, save_path)

    # ---- the interactive page -------------------------------------------------------------------------
    def plot_interactive_attention(
        self,
        result: Any,
        save_path: str | os.PathLike[str] = "interactive_attention.html",
        layer_idx: int | None = None,
        head_idx: int | None = None,
        *,
        kind: str | None = None,
    ) -> Path:
        """Write the widget's linked views for `result` (an Extraction, an `EncoderDecoderExtraction` (its
        part `kind`, default "cross") or an AttentionWidget) as one self-contained HTML file that opens
        offline with no kernel; returns its path.

        The head shown first is (`layer_idx`, `head_idx`), or the most focused head when not given.
        """
        from ..widgets.attention import AttentionWidget
        from .export import export_html

        if isinstance(result, AttentionWidget):
            return export_html(result, save_path)
        if not isinstance(result, (Extraction, EncoderDecoderExtraction)):
            raise TypeError(f"result must be an Extraction or an AttentionWidget, got {type(result).__name__}")
        part = part_of(result, kind)
        if layer_idx is None or head_idx is None:
            best_layer, best_head = focused_heads(part.head_scores())[0][:2]
            layer_idx = best_layer if layer_idx is None else layer_idx
            head_idx = best_head if head_idx is None else head_idx
        return export_html(result, save_path, kind=part.stack, layer=layer_idx, head=head_idx)

    # ---- statistics ---------------------------------------------------------------------------------
    def plot_layer_statistics(
        self,
        stats: Mapping[str, Mapping[str, Any]] | Extraction | EncoderDecoderExtraction | Sequence[Any],
        save_path: str | os.PathLike[str] | None = None,
        *,
        kind: str | None = None,
    ) -> Figure:
        """Per layer: mean, std, mean row entropy of attention and attention to the first token; each head a
        dot, the layer's value a line.

        `stats` is `extractor.get_attention_stats(prompt)`, an Extraction (its stats are computed), or several
        Extractions: then one line per prompt (heads' dots for all of them), to compare phrasings.
        `EncoderDecoderExtraction` runs give their part `kind` (default "cross").
        """
        series: list[tuple[str, Mapping[str, Mapping[str, Any]]]]
        runs = (Extraction, EncoderDecoderExtraction)
        parts: list[Extraction] = []
        if isinstance(stats, runs):
            parts = [part_of(stats, kind)]
            series = [("layer (all heads)", parts[0].attention_stats())]
        elif isinstance(stats, Sequence) and stats and all(isinstance(e, runs) for e in stats):
            parts = [part_of(e, kind) for e in stats]
            series = [(_shorten(e.prompt), part.attention_stats()) for e, part in zip(stats, parts)]
        elif isinstance(stats, Mapping):
            if kind is not None:
                raise ValueError("kind= chooses the part of an EncoderDecoderExtraction: pass the extraction")
            series = [("layer (all heads)", stats)]
        else:
            raise TypeError("stats must be get_attention_stats(...) output, an Extraction or a list of them")
        names = list(series[0][1])
        if not names:
            raise ValueError("stats is empty: pass extractor.get_attention_stats(prompt)")
        stacks = {part.stack for part in parts}
        if len(stacks) > 1:
            raise ValueError(f"the extractions are different kinds of attention ({', '.join(map(str, stacks))})")
        cross = stacks == {"cross"}
        layers = np.arange(len(names))
        panels = [
            ("mean", "mean weight"),
            ("std", "std of weights"),
            ("entropy", SCORES["entropy"].label),
            ("first_token", SCORES["first_token"].label),
        ]
        panels = [(key, label) for key, label in panels if key in series[0][1][names[0]]]
        figure, axes = _subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
        colours = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown"]
        handles: list[Any] = []
        for axis, (metric, label) in zip(axes[0], panels):
            handles = []
            for index, (_name, one) in enumerate(series):
                colour = colours[index % len(colours)]
                per_head = np.array([one[name]["per_head"][metric] for name in names])  # [layers, heads]
                axis.scatter(
                    np.repeat(layers, per_head.shape[1]), per_head.ravel(), s=8, color=colour, alpha=0.25, linewidths=0
                )
                (line,) = axis.plot(layers, [one[name][metric] for name in names], color=colour, linewidth=2)
                handles.append(line)
            axis.set_xlabel("layer")
            axis.set_title(label)
            axis.grid(alpha=0.3)
            if metric == "mean":
                # Rows of a softmax map sum to 1, so every head's mean is 1/keys: say so rather than plot noise.
                value = max(float(one[names[0]]["mean"]) for _, one in series)
                axis.set_ylim(0, 2 * value if value > 0 else 1)
                keys = "source tokens" if cross else "seq"
                axis.text(0.5, 0.12, f"= 1/{keys} in every head\n(each row sums to 1)", transform=axis.transAxes,
                          ha="center", fontsize=8, color="0.35")  # fmt: skip
        labels = [name for name, _ in series]
        figure.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
        what = "attention statistics per layer (lines: layer average; dots: heads)"
        figure.suptitle(self._title(_kind_title(parts[0], what) if parts else what))
        figure.tight_layout(rect=(0, 0.07, 1, 1))
        return _save(figure, save_path)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["AttentionVisualizer"]
