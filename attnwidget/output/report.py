"""The files `attnwidget compare` writes for a set of prompts: static figures and the interactive page.

For an encoder-decoder model the prompts are sources and every figure is written for each kind of attention
(encoder, decoder, cross), the kind at the end of its name; the neuron comparison for each stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..analysis.scores import focused_heads
from ..engine.extraction import Extraction
from ..engine.seq2seq import KINDS, EncoderDecoderExtraction
from .figures import KIND_TITLES, AttentionVisualizer


def write_figures(
    extractions: Sequence[Extraction | EncoderDecoderExtraction],
    out: Path,
    tag: str,
    single_mode: bool,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[Path]:
    """attention_<tag>_<n>.png and all_heads_<tag>_<n>.png per prompt, then the neuron comparison and the
    layer statistics (named without the tag when one mode runs alone, as the replaced scripts named them).
    Encoder-decoder runs: `write_seq2seq_figures`."""
    runs = [e for e in extractions if isinstance(e, EncoderDecoderExtraction)]
    if runs:
        if len(runs) != len(extractions):
            raise TypeError("write_figures needs extractions of one kind: all encoder-decoder runs, or none")
        return write_seq2seq_figures(runs, out, tag, single_mode, progress)
    return _write_prompt_figures([e for e in extractions if isinstance(e, Extraction)], out, tag, single_mode, progress)


def _write_prompt_figures(
    extractions: Sequence[Extraction],
    out: Path,
    tag: str,
    single_mode: bool,
    progress: Callable[[str], None],
) -> list[Path]:
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


def write_seq2seq_figures(
    runs: Sequence[EncoderDecoderExtraction],
    out: Path,
    tag: str,
    single_mode: bool,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[Path]:
    """For each kind of attention (encoder, decoder, cross): attention_<tag>_<n>_<kind>.png and
    all_heads_<tag>_<n>_<kind>.png per source, layer_stats_<kind>.png; then neuron_comparison_<stack>.png for
    the encoder's and the decoder's MLP neurons (cross-attention reads the decoder's). With several modes the
    tag comes before the kind: layer_stats_<tag>_<kind>.png."""
    out.mkdir(parents=True, exist_ok=True)
    viz = AttentionVisualizer(model_name=runs[0].model_name)
    written: list[Path] = []
    suffix = "" if single_mode else f"_{tag}"
    for kind in KINDS:
        # One head per kind for the whole set: the first source's most focused one.
        layer, head = focused_heads(runs[0].part(kind).head_scores())[0][:2]
        for number, run in enumerate(runs, start=1):
            path = out / f"attention_{tag}_{number}_{kind}.png"
            progress(f"{path.name}: layer {layer}, head {head}")
            title = f"{run.model_name} · {KIND_TITLES[kind]} · layer {layer}, head {head} · {_short(run.source)}"
            viz.plot_attention_heatmap(run, None, layer, head, save_path=path, title=title, kind=kind)
            written.append(path)
            path = out / f"all_heads_{tag}_{number}_{kind}.png"
            progress(path.name)
            viz.plot_all_heads(run, save_path=path, kind=kind)
            written.append(path)
        path = out / f"layer_stats{suffix}_{kind}.png"
        progress(path.name)
        viz.plot_layer_statistics(list(runs), path, kind=kind)
        written.append(path)
    if len(runs) >= 2:
        for stack in ("encoder", "decoder"):
            path = out / f"neuron_comparison{suffix}_{stack}.png"
            progress(path.name)
            viz.plot_activation_comparison(list(runs), -1, kind="mlp", save_path=path, stack=stack)
            written.append(path)
    return written


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
