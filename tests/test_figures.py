"""Static figures: every method writes a non-blank image, returns the figure, and checks its input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from attnwidget import AttentionExtractor, AttentionVisualizer
from tests.tiny_models import tiny_model

PROMPTS = ["The cat sat on the mat", "A cat was sitting on a mat", "On the mat sat a cat"]


@pytest.fixture(scope="module")
def extractor(bert_tokenizer: Any) -> AttentionExtractor:
    return AttentionExtractor(model_name="tiny-llama", model=tiny_model("llama"), tokenizer=bert_tokenizer)


@pytest.fixture(scope="module")
def results(extractor: AttentionExtractor) -> dict[str, Any]:
    return extractor.compare_prompts(PROMPTS)


def assert_image(path: Path, min_size: tuple[int, int] = (200, 150)) -> None:
    """The file is an image of a sensible size with real content (many colours, not one flat fill)."""
    assert path.is_file() and path.stat().st_size > 5_000
    with Image.open(path) as image:
        assert image.width >= min_size[0] and image.height >= min_size[1]
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20, "the image is (almost) one colour"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, "too few colours for a plot"


def test_the_original_example_call_works_unchanged(results: dict[str, Any], tmp_path: Path) -> None:
    result = results[PROMPTS[0]]
    viz = AttentionVisualizer()
    figure = viz.plot_attention_heatmap(
        attention_weights=result["attention_weights"][0], tokens=result["tokens"], layer_idx=0, head_idx=0
    )
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_title() == "layer 0, head 0"
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == result["tokens"]  # WordPiece tokens carry no Ġ or ▁ to clean


def test_every_figure_is_written_and_not_blank(results: dict[str, Any], tmp_path: Path) -> None:
    first = results[PROMPTS[0]]
    viz = AttentionVisualizer(model_name="tiny-llama")
    figures = {
        "heatmap.png": lambda p: viz.plot_attention_heatmap(
            first.attention(1), first.display_tokens, 1, 4, save_path=p
        ),
        "layer_heads.png": lambda p: viz.plot_all_heads(first.attention(0), first.display_tokens, 0, save_path=p),
        "all_heads.png": lambda p: viz.plot_all_heads(first, save_path=p),
        "neurons.png": lambda p: viz.plot_neuron_activations(
            first.neuron_activations(1, "mlp"), first.display_tokens, 1, top_k=12, save_path=p, kind="mlp"
        ),
        "comparison.png": lambda p: viz.plot_activation_comparison(results, layer_idx=-1, save_path=p),
        "stats.png": lambda p: viz.plot_layer_statistics(first.attention_stats(), save_path=p),
        "stats_compare.png": lambda p: viz.plot_layer_statistics(list(results.values()), save_path=p),
        "heatmap.svg": lambda p: viz.plot_attention_heatmap(first.attention(0), first.display_tokens, save_path=p),
    }
    for name, draw in figures.items():
        path = tmp_path / name
        figure = draw(path)
        assert isinstance(figure, Figure), name
        if path.suffix == ".png":
            assert_image(path)
        else:
            assert path.read_text().lstrip().startswith("<?xml")
    assert "tiny-llama" in figures["heatmap.png"](tmp_path / "again.png").axes[0].get_title()


def test_long_prompts_get_thinned_labels(extractor: AttentionExtractor, tmp_path: Path) -> None:
    result = extractor.extract_activations("word " * 100)
    figure = AttentionVisualizer().plot_attention_heatmap(result.attention(0), result.display_tokens, 0, 0)
    shown = figure.axes[0].get_xticklabels()
    assert 20 <= len(shown) <= 48 < result.seq_len


def test_importing_attnwidget_leaves_the_matplotlib_backend_alone() -> None:
    # Figures are made without pyplot: a notebook's inline backend must not be switched to Agg.
    import subprocess
    import sys

    code = (
        "import matplotlib; before = matplotlib.get_backend(); import attnwidget; "
        "print(before == matplotlib.get_backend())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
    assert matplotlib.get_backend()  # and this process still has one


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda v, r: v.plot_attention_heatmap(np.zeros((2, 2, 2, 2)), ["a"], 0, 0), ValueError, "must be 2-D or 3-D"),
        (lambda v, r: v.plot_attention_heatmap(r.attention(0), r.display_tokens, 0, 9), IndexError, "head 9"),
        (lambda v, r: v.plot_attention_heatmap(r.attention(0), ["x"], 0, 0), ValueError, "there are 1 tokens"),
        (lambda v, r: v.plot_neuron_activations(r.residual_stream[1], r.display_tokens, top_k=0), ValueError, "top_k"),
        (lambda v, r: v.plot_activation_comparison([r]), ValueError, "at least 2 prompts"),
        (lambda v, r: v.plot_activation_comparison([r, r], neuron_indices=[10_000]), IndexError, "out of range"),
        (lambda v, r: v.plot_layer_statistics({}), ValueError, "stats is empty"),
        (lambda v, r: v.plot_interactive_attention("text"), TypeError, "Extraction or an AttentionWidget"),
    ],
)
def test_bad_input_gets_a_clear_error(results: dict[str, Any], call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call(AttentionVisualizer(), results[PROMPTS[0]])


def test_interactive_page_is_written(results: dict[str, Any], tmp_path: Path) -> None:
    path = AttentionVisualizer().plot_interactive_attention(results[PROMPTS[0]], save_path=tmp_path / "page.html")
    text = path.read_text()
    assert text.startswith("<!doctype html>") and "mountStatic" in text
    assert "http://" not in text.split("<script>")[0] and "https://" not in text.split("<script>")[0]
