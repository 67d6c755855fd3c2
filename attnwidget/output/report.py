"""The files `attnwidget compare` writes for a set of prompts: static figures and the interactive page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engine.extraction import Extraction, row_entropy
from .figures import AttentionVisualizer


@dataclass(frozen=True)
class FocusedHead:
    layer: int
    head: int
    entropy: float  # mean row entropy, nats
    sink: float  # mean attention to the first token
    last_token_target: int  # the position the last token attends to most


def rank_focused_heads(extraction: Extraction) -> list[FocusedHead]:
    """Heads from most to least focused (lowest mean row entropy), leaving out the first rows (which see
    few tokens). Heads that mostly look at the first token (an "attention sink") come last."""
    first_row = min(3, extraction.seq_len - 1)
    heads = []
    for layer, maps in extraction.iter_attention():
        entropy = row_entropy(maps[:, first_row:]).mean(axis=-1)
        sink = maps[:, first_row:, 0].mean(axis=-1)
        target = maps[:, -1].argmax(axis=-1)
        heads += [
            FocusedHead(layer, head, float(entropy[head]), float(sink[head]), int(target[head]))
            for head in range(extraction.num_heads)
        ]
    return sorted(heads, key=lambda h: (h.sink >= 0.5, h.entropy))


def most_focused_head(extraction: Extraction) -> tuple[int, int]:
    """The most focused head that is not an attention sink; its map is usually a readable pattern."""
    best = rank_focused_heads(extraction)[0]
    return best.layer, best.head


def write_figures(
    extractions: Sequence[Extraction],
    out: Path,
    tag: str,
    single_mode: bool,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[Path]:
    """attention_<tag>_<n>.png and all_heads_<tag>_<n>.png per prompt, then the neuron comparison and the
    layer statistics (named without the tag when one mode runs alone, as the original project did)."""
    out.mkdir(parents=True, exist_ok=True)
    viz = AttentionVisualizer(model_name=extractions[0].model_name)
    written: list[Path] = []
    # One head for the whole set, so that the phrasings are compared on the same head: the first prompt's
    # most focused one.
    layer, head = most_focused_head(extractions[0])
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
