"""CompareWidget in a real JupyterLab, driven by Chromium: the panels and difference views draw, clicks on
the head-difference grid and ranking reach Python, hovering a token in one panel highlights it in the
others, and Python setting layer/head redraws every panel. Screenshots (light and dark): ``test-artifacts/``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.test_widget_browser import SETUP, TINY_HEADS, TINY_LAYERS, park_mouse, pixel_hash, wait_drawn

pytestmark = pytest.mark.browser

# Same number of tokens (a difference map is drawn), then three prompts of different lengths (none).
PAIR = ("The cat sat on the mat", "The dog slept on the rug")
MIXED = ("The cat sat on the mat", "A dog", "Where did the small cat sit yesterday afternoon")
COMPARE = f"c = attnwidget.CompareWidget(ex.extract_batch({list(PAIR)!r}))\nevents = []\nc.on_select(events.append)\nc"
MIXED_WIDGET = f"m = attnwidget.CompareWidget(ex.extract_batch({list(MIXED)!r}))\nm"
# Three prompts of one length: the difference map goes below the panels, with a choice of pair.
TRIPLE = ("The cat sat on the mat", "The dog slept on the rug", "A bird flew over the sea")
TRIPLE_WIDGET = f"t = attnwidget.CompareWidget(ex.extract_batch({list(TRIPLE)!r}), labels=['cat', 'dog', 'bird'])\nt"
CELL_PAIR, CELL_MIXED, CELL_TRIPLE = 1, 2, 3


def find(nb: Any, cell: int, testid: str) -> Any:
    return nb.output(cell).locator(f"[data-testid={testid}]")


def cell_point(box_locator: Any, row: int, col: int, rows: int, cols: int) -> tuple[float, float]:
    box_locator.scroll_into_view_if_needed()
    box = box_locator.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, f"no box: {box}"
    return box["x"] + (col + 0.5) * box["width"] / cols, box["y"] + (row + 0.5) * box["height"] / rows


def panel_hashes(nb: Any, cell: int) -> list[tuple[int, ...]]:
    heatmaps = find(nb, cell, "compare-panel").locator("[data-testid=heatmap]")
    hashes = [pixel_hash(nb, heatmaps.nth(i)) for i in range(heatmaps.count())]
    return [*hashes, pixel_hash(nb, find(nb, cell, "compare-diff").first)]


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("compare_lab.ipynb", [SETUP, COMPARE, MIXED_WIDGET, TRIPLE_WIDGET], viewport_width=900)
    # The file browser closed: the notebook (and the widget) then gets most of the 900 px.
    nb.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    nb.run_all()
    for cell in (CELL_PAIR, CELL_MIXED, CELL_TRIPLE):
        nb.wait_for("[data-testid=head-diff]", scope=nb.output(cell))
    return nb


def test_panels_and_difference_views_draw(lab: Any) -> None:
    lengths = lab.kernel.value("[e.seq_len for e in c.extractions]")
    assert lengths[0] == lengths[1], f"the pair must tokenize to one length: {lengths}"
    panels = find(lab, CELL_PAIR, "compare-panel")
    assert panels.count() == 2
    for i in range(2):
        panel = panels.nth(i)
        tokens = lab.kernel.value(f"list(c.extractions[{i}].display_tokens)")
        items = panel.locator("[data-testid=token-strip] [data-token-index]")
        assert items.evaluate_all("els => els.map(e => e.textContent)") == tokens
        wait_drawn(lab, panel.locator("[data-testid=heatmap]"), f"compare-panel-{i}")
    wait_drawn(lab, find(lab, CELL_PAIR, "compare-diff").first, "compare-diff")
    wait_drawn(lab, find(lab, CELL_PAIR, "head-diff").first, "head-diff")
    ranking = find(lab, CELL_PAIR, "head-diff-ranking").locator("li")
    assert ranking.count() == min(10, TINY_LAYERS * TINY_HEADS)
    # The ranking is Python's, in order.
    expected = lab.kernel.value("[[l, h] for l, h, _ in c.ranking()]")
    shown = ranking.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    assert shown == expected
    # The grid's box is exactly its cells: layers × heads of equal, square size.
    box = find(lab, CELL_PAIR, "head-diff").first.bounding_box()
    assert box and abs(box["width"] / TINY_HEADS - box["height"] / TINY_LAYERS) < 0.5, box
    lab.screenshot("compare-light", lab.output(CELL_PAIR))
    assert not lab.widget_errors(), lab.widget_errors()


def test_head_diff_click_reaches_python(lab: Any) -> None:
    lab.kernel.run("events.clear()")
    x, y = cell_point(find(lab, CELL_PAIR, "head-diff").first, 2, 3, TINY_LAYERS, TINY_HEADS)
    lab.page.mouse.click(x, y)
    park_mouse(lab)
    lab.kernel.wait_value("(c.layer, c.head)", [2, 3])
    lab.kernel.wait_value("[e['source'] for e in events][-1:]", ["head-diff"])


def test_ranking_click_reaches_python(lab: Any) -> None:
    item = find(lab, CELL_PAIR, "head-diff-ranking").locator("li").nth(1)
    layer, head = item.evaluate("e => [Number(e.dataset.layer), Number(e.dataset.head)]")
    lab.kernel.run("c.layer, c.head = 0, 0")
    lab.kernel.wait_value("(c.layer, c.head)", [0, 0])
    item.locator("button").click()
    park_mouse(lab)
    lab.kernel.wait_value("(c.layer, c.head)", [layer, head])
    lab.kernel.wait_value("[e['source'] for e in events][-1:]", ["head-diff-ranking"])
    assert "is-selected" in (item.get_attribute("class") or "")


def test_hover_highlights_token_in_every_panel(lab: Any) -> None:
    panels = find(lab, CELL_PAIR, "compare-panel")
    token = panels.nth(0).locator('[data-testid=token-strip] [data-token-index="3"]')
    token.hover()
    other = panels.nth(1).locator('[data-testid=token-strip] [data-token-index="3"]')
    deadline = time.monotonic() + 10
    while "is-hovered" not in (other.get_attribute("class") or "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "is-hovered" in (other.get_attribute("class") or ""), "token 3 of panel B is not highlighted"
    lab.kernel.wait_value("c.hovered_token", 3)
    lab.screenshot("compare-hover", lab.output(CELL_PAIR))
    park_mouse(lab)
    lab.kernel.wait_value("c.hovered_token", -1)
    assert "is-hovered" not in (other.get_attribute("class") or "")


def test_python_selection_redraws_every_panel(lab: Any) -> None:
    park_mouse(lab)
    lab.kernel.run("c.layer, c.head = 0, 0")
    heatmaps = find(lab, CELL_PAIR, "compare-panel").locator("[data-testid=heatmap]")
    for i in range(2):
        lab.page.wait_for_function(
            "el => el.dataset.shown === 'full 0 0'", arg=heatmaps.nth(i).element_handle(), timeout=15_000
        )
    time.sleep(0.3)
    before = panel_hashes(lab, CELL_PAIR)
    lab.kernel.run("c.layer, c.head = 2, 1")
    for i in range(2):
        lab.page.wait_for_function(
            "el => el.dataset.shown === 'full 2 1'", arg=heatmaps.nth(i).element_handle(), timeout=15_000
        )
    deadline = time.monotonic() + 10
    after = panel_hashes(lab, CELL_PAIR)
    while any(a == b for a, b in zip(after, before)) and time.monotonic() < deadline:
        time.sleep(0.1)
        after = panel_hashes(lab, CELL_PAIR)
    changed = [a != b for a, b in zip(after, before)]
    assert all(changed), f"views not redrawn (panel A, panel B, diff): {changed}"
    titles = heatmaps.evaluate_all("els => els.map(e => e.closest('section').querySelector('h3').textContent)")
    assert titles == ["Layer 2 · head 1"] * 2


def test_mixed_lengths_have_no_difference_map(lab: Any) -> None:
    assert find(lab, CELL_MIXED, "compare-panel").count() == 3
    assert find(lab, CELL_MIXED, "compare-diff").count() == 0
    assert lab.kernel.value("m.metric") == "stats"
    wait_drawn(lab, find(lab, CELL_MIXED, "head-diff").first, "mixed-head-diff")
    for i in range(3):
        wait_drawn(lab, find(lab, CELL_MIXED, "compare-panel").nth(i).locator("[data-testid=heatmap]"), f"mixed-{i}")
    # A token index past the end of the shorter prompts highlights only where it exists.
    panels = find(lab, CELL_MIXED, "compare-panel")
    panels.nth(2).locator('[data-token-index="6"]').hover()
    lab.kernel.wait_value("m.hovered_token", 6)
    assert panels.nth(0).locator('[data-token-index="6"]').get_attribute("class").count("is-hovered") == 1
    assert panels.nth(1).locator(".is-hovered").count() == 0
    park_mouse(lab)
    lab.screenshot("compare-mixed-light", lab.output(CELL_MIXED))
    assert not lab.widget_errors(), lab.widget_errors()


def test_three_prompts_choose_the_difference_pair(lab: Any) -> None:
    assert len(set(lab.kernel.value("[e.seq_len for e in t.extractions]"))) == 1
    assert lab.kernel.value("(t.metric, t.diff_pair)") == ["js", [0, 1]]
    diff = find(lab, CELL_TRIPLE, "compare-diff").first
    wait_drawn(lab, diff, "triple-diff")
    before = pixel_hash(lab, diff)
    select = lab.output(CELL_TRIPLE).locator("select[aria-label='prompts to compare']")
    select.select_option("0,2")
    lab.kernel.wait_value("t.diff_pair", [0, 2])
    deadline = time.monotonic() + 10
    while pixel_hash(lab, diff) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pixel_hash(lab, diff) != before, "the difference map did not follow diff_pair"
    lab.kernel.run("t.diff_pair = [1, 2]")
    label = lab.output(CELL_TRIPLE).locator(".aw-diff-label")
    lab.page.wait_for_function("el => el.textContent === 'bird − dog'", arg=label.element_handle(), timeout=10_000)
    lab.kernel.run("t.metric = 'stats'")
    ranking = find(lab, CELL_TRIPLE, "head-diff-ranking").locator("li")
    expected = lab.kernel.value("[[l, h] for l, h, _ in t.ranking()]")
    deadline = time.monotonic() + 10
    shown: list[Any] = []
    while time.monotonic() < deadline:
        shown = ranking.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
        if shown == expected:
            break
        time.sleep(0.1)
    assert shown == expected, "the ranking did not follow the metric"
    lab.screenshot("compare-triple-light", lab.output(CELL_TRIPLE))


def test_dark_theme(lab: Any) -> None:
    lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    try:
        lab.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
        time.sleep(1.0)
        root = lab.output(CELL_PAIR).locator(".aw-compare").first
        background = root.evaluate("e => getComputedStyle(e).backgroundColor")
        channels = [int(v) for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3]]
        assert sum(channels) < 3 * 100, f"the widget stays light in the dark theme: {background}"
        wait_drawn(lab, find(lab, CELL_PAIR, "compare-diff").first, "dark-compare-diff")
        lab.screenshot("compare-dark", lab.output(CELL_PAIR))
        lab.screenshot("compare-mixed-dark", lab.output(CELL_MIXED))
        lab.screenshot("compare-triple-dark", lab.output(CELL_TRIPLE))
    finally:
        lab.page.evaluate(
            "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})"
        )
