"""AttentionWidget over an encoder-decoder run (a tiny random T5) in JupyterLab, driven by Chromium.

The kind switch reaches Python (`w.kind`) and the heatmap is drawn again as the part's map: a cross map is
a rectangle (rows: decoder tokens, columns: source tokens); hovering a decoder token tints the source
tokens by the selected cross-attention head's row, hovering a source token the decoder tokens by its column
(the weights each tinted token carries are checked against Python's map). Screenshots at 1400 × 1000, light
and dark: ``/tmp/seq2seq-shots/`` (and ``test-artifacts/``).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.test_layout_browser import set_theme, settle
from tests.browser.test_widget_browser import wait_drawn

pytestmark = pytest.mark.browser

SCREEN = {"width": 1400, "height": 1000}
SHOTS = Path("/tmp/seq2seq-shots")
SOURCE = "The cat sat on the mat because it was tired."
TARGET = "Le chat."
SETUP = textwrap.dedent(
    """
    import transformers
    import attnwidget
    from tests.tiny_models import minilm_folder, tiny_model

    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_folder()))
    ex = attnwidget.AttentionExtractor(model_name="tiny-t5", model=tiny_model("t5"), tokenizer=tok)
    """
)
WIDGET = f"w = attnwidget.AttentionWidget(ex.extract_activations({SOURCE!r}, target={TARGET!r}), kind='encoder')\nw"
CELL = 1
COMPARE = f"c = attnwidget.compare([{SOURCE!r}, 'A dog ran.'], model=ex, target={TARGET!r}, kind='cross')\nc"
COMPARE_CELL = 2


def find(nb: Any, testid: str) -> Any:
    return nb.output(CELL).locator(f"[data-testid={testid}]").first


def wait_js(nb: Any, script: str, arg: Any = None, timeout: float = 20.0) -> None:
    nb.page.wait_for_function(script, arg=arg, timeout=timeout * 1000)


def heatmap_shape(nb: Any) -> dict[str, Any]:
    return dict(
        find(nb, "heatmap").evaluate(
            "el => ({rows: el.dataset.rows, cols: el.dataset.cols, shown: el.dataset.shown, "
            "width: el.getBoundingClientRect().width, height: el.getBoundingClientRect().height})"
        )
    )


def grid_vertical_lines(nb: Any) -> int:
    """Pixel columns of the head grid's overlay that are marked over at least a quarter of its height: the
    lines a hovered source token draws down every cross-attention thumbnail (a row mark draws none)."""
    return int(
        find(nb, "head-grid").evaluate(
            """el => {
                const c = el.querySelector('canvas[data-layer=overlay]');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let lines = 0;
                for (let x = 0; x < c.width; x++) {
                    let marked = 0;
                    for (let y = 0; y < c.height; y++) if (d[(y * c.width + x) * 4 + 3] > 0) marked++;
                    if (marked >= c.height / 4) lines++;
                }
                return lines;
            }"""
        )
    )


def shoot(nb: Any, label: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    nb.page.screenshot(path=str(SHOTS / f"{label}-screen.png"))
    nb.output(CELL).locator(".attnwidget").first.screenshot(path=str(SHOTS / f"{label}-widget.png"))
    nb.screenshot(label, nb.output(CELL))


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("seq2seq_lab.ipynb", [SETUP, WIDGET, COMPARE], viewport_width=SCREEN["width"])
    nb.page.set_viewport_size(SCREEN)
    nb.run_all()
    nb.wait_for("[data-testid=kind-switch]", scope=nb.output(CELL))
    wait_drawn(nb, find(nb, "heatmap"), "seq2seq-heatmap", min_colours=2)
    return nb


def test_kind_switch_and_cross_hover(lab: Any) -> None:
    t_len, s_len = lab.kernel.value("(w._result.decoder.seq_len, w._result.encoder.seq_len)")
    assert t_len != s_len
    square = heatmap_shape(lab)
    assert square["rows"] is None and abs(square["width"] - square["height"]) < 2, square

    # A click on "cross" reaches Python, which sends the cross part; the heatmap is drawn again, rectangular.
    find(lab, "kind-switch").locator("[data-kind=cross]").click()
    lab.kernel.wait_value("w.kind", "cross")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.rows !== undefined",
        lab.output(CELL).element_handle(),
    )
    wait_drawn(lab, find(lab, "heatmap"), "seq2seq-cross-heatmap", min_colours=2)
    shape = heatmap_shape(lab)
    assert (int(shape["rows"]), int(shape["cols"])) == (t_len, s_len), shape
    assert shape["width"] > shape["height"] + 20, shape  # 13 source tokens across, 6 decoder tokens down
    checked = find(lab, "kind-switch").locator("[aria-checked=true]")
    assert checked.get_attribute("data-kind") == "cross"

    # Hovering decoder token 3 tints the source tokens by the selected head's row.
    layer, head = lab.kernel.value("(w.layer, w.head)")
    expected = np.array(lab.kernel.value(f"w.extraction.attention({layer}, {head}).tolist()"))
    lab.page.mouse.move(2, 2)
    find(lab, "decoder-strip").locator('[data-token-index="3"]').hover()
    wait_js(lab, "el => el.dataset.tintedBy === 'decoder 3'", find(lab, "source-strip").element_handle())
    weights = (
        find(lab, "source-strip")
        .locator("[data-token-index]")
        .evaluate_all("els => els.map(e => Number(e.dataset.weight))")
    )
    np.testing.assert_allclose(weights, expected[3], atol=2e-3)
    lab.kernel.wait_value("w.hovered_token", 3)
    shoot(lab, "cross-hover-decoder-light")

    # Hovering source token 2 tints the decoder tokens by that head's column.
    find(lab, "source-strip").locator('[data-token-index="2"]').hover()
    wait_js(lab, "el => el.dataset.tintedBy === 'source 2'", find(lab, "decoder-strip").element_handle())
    weights = (
        find(lab, "decoder-strip")
        .locator("[data-token-index]")
        .evaluate_all("els => els.map(e => Number(e.dataset.weight))")
    )
    np.testing.assert_allclose(weights, expected[:, 2], atol=2e-3)
    # ...and marks that source column down every head's thumbnail in the grid.
    heads = lab.kernel.value("w.extraction.num_heads")
    with_source = grid_vertical_lines(lab)
    shoot(lab, "cross-hover-source-light")
    lab.page.mouse.move(2, 2)
    wait_js(lab, "el => el.dataset.tintedBy !== 'source 2'", find(lab, "decoder-strip").element_handle())
    without = grid_vertical_lines(lab)
    assert with_source >= without + heads, (with_source, without, heads)

    # The heatmap's tooltip names both tokens and the exact weight.
    box = find(lab, "heatmap").bounding_box()
    lab.page.mouse.move(box["x"] + (2.5 / s_len) * box["width"], box["y"] + (1.5 / t_len) * box["height"])
    tip = lab.output(CELL).locator(".aw-tooltip:visible").first
    tip.wait_for(timeout=5000)
    lines = tip.inner_text().splitlines()
    assert lines[0].startswith("decoder token #1 ") and lines[1].startswith("reads source token #2 "), lines
    assert lines[2].startswith("weight ") and float(lines[2].split()[1]) == pytest.approx(expected[1, 2], rel=2e-3), (
        lines
    )
    # The tooltip shows its whole text (it is clipped with an ellipsis when a line outgrows it).
    assert tip.evaluate("el => el.scrollWidth <= el.clientWidth"), lines
    lab.page.mouse.move(2, 2)

    # The keyboard: arrows move the checked kind (and the focus stays on the switch after the new render).
    find(lab, "kind-switch").locator("[aria-checked=true]").focus()
    lab.page.keyboard.press("ArrowLeft")
    lab.kernel.wait_value("w.kind", "decoder")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.rows === undefined",
        lab.output(CELL).element_handle(),
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and lab.page.evaluate("() => document.activeElement?.dataset?.kind") != "decoder":
        time.sleep(0.1)
    assert lab.page.evaluate("() => document.activeElement?.dataset?.kind") == "decoder"

    # Python sets the kind: the views follow.
    lab.kernel.run("w.kind = 'cross'")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.rows !== undefined",
        lab.output(CELL).element_handle(),
    )
    assert not lab.widget_errors(), lab.widget_errors()


def test_screenshots_light_and_dark(lab: Any) -> None:
    lab.page.set_viewport_size(SCREEN)
    lab.kernel.run("w.kind = 'cross'; w.token = 2")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.rows !== undefined",
        lab.output(CELL).element_handle(),
    )
    lab.output(CELL).locator(".attnwidget").first.scroll_into_view_if_needed()
    settle(lab)
    height = lab.output(CELL).locator(".attnwidget").first.bounding_box()["height"]
    assert height <= SCREEN["height"], height
    shoot(lab, "cross-light")
    set_theme(lab, "JupyterLab Dark")
    try:
        wait_drawn(lab, find(lab, "heatmap"), "seq2seq-dark", min_colours=2)
        shoot(lab, "cross-dark")
        lab.kernel.run("w.kind = 'encoder'")
        wait_js(
            lab,
            "el => el.querySelector('[data-testid=heatmap]')?.dataset.rows === undefined",
            lab.output(CELL).element_handle(),
        )
        settle(lab)
        shoot(lab, "encoder-dark")
    finally:
        set_theme(lab, "JupyterLab Light")
    lab.kernel.run("w.kind = 'decoder'; w.token = 3")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.shown?.startsWith('full')",
        lab.output(CELL).element_handle(),
    )
    settle(lab)
    shoot(lab, "decoder-light")
    assert not lab.widget_errors(), lab.widget_errors()


def test_compare_draws_each_runs_cross_attention_as_a_rectangle(lab: Any) -> None:
    """CompareWidget(kind="cross"): each panel's map is its run's decoder tokens × its own source tokens, and
    there is no difference map (the runs read different sources)."""
    out = lab.output(COMPARE_CELL)
    lab.wait_for("[data-testid=compare-panel] [data-testid=heatmap]", scope=out)
    lengths = lab.kernel.value("[(e.seq_len, e.key_len) for e in c.extractions]")
    panels = out.locator("[data-testid=compare-panel]")
    for index, (rows, cols) in enumerate(lengths):
        heatmap = panels.nth(index).locator("[data-testid=heatmap]")
        wait_drawn(lab, heatmap, f"seq2seq-compare-{index}", min_colours=2)
        shape = heatmap.evaluate("el => [Number(el.dataset.rows), Number(el.dataset.cols)]")
        assert shape == [rows, cols], (index, shape)
    assert lengths[0][1] != lengths[1][1]  # the sources differ in length: rectangles of different widths
    assert out.locator(".aw-compare-nodiff").inner_text().startswith("Cross-attention reads each run's own source")
    assert out.locator("[data-testid=patch]").count() == 0  # nothing to patch across two stacks
    SHOTS.mkdir(parents=True, exist_ok=True)
    out.locator(".attnwidget").first.screenshot(path=str(SHOTS / "compare-cross-light-widget.png"))
    assert not lab.widget_errors(), lab.widget_errors()


def test_save_cross_heatmap_svg(lab: Any) -> None:
    """The SVG of a cross-attention map: its rows × cols cells (the rectangle), both texts' labels, the legend."""
    import xml.etree.ElementTree as ET

    lab.kernel.run("w.kind = 'cross'; w.layer, w.head = 1, 2")
    # Looked up inside the cell on every poll: a change of kind replaces the heatmap element, so a handle
    # taken now could be the old one, which is never drawn again (this flaked in CI).
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.shown === 'full 1 2'",
        lab.output(CELL).element_handle(),
    )
    with lab.page.expect_download() as info:
        find(lab, "save-svg-heatmap").click()
    download = info.value
    assert download.suggested_filename == "cross-attention-L1-H2.svg"
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(Path(download.path()).read_text(encoding="utf-8"))
    t_len, s_len = lab.kernel.value("(w.extraction.seq_len, w.extraction.key_len)")
    cells = root.find(f".//{ns}g")
    assert cells is not None
    background = cells.find(f"{ns}rect")
    assert background is not None and (background.get("width"), background.get("height")) == (str(s_len), str(t_len))
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert texts[0].startswith("Layer 1 · head 2 · cross-attention")
    assert "tired" in texts and "chat" in texts, texts  # a source token across, a decoder token down
    assert any("decades" in t for t in texts), "the legend's note is missing"


