"""The files `attnwidget compare` writes for a set of prompts: static figures and the interactive page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..analysis.scores import focused_heads
from ..engine.extraction import Extraction
from .figures import AttentionVisualizer


def write_figures(
    extractions: Sequence[Extraction],
    out: Path,
    tag: str,
    single_mode: bool,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[Path]:
    """attention_<tag>_<n>.png and all_heads_<tag>_<n>.png per prompt, then the neuron comparison and the
    layer statistics (named without the tag when one mode runs alone, as the replaced scripts named them)."""
    out.mkdir(parents=True, exist_ok=True)
    viz = AttentionVisualizer(model_name=extractions[0].model_name)
    written: list[Path] = []
    # One head for the whole set, so that the phrasings are compared on the same head: the first prompt's
    # most focused one.
    layer, head = focused_heads(extractions[0].head_scores())[0][:2]
    for number, extraction in enumerate(extractions, start=1):
        path = out / f"attention_{tag}_{number}.png"
        progress(f"{path.name}: layer {layer}, head {head}")
        viz.plot_attention_heatmap(
            extraction.attention(layer), extraction.display_tokens, layer, head, save_path=path,
            title=f"{extraction.model_name} · layer {layer}, head {head} · {_short(extraction.prompt)}",
        )  # fmt: skip
        written.append(path)
        path = out / f"all_heads_{tag}_{number}.png"
        progress(path.name)
        viz.plot_all_heads(extraction, save_path=path)
        written.append(path)
    suffix = "" if single_mode else f"_{tag}"
    if len(extractions) >= 2:
        path = out / f"neuron_comparison{suffix}.png"
        progress(path.name)
        viz.plot_activation_comparison(list(extractions), layer_idx=-1, kind="mlp", save_path=path)
        written.append(path)
    path = out / f"layer_stats{suffix}.png"
    progress(path.name)
    viz.plot_layer_statistics(list(extractions), save_path=path)
    written.append(path)
    return written


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
