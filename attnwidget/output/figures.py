"""`AttentionVisualizer`: static matplotlib figures (PNG, SVG, PDF), with the method names of the scripts
attnwidget replaces.

Every method takes `save_path=` (the format follows the suffix) and returns the matplotlib Figure. Figures
are made without pyplot, so importing attnwidget changes no matplotlib setting.
Token labels are the readable display tokens; long prompts get thinned labels so they stay legible.
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
from ..analysis.pooling import max_pool
from ..analysis.scores import SCORES, focused_heads
from ..engine.extraction import Extraction

# At most this many token labels on an axis; beyond it every n-th label is shown.
MAX_LABELS = 48


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
        tokens: Sequence[str],
        layer_idx: int = 0,
        head_idx: int = 0,
        save_path: str | os.PathLike[str] | None = None,
        gamma: float = 0.5,
        title: str | None = None,
    ) -> Figure:
        """One head's attention map: rows are query tokens, columns the key tokens they attend to.

        `attention_weights` is one layer's [heads, seq, seq] (as `result["attention_weights"][layer]`) or one
        head's [seq, seq]. `gamma` < 1 brightens small weights (colour = weight ** gamma; 1 = linear).
        """
        maps = _as_array(attention_weights, "attention_weights", (2, 3))
        if maps.ndim == 3:
            maps = maps[_check_head(head_idx, maps.shape[0])]
        if maps.shape != (len(tokens), len(tokens)):
            raise ValueError(f"attention map is {maps.shape} but there are {len(tokens)} tokens")
        size = min(12.0, 3.0 + 0.22 * len(tokens))
        figure, axis = _subplots(figsize=(size + 1.2, size))
        image = axis.imshow(np.power(maps, gamma), cmap=self.cmap, vmin=0, vmax=1, interpolation="nearest")
        _token_axis(axis, tokens, "x")
        _token_axis(axis, tokens, "y")
        axis.set_xlabel("key (attended to)")
        axis.set_ylabel("query (attending)")
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
    ) -> Figure:
        """A grid of heads: one layer's [heads, seq, seq] (rows of `max_columns`), or every layer when given
        an Extraction, a list of layers or a [layers, heads, seq, seq] array (rows = layers, columns = heads).

        The every-layer grid is one mosaic image; each map is max-pooled to at most 64 pixels a side there,
        so thin patterns (a diagonal, an induction stripe) stay visible and long prompts stay cheap.
        """
        if isinstance(attention_weights, Extraction):
            return self._plot_mosaic(
                attention_weights.iter_attention(),
                attention_weights.num_layers,
                attention_weights.num_heads,
                attention_weights.seq_len,
                tokens or attention_weights.display_tokens,
                save_path,
                gamma,
            )
        if isinstance(attention_weights, Sequence) and not isinstance(attention_weights, np.ndarray):
            grid = np.stack([np.asarray(m, dtype=np.float32) for m in attention_weights])
        else:
            grid = _as_array(attention_weights, "attention_weights", (3, 4))
        seq = grid.shape[-1]
        if tokens is not None and len(tokens) != seq:
            raise ValueError(f"attention maps are {seq} tokens long but {len(tokens)} tokens were given")
        if grid.ndim == 4:
            return self._plot_mosaic(enumerate(grid), grid.shape[0], grid.shape[1], seq, tokens, save_path, gamma)
        heads = grid.shape[0]
        columns = min(heads, max_columns)
        rows = int(np.ceil(heads / columns))
        figure, axes = _subplots(rows, columns, figsize=(2.4 * columns, 2.4 * rows + 0.6), squeeze=False)
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
        seq: int,
        tokens: Sequence[str] | None,
        save_path: str | os.PathLike[str] | None,
        gamma: float,
    ) -> Figure:
        side = min(seq, 64)
        gap = max(1, side // 8)
        step = side + gap
        mosaic = np.full((num_layers * step - gap, num_heads * step - gap), np.nan, dtype=np.float32)
        for layer, maps in layers:
            pooled = max_pool(np.asarray(maps, dtype=np.float32), side)
            for head in range(num_heads):
                mosaic[layer * step : layer * step + side, head * step : head * step + side] = pooled[head]
        cell = min(1.0, 14.0 / max(num_heads, 1))
        figure, axis = _subplots(figsize=(1.2 + cell * num_heads, 1.0 + cell * num_layers))
        colours = matplotlib.colormaps[self.cmap].with_extremes(bad=(1, 1, 1, 0))
        axis.imshow(np.power(mosaic, gamma), cmap=colours, vmin=0, vmax=1, interpolation="nearest")
        centres = np.arange(num_heads) * step + side / 2 - 0.5
        axis.set_xticks(centres, [f"H{h}" for h in range(num_heads)], fontsize=8)
        axis.xaxis.tick_top()
        label_every = max(1, int(np.ceil(num_layers / 40)))
        rows = range(0, num_layers, label_every)
        axis.set_yticks([r * step + side / 2 - 0.5 for r in rows], [f"L{r}" for r in rows], fontsize=8)
        axis.tick_params(length=0)
        for spine in axis.spines.values():
            spine.set_visible(False)
        if tokens is not None:
            axis.set_xlabel(self._prompt_caption(tokens), fontsize=8)
        pooled_note = f", maps max-pooled to {side}²" if side < seq else ""
        axis.set_title(self._title(f"all {num_layers} layers × {num_heads} heads{pooled_note}"), pad=18)
        figure.tight_layout()
        return _save(figure, save_path)

    @staticmethod
    def _prompt_caption(tokens: Sequence[str]) -> str:
        text = "".join(_readable(tokens))
        return f"{len(tokens)} tokens: " + (text if len(text) <= 140 else text[:137] + "…")

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
        results: Mapping[str, Extraction] | Sequence[Extraction],
        layer_idx: int = -1,
        neuron_indices: Sequence[int] | None = None,
        kind: str = "residual",
        top_k: int = 6,
        save_path: str | os.PathLike[str] | None = None,
    ) -> Figure:
        """How chosen neurons respond across prompts: one panel per neuron, one line per prompt over tokens.

        Without `neuron_indices`, the `top_k` neurons whose mean activation differs most between prompts.
        """
        extractions = list(results.values()) if isinstance(results, Mapping) else list(results)
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
        figure.suptitle(
            self._title(f"{layer_name} {'MLP neurons' if kind == 'mlp' else 'residual stream'} across prompts")
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
    ) -> Path:
        """Write the widget's linked views for `result` (an Extraction or an AttentionWidget) as one
        self-contained HTML file that opens offline with no kernel; returns its path.

        The head shown first is (`layer_idx`, `head_idx`), or the most focused head when not given.
        """
        from ..widgets.attention import AttentionWidget
        from .export import export_html

        if isinstance(result, AttentionWidget):
            return export_html(result, save_path)
        if not isinstance(result, Extraction):
            raise TypeError(f"result must be an Extraction or an AttentionWidget, got {type(result).__name__}")
        if layer_idx is None or head_idx is None:
            best_layer, best_head = focused_heads(result.head_scores())[0][:2]
            layer_idx = best_layer if layer_idx is None else layer_idx
            head_idx = best_head if head_idx is None else head_idx
        widget = AttentionWidget(result, layer=layer_idx % result.num_layers, head=head_idx % result.num_heads)
        return export_html(widget, save_path)

    # ---- statistics ---------------------------------------------------------------------------------
    def plot_layer_statistics(
        self,
        stats: Mapping[str, Mapping[str, Any]] | Extraction | Sequence[Extraction],
        save_path: str | os.PathLike[str] | None = None,
    ) -> Figure:
        """Per layer: mean, std, mean row entropy of attention and attention to the first token; each head a
        dot, the layer's value a line.

        `stats` is `extractor.get_attention_stats(prompt)`, an Extraction (its stats are computed), or several
        Extractions: then one line per prompt (heads' dots for all of them), to compare phrasings.
        """
        series: list[tuple[str, Mapping[str, Mapping[str, Any]]]]
        if isinstance(stats, Extraction):
            series = [("layer (all heads)", stats.attention_stats())]
        elif isinstance(stats, Sequence) and stats and all(isinstance(e, Extraction) for e in stats):
            series = [(_shorten(e.prompt), e.attention_stats()) for e in stats]
        elif isinstance(stats, Mapping):
            series = [("layer (all heads)", stats)]
        else:
            raise TypeError("stats must be get_attention_stats(...) output, an Extraction or a list of them")
        names = list(series[0][1])
        if not names:
            raise ValueError("stats is empty: pass extractor.get_attention_stats(prompt)")
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
                # Rows of a softmax map sum to 1, so every head's mean is 1/seq: say so rather than plot noise.
                value = max(float(one[names[0]]["mean"]) for _, one in series)
                axis.set_ylim(0, 2 * value if value > 0 else 1)
                axis.text(0.5, 0.12, "= 1/seq in every head\n(each row sums to 1)", transform=axis.transAxes,
                          ha="center", fontsize=8, color="0.35")  # fmt: skip
        labels = [name for name, _ in series]
        figure.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
        figure.suptitle(self._title("attention statistics per layer (lines: layer average; dots: heads)"))
        figure.tight_layout(rect=(0, 0.07, 1, 1))
        return _save(figure, save_path)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["AttentionVisualizer"]