def test_cross_heatmap_zooms_along_the_source(lab: Any) -> None:
    """The + button zooms the source axis only (every decoder row stays), the tooltip then names the source
    token under the pointer with its exact weight, a zoomed SVG holds the window's columns, and 0 resets."""
    import xml.etree.ElementTree as ET

    lab.kernel.run("w.kind = 'cross'; w.layer, w.head = 2, 1")
    wait_js(
        lab,
        "el => el.querySelector('[data-testid=heatmap]')?.dataset.shown === 'full 2 1'",
        lab.output(CELL).element_handle(),
    )
    t_len, s_len = lab.kernel.value("(w.extraction.seq_len, w.extraction.key_len)")
    expected = np.array(lab.kernel.value("w.extraction.attention(2, 1).tolist()"))
    heatmap = find(lab, "heatmap")
    assert heatmap.get_attribute("data-window") == f"0 {t_len} 0 {s_len}"
    find(lab, "heatmap-zoom").locator("[aria-label='zoom in']").click()
    wait_js(lab, "([el, full]) => el.dataset.window !== full", [heatmap.element_handle(), f"0 {t_len} 0 {s_len}"])
    q0, q1, k0, k1 = (int(v) for v in (heatmap.get_attribute("data-window") or "").split())
    assert (q0, q1) == (0, t_len) and 0 < k1 - k0 < s_len, (q0, q1, k0, k1)

    # The first column shown is source token k0; the last row decoder token t_len - 1.
    box = heatmap.bounding_box()
    assert box
    lab.page.mouse.move(
        box["x"] + 0.5 * box["width"] / (k1 - k0), box["y"] + box["height"] - 0.5 * box["height"] / t_len
    )
    tip = lab.output(CELL).locator(".aw-tooltip:visible").first
    tip.wait_for(timeout=5000)
    lines = tip.inner_text().splitlines()
    assert lines[0].startswith(f"decoder token #{t_len - 1} ") and lines[1].startswith(f"reads source token #{k0} "), (
        lines
    )
    assert float(lines[2].split()[1]) == pytest.approx(expected[t_len - 1, k0], rel=2e-3), lines
    lab.page.mouse.move(2, 2)

    with lab.page.expect_download() as info:
        find(lab, "save-svg-heatmap").click()
    assert info.value.suggested_filename == f"cross-attention-L2-H1-k{k0}-{k1}.svg"
    root = ET.fromstring(Path(info.value.path()).read_text(encoding="utf-8"))
    background = root.find(".//{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}rect")
    assert background is not None and (background.get("width"), background.get("height")) == (str(k1 - k0), str(t_len))

    heatmap.focus()
    lab.page.keyboard.press("0")
    wait_js(lab, "([el, full]) => el.dataset.window === full", [heatmap.element_handle(), f"0 {t_len} 0 {s_len}"])
    assert not lab.widget_errors(), lab.widget_errors()
