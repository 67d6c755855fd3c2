"""Encoder-decoder runs on the output side: figures of each kind (cross drawn as a rectangle), the page,
`attnwidget compare/summary --target` on a saved tiny T5, and CompareWidget(kind=...)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import attnwidget
from attnwidget import AttentionExtractor, AttentionVisualizer, CompareWidget
from attnwidget.cli import main
from attnwidget.engine.seq2seq import CROSS_SCORE_NAMES, KINDS, EncoderDecoderExtraction
from attnwidget.output.export import export_html
from attnwidget.widgets import encode
from tests.test_figures import assert_image
from tests.tiny_models import tiny_model

# Sources of different lengths; the decoder reads one target after each.
SOURCES = ["the cat sat on the mat", "a small cat was sitting on the old mat today", "the cat"]
TARGET = "le chat dort"


@pytest.fixture(scope="module")
def t5(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-t5", model=tiny_model("t5"), tokenizer=bert_tokenizer)


@pytest.fixture(scope="module")
def runs(t5: AttentionExtractor) -> list[EncoderDecoderExtraction]:
    found = [t5.extract_activations(source, TARGET) for source in SOURCES]
    assert len({run.encoder.seq_len for run in found}) == 3
    return found


def labels(axis: Any, which: str) -> list[str]:
    ticks = axis.get_xticklabels() if which == "x" else axis.get_yticklabels()
    return [tick.get_text() for tick in ticks]


# ---- figures ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [*KINDS, None])
def test_heatmap_of_each_kind_labels_rows_and_columns(
    runs: list[EncoderDecoderExtraction], kind: str | None, tmp_path: Path
) -> None:
    run = runs[1]
    path = tmp_path / f"heatmap_{kind}.png"
    figure = AttentionVisualizer("tiny-t5").plot_attention_heatmap(
        run, layer_idx=-1, head_idx=2, kind=kind, save_path=path
    )
    axis = figure.axes[0]
    part = run.part(kind or "cross")  # cross is the default
    rows = run.encoder.display_tokens if part.stack == "encoder" else run.decoder.display_tokens
    columns = run.decoder.display_tokens if part.stack == "decoder" else run.encoder.display_tokens
    assert labels(axis, "y") == rows and labels(axis, "x") == columns
    shown = axis.images[0].get_array()
    assert shown.shape == (len(rows), len(columns))
    np.testing.assert_allclose(shown, np.sqrt(part.attention(part.num_layers - 1, 2)), rtol=1e-6)  # gamma 0.5
    assert len(figure.axes) == 2  # the colour bar
    title = {"encoder": "encoder self-attention", "decoder": "decoder self-attention", "cross": "cross-attention"}
    assert axis.get_title() == f"tiny-t5 · {title[part.stack]} · layer {part.num_layers - 1}, head 2"
    which = {"encoder": ("source", "source"), "decoder": ("decoder", "decoder"), "cross": ("decoder", "source")}
    assert axis.get_ylabel().startswith(which[part.stack][0]) and axis.get_xlabel().startswith(which[part.stack][1])
    assert_image(path, min_size=(150, 150))


def test_cross_map_is_a_rectangle_in_every_figure(runs: list[EncoderDecoderExtraction], tmp_path: Path) -> None:
    run = runs[1]
    viz = AttentionVisualizer("tiny-t5")
    decoder, source = run.cross.seq_len, run.cross.key_len
    assert source > decoder
    # The heatmap from an array needs the key tokens for its columns.
    figure = viz.plot_attention_heatmap(
        run.cross.attention(0), run.decoder.display_tokens, 0, 1, key_tokens=run.cross.key_display_tokens
    )
    assert figure.axes[0].images[0].get_array().shape == (decoder, source)
    with pytest.raises(ValueError, match="there are 7 tokens"):
        viz.plot_attention_heatmap(run.cross.attention(0), run.decoder.display_tokens, 0, 1)
    # The mosaic: rows of decoder-token-tall maps, columns of source-token-wide ones (gap 1 for short maps).
    path = tmp_path / "all_heads_cross.png"
    mosaic = viz.plot_all_heads(run, save_path=path).axes[0].images[0].get_array()
    layers, heads = run.cross.num_layers, run.cross.num_heads
    assert mosaic.shape == (layers * (decoder + 1) - 1, heads * (source + 1) - 1)
    np.testing.assert_allclose(mosaic[:decoder, :source], np.sqrt(run.cross.attention(0, 0)), rtol=1e-6)
    assert_image(path)
    with Image.open(path) as image:
        assert image.width > image.height
    for kind in ("encoder", "decoder"):
        part = run.part(kind)
        grid = viz.plot_all_heads(run, kind=kind).axes[0].images[0].get_array()
        assert grid.shape == (part.num_layers * (part.seq_len + 1) - 1, part.num_heads * (part.seq_len + 1) - 1)


def test_statistics_and_neurons_of_each_kind(runs: list[EncoderDecoderExtraction], tmp_path: Path) -> None:
    viz = AttentionVisualizer("tiny-t5")
    titles = {"encoder": "encoder self-attention", "decoder": "decoder self-attention", "cross": "cross-attention"}
    for kind in KINDS:
        path = tmp_path / f"stats_{kind}.png" if kind == "cross" else None  # drawing is enough for the others
        figure = viz.plot_layer_statistics(runs, path, kind=kind)
        assert figure.get_suptitle().startswith(f"tiny-t5 · {titles[kind]} · attention statistics per layer")
        # One line per source, over this kind's layers.
        assert [len(line.get_xdata()) for line in figure.axes[2].lines] == [runs[0].part(kind).num_layers] * 3
    assert_image(tmp_path / "stats_cross.png")
    for stack in ("encoder", "decoder"):
        figure = viz.plot_activation_comparison(runs, -1, kind="mlp", stack=stack)
        assert figure.get_suptitle().startswith(f"tiny-t5 · {stack} layer")
        lengths = {len(line.get_ydata()) for line in figure.axes[0].lines[: len(runs)]}  # then the zero line
        assert lengths == ({run.encoder.seq_len for run in runs} if stack == "encoder" else {runs[0].decoder.seq_len})


def test_decoder_neurons_first_leave_its_attention_alone(t5: AttentionExtractor) -> None:
    """Replaying a decoder block for its MLP neurons runs its cross-attention call too: the self-attention
    inputs kept from that replay must be the block's first call's (they were the cross call's)."""
    run = t5.extract_activations(SOURCES[2], TARGET)  # 4 source tokens, 7 decoder tokens
    last = run.decoder.num_layers - 1
    run.decoder.neuron_activations(last, "mlp")
    maps = run.decoder.attention(last)
    assert maps.shape == (run.decoder.num_heads, 7, 7)
    np.testing.assert_allclose(np.triu(maps, 1), 0.0)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    assert run.cross.attention(last).shape == (run.cross.num_heads, 7, 4)


def test_figure_kind_errors(runs: list[EncoderDecoderExtraction], t5: AttentionExtractor, bert_tokenizer: Any) -> None:
    viz = AttentionVisualizer()
    run = runs[0]
    with pytest.raises(ValueError, match="kind must be one of 'encoder', 'decoder', 'cross', got 'self'"):
        viz.plot_all_heads(run, kind="self")
    with pytest.raises(ValueError, match="this extraction is the encoder part"):
        viz.plot_attention_heatmap(run.encoder, kind="cross")
    gpt2 = AttentionExtractor(model=tiny_model("gpt2"), tokenizer=bert_tokenizer).extract_activations("the cat sat")
    with pytest.raises(ValueError, match="kind='cross' is for encoder-decoder runs"):
        viz.plot_layer_statistics(gpt2, kind="cross")
    with pytest.raises(ValueError, match="stack must be 'encoder' or 'decoder'"):
        viz.plot_activation_comparison(runs, stack="cross")
    assert viz.plot_attention_heatmap(run.decoder).axes[0].get_xlabel() == "decoder token (attended to)"


def page_state(path: Path) -> dict[str, Any]:
    match = re.search(r'id="attnwidget-state">(.*?)</script>', path.read_text(encoding="utf-8"), re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def test_page_of_each_kind(runs: list[EncoderDecoderExtraction], tmp_path: Path) -> None:
    run = runs[1]
    for kind in KINDS:
        path = export_html(run, tmp_path / f"{kind}.html", kind=kind, layer=-1, head=1)
        state = page_state(path)
        part = run.part(kind)
        assert (state["kind"], state["layer"], state["head"]) == (kind, part.num_layers - 1, 1)
        keys = part.key_len if kind == "cross" else part.seq_len
        assert state["_info"]["key_len"] == keys and state["_info"]["seq_len"] == part.seq_len
        text = path.read_text(encoding="utf-8")
        assert f"source: {run.source}\ntarget: {run.target}" in text
    assert page_state(export_html(run, tmp_path / "default.html"))["kind"] == "cross"
    page = AttentionVisualizer().plot_interactive_attention(run, tmp_path / "viz.html", kind="decoder")
    assert page_state(page)["kind"] == "decoder"


# ---- the command line --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory: pytest.TempPathFactory, bert_tokenizer: Any) -> str:
    folder = tmp_path_factory.mktemp("tiny-t5")
    tiny_model("t5").save_pretrained(folder)
    bert_tokenizer.save_pretrained(folder)
    return str(folder)


def test_compare_with_target_writes_every_kind(
    t5_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["compare", "--mode", "custom", "--prompt1", SOURCES[0], "--prompt2", SOURCES[1], "--model", t5_folder,
            "--target", TARGET, "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    done = capsys.readouterr()
    assert "Traceback" not in done.err
    expected = {
        f"{figure}_custom_{n}_{kind}.png" for figure in ("attention", "all_heads") for n in (1, 2) for kind in KINDS
    }
    expected |= {f"layer_stats_{kind}.png" for kind in KINDS} | {f"interactive_attention_{kind}.html" for kind in KINDS}
    expected |= {"neuron_comparison_encoder.png", "neuron_comparison_decoder.png"}
    assert {p.name for p in out.iterdir()} == expected
    assert f"wrote {len(expected)} files to {out}/" in done.out
    for name in expected:
        assert f"  {out / name}" in done.out
    for name in ("attention_custom_2_cross.png", "all_heads_custom_1_cross.png", "neuron_comparison_decoder.png"):
        assert_image(out / name, min_size=(150, 150))
    state = page_state(out / "interactive_attention_cross.html")
    assert state["kind"] == "cross" and state["_info"]["key_len"] > state["_info"]["seq_len"]


def test_summary_with_target(t5_folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", SOURCES[0], "--model", t5_folder, "--target", TARGET, "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "shape    encoder 2 layers x 4 heads, decoder 3 layers x 4 heads" in printed
    assert f"target   {TARGET!r}\n" in printed
    assert "tokens   source 8: [CLS] | the | cat | sat | on | the | mat | [SEP]" in printed
    assert "         decoder 7: [PAD] | [CLS] | le | chat | do | ##rt | [SEP]" in printed  # start token + target
    for kind in KINDS:
        assert f"{kind:<9}most focused heads" in printed
    assert "last decoder token looks at source" in printed


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory: pytest.TempPathFactory, bert_tokenizer: Any) -> str:
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tiny_model("gpt2").save_pretrained(folder)
    bert_tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("command", ["compare", "summary"])
def test_target_refused_for_a_decoder_only_model(
    command: str, gpt2_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    if command == "compare":
        args = ["compare", "--mode", "custom", "--prompt1", "a", "--prompt2", "b", "--out", str(out)]
    else:
        args = ["summary", "the cat"]
    assert main([*args, "--model", gpt2_folder, "--target", TARGET]) == 2
    done = capsys.readouterr()
    errors = done.err.strip().splitlines()
    assert errors[-1].startswith("attnwidget: error: --target is for encoder-decoder models (T5, BART, Marian, ...);")
    assert "(GPT2LMHeadModel) reads one text" in errors[-1] and "Traceback" not in done.err
    assert not out.exists()
    assert main(["summary", "the cat", "--model", gpt2_folder, "--target", " "]) == 2
    assert "attnwidget: error: --target is empty" in capsys.readouterr().err


# ---- CompareWidget(kind=...) -------------------------------------------------------------------------------
def test_compare_each_kind(runs: list[EncoderDecoderExtraction]) -> None:
    default = CompareWidget(runs)
    assert default.kind == "encoder" and default._info["kind"] == "encoder"
    assert [e.seq_len for e in default.extractions] == [run.encoder.seq_len for run in runs]
    assert default._info["metrics"] == ["stats"]  # sources of different lengths
    decoder = CompareWidget(runs, kind="decoder")
    assert decoder._info["metrics"] == ["js", "tv", "stats"]  # one target: the same decoder tokens
    assert decoder.extractions[0] is runs[0].decoder
    cross = CompareWidget(runs, kind="cross", layer=2, head=1)
    info = cross._info
    assert (info["kind"], info["metrics"], cross.metric) == ("cross", ["stats"], "stats")
    assert (
        info["key_lens"] == [run.encoder.seq_len for run in runs] and info["seq_lens"] == [runs[0].decoder.seq_len] * 3
    )
    assert info["key_tokens"] == [run.encoder.display_tokens for run in runs]
    layers, heads = runs[0].cross.num_layers, runs[0].cross.num_heads
    for index, run in enumerate(runs):
        rows, cols = info["thumbnail_rows"][index], info["thumbnail_cols"][index]
        assert (rows, cols) == (run.cross.seq_len, run.cross.key_len)
        thumbs = encode.decode_uint8(cross._thumbnails[index], (layers, heads, rows, cols))
        np.testing.assert_array_equal(thumbs[2, 1], encode.compand_uint8(run.cross.attention(2, 1)))
        shown = cross._maps[index]
        assert (shown["info"]["rows"], shown["info"]["cols"], shown["info"]["key_len"]) == (rows, cols, cols)
        weights = encode.decode_float16(shown["data"], (rows, cols))
        np.testing.assert_allclose(weights, run.cross.attention(2, 1), atol=1e-3)
    # Heads compared by the scores over each source; the previous-token score means nothing there.
    stats = cross.differences.statistics  # [prompts, STAT_NAMES, layers, heads]
    assert np.isnan(stats[:, 3]).all() and not np.isnan(stats[:, :3]).any()
    for index, run in enumerate(runs):
        mine, own = cross.extractions[index].head_scores(), run.cross.head_scores()
        for name in CROSS_SCORE_NAMES:
            np.testing.assert_allclose(mine[name], own[name], rtol=1e-6)
    np.testing.assert_allclose(cross.head_differences, _mean_pairs(stats), rtol=1e-5)
    with pytest.raises(Exception, match="cross-attention is compared by the length-free scores"):
        cross.metric = "js"


def _mean_pairs(stats: np.ndarray) -> np.ndarray:
    """The stats metric by hand: each pair's mean |difference| over the defined scores, averaged over pairs."""
    pairs = [(0, 1), (0, 2), (1, 2)]
    return np.mean([np.nanmean(np.abs(stats[a] - stats[b]), axis=0) for a, b in pairs], axis=0)


def test_compare_kind_errors(runs: list[EncoderDecoderExtraction], t5: AttentionExtractor, bert_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="kind must be one of 'encoder', 'decoder', 'cross', got 'both'"):
        CompareWidget(runs, kind="both")
    gpt2 = AttentionExtractor(model_name="tiny-gpt2", model=tiny_model("gpt2"), tokenizer=bert_tokenizer)
    prompts = gpt2.extract_batch(["the cat sat", "a dog ran off"])
    with pytest.raises(ValueError, match=r"kind='cross' is for encoder-decoder runs .*tiny-gpt2 has one kind"):
        CompareWidget(prompts, kind="cross")
    with pytest.raises(TypeError, match="encoder-decoder runs only or none: item 1 is an Extraction"):
        CompareWidget([runs[0], prompts[0]])
    with pytest.raises(ValueError, match="at least 2 extractions to compare, got 1"):
        CompareWidget(runs[:1], kind="cross")
    widget = attnwidget.compare(SOURCES[:2], model=t5, target=TARGET, kind="cross")
    assert widget.kind == "cross" and [e.key_len for e in widget.extractions] == [r.encoder.seq_len for r in runs[:2]]
