"""CompareWidget in a real JupyterLab, driven by Chromium: the panels and difference views draw, clicks on
the head-difference grid and ranking reach Python, hovering a token in one panel highlights it in the
others, Python setting layer/head redraws every panel, and "patch A → B" shows Python's numbers for the
selected head, following the selection and the pair without making a default-shaped (30 × 9) widget taller.
Screenshots (light and dark): ``test-artifacts/``.
"""

from __future__ import annotations

import textwrap
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
# The default model's shape (SmolLM2: 30 layers × 9 heads) on a tiny random GPT-2: the head grid is as tall
# as a person sees it, which the patch section must not exceed.
TALL_WIDGET = textwrap.dedent(
    f"""
    tall_cfg = GPT2Config(n_layer=30, n_head=9, n_embd=36, vocab_size=len(tok), initializer_range=0.3,
                          bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    tall_ex = attnwidget.AttentionExtractor(model=GPT2LMHeadModel(tall_cfg).eval(), tokenizer=tok)
    tall = attnwidget.CompareWidget(tall_ex.extract_batch({list(PAIR)!r}))
    tall
    """
)
# Two prompts whose top next token is the same on that model: the fraction is undefined, Δ log p is shown.
SAME_TOP = ("The cat sat on the mat", "The dog sat on the mat")
SAME_TOP_WIDGET = f"same = attnwidget.CompareWidget(tall_ex.extract_batch({list(SAME_TOP)!r}), patching=True)\nsame"
CELL_PAIR, CELL_MIXED, CELL_TRIPLE, CELL_TALL, CELL_SAME = 1, 2, 3, 4, 5


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
    cells = [SETUP, COMPARE, MIXED_WIDGET, TRIPLE_WIDGET, TALL_WIDGET, SAME_TOP_WIDGET]
    nb = lab_notebook_module("compare_lab.ipynb", cells, viewport_width=900)
    # The file browser closed: the notebook (and the widget) then gets most of the 900 px.
    nb.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    nb.run_all()
    for cell in (CELL_PAIR, CELL_MIXED, CELL_TRIPLE, CELL_TALL, CELL_SAME):
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


def wait_patch(nb: Any, cell: int, shown: str, timeout: float = 20.0) -> Any:
    """The patch section once it shows `shown` ("a b layer head") computed by Python."""
    section = find(nb, cell, "patch").first
    nb.page.wait_for_function(
        "([el, shown]) => el.dataset.state === 'shown' && el.dataset.shown === shown",
        arg=[section.element_handle(), shown],
        timeout=timeout * 1000,
    )
    return section


def check_patch_numbers(nb: Any, section: Any, widget: str) -> float:
    """The section's numbers are Python's `patch_effect` for the selected head: the fraction (shown to 3
    decimals, exact in data-fraction), and B's top 5 before and after."""
    effect = nb.kernel.value(f"{widget}.patch_effect()")
    assert effect["fraction"] is not None, "these prompts predict different tokens"
    shown = float(section.evaluate("el => el.dataset.fraction"))
    assert abs(shown - effect["fraction"]) <= 1e-5 * max(1.0, abs(effect["fraction"])), (shown, effect["fraction"])
    text = section.locator("[data-testid=patch-fraction]").text_content()
    assert abs(float(text.replace("−", "-")) - effect["fraction"]) <= 6e-4, (text, effect["fraction"])
    columns = section.locator("[data-testid=patch-top] .aw-patch-top-column")
    for i, key in enumerate(("top_before", "top_after")):
        tokens = columns.nth(i).locator(".aw-patch-tok").evaluate_all("els => els.map(e => e.textContent)")
        assert tokens == nb.kernel.value(f"[visible_text(t) for t, _ in {widget}.patch_effect()[{key!r}]]"), key
    return float(effect["fraction"])


def test_patch_follows_the_selected_head(lab: Any) -> None:
    lab.kernel.run("from attnwidget.engine.tokens import visible_text\nc.layer, c.head = 0, 1\nc.patch_pair = [0, 1]")
    lab.kernel.wait_value("(c.layer, c.head, c.patching)", [0, 1, False])
    section = find(lab, CELL_PAIR, "patch").first
    lab.page.wait_for_function("el => el.dataset.state === 'off'", arg=section.element_handle(), timeout=10_000)
    assert section.locator("h3").text_content() == "Patch A → B"
    assert "at all" in section.locator(".aw-patch-definition").text_content()
    section.locator("[data-testid=patch-button]").click()
    lab.kernel.wait_value("c.patching", True)
    wait_patch(lab, CELL_PAIR, "0 1 0 1")
    first = check_patch_numbers(lab, section, "c")
    shoot_whole(lab, "compare-patch-900-light", lab.output(CELL_PAIR).locator(".aw-compare").first)
    # Another head, clicked in the grid: the section follows it with Python's numbers.
    x, y = cell_point(find(lab, CELL_PAIR, "head-diff").first, 0, 2, TINY_LAYERS, TINY_HEADS)
    lab.page.mouse.click(x, y)
    park_mouse(lab)
    lab.kernel.wait_value("(c.layer, c.head)", [0, 2])
    wait_patch(lab, CELL_PAIR, "0 1 0 2")
    second = check_patch_numbers(lab, section, "c")
    assert second != first
    assert section.locator(".aw-hint").first.text_content() == "layer 0 · head 2"
    # The other direction, chosen in the view.
    section.locator("select[aria-label='prompts to patch']").select_option("1,0")
    lab.kernel.wait_value("c.patch_pair", [1, 0])
    wait_patch(lab, CELL_PAIR, "1 0 0 2")
    check_patch_numbers(lab, section, "c")
    assert section.locator("h3").text_content() == "Patch B → A"
    # Prompts of different lengths: only the last position is patched, and the view says so.
    mixed = find(lab, CELL_MIXED, "patch").first
    lab.kernel.run("m.layer, m.head = 1, 1\nm.patching = True")
    lab.kernel.wait_value("m._patch['info']['positions']", "last")
    wait_patch(lab, CELL_MIXED, "0 1 1 1")
    assert "last position only" in mixed.locator(".aw-patch-definition").text_content()
    # Off again from the view: Python stops computing.
    section.locator("[data-testid=patch-button]").click()
    lab.kernel.wait_value("c.patching", False)
    lab.page.wait_for_function("el => el.dataset.state === 'off'", arg=section.element_handle(), timeout=10_000)
    lab.kernel.run("c.patch_pair = [0, 1]\nm.patching = False")
    assert not lab.widget_errors(), lab.widget_errors()


def test_patch_of_prompts_with_one_prediction_shows_the_change_of_it(lab: Any) -> None:
    effect = lab.kernel.value("same.patch_effect()")
    assert effect["same_top"] and effect["fraction"] is None, "the prompts must predict one token"
    section = wait_patch(lab, CELL_SAME, "0 1 0 0")
    assert section.evaluate("el => el.dataset.fraction") == "undefined"
    assert "both predict" in section.locator(".aw-patch-moved-label").text_content()
    shown = section.locator("[data-testid=patch-fraction]").text_content()
    assert float(shown.replace("−", "-")) == pytest.approx(effect["delta"], rel=6e-3, abs=1e-6), (shown, effect)
    assert section.locator("[data-testid=patch-bar]").is_hidden()
    assert section.locator("[data-testid=patch-tops] tbody tr").count() == 1  # one token: one row, no LD


def test_patch_without_a_kernel_says_so(lab: Any) -> None:
    """A view whose comm is not live (ipywidgets marks it; a saved notebook reopened, a static page) cannot
    ask Python for a patch: the section says it needs a running kernel instead of offering the button."""
    section = find(lab, CELL_TRIPLE, "patch").first
    host = "el.closest('.attnwidget').parentElement.classList"
    section.evaluate(f"el => {host}.add('jupyter-widgets-disconnected')")
    try:
        lab.kernel.run("t.layer = 1")  # any change repaints the section
        lab.page.wait_for_function(
            "el => el.dataset.state === 'off' && el.querySelector('[data-testid=patch-status]').textContent"
            ".includes('needs a running kernel')",
            arg=section.element_handle(),
            timeout=10_000,
        )
        assert section.locator("[data-testid=patch-button]").is_disabled()
    finally:
        section.evaluate(f"el => {host}.remove('jupyter-widgets-disconnected')")
        lab.kernel.run("t.layer = 0")
    lab.page.wait_for_function(
        "el => !el.querySelector('[data-testid=patch-button]').disabled", arg=section.element_handle(), timeout=10_000
    )


def test_patch_keeps_the_widget_height_at_1400(lab: Any) -> None:
    """At 1400 × 1000 with JupyterLab's file browser open (the widget gets ~970 px), the section sits beside
    the 30-layer head grid: turning it on leaves the widget as tall as it was. Screenshots light and dark."""
    page = lab.page
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.set_viewport_size({"width": 1400, "height": 1000})
    root = lab.output(CELL_TALL).locator(".aw-compare").first
    try:
        time.sleep(0.8)
        section = find(lab, CELL_TALL, "patch").first
        page.wait_for_function("el => el.dataset.state === 'off'", arg=section.element_handle(), timeout=10_000)
        # The widget as it was before the section existed: the section left out of the layout.
        section.evaluate("el => { el.style.display = 'none'; }")
        time.sleep(0.3)
        before = root.bounding_box()
        section.evaluate("el => { el.style.display = ''; }")
        time.sleep(0.3)
        lab.screenshot("compare-patch-off-1400-light", section)
        lab.kernel.run("tall.layer, tall.head = 3, 5\ntall.patching = True")
        wait_patch(lab, CELL_TALL, "0 1 3 5")
        time.sleep(0.3)
        after = root.bounding_box()
        assert before and after
        print(
            f"\ncompare widget at 1400 x 1000: {before['width']:.0f} px wide, {before['height']:.0f} px tall; "
            f"without the patch section, {after['height']:.0f} px with the patch shown"
        )
        assert after["height"] <= before["height"] + 1, (before, after)
        grid, patch = find(lab, CELL_TALL, "head-diff").first.bounding_box(), section.bounding_box()
        assert grid and patch and patch["x"] > grid["x"] + grid["width"], "the section is not beside the grid"
        shoot_whole(lab, "compare-patch-1400-light", root)
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        try:
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
            time.sleep(1.0)
            shoot_whole(lab, "compare-patch-1400-dark", root)
            # Prompts of different lengths (the last position only), B → C.
            lab.kernel.run("m.layer, m.head = 2, 3\nm.patch_pair = [1, 2]\nm.patching = True")
            wait_patch(lab, CELL_MIXED, "1 2 2 3")
            shoot_whole(lab, "compare-patch-mixed-1400-dark", lab.output(CELL_MIXED).locator(".aw-compare").first)
            shoot_whole(lab, "compare-patch-same-top-1400-dark", lab.output(CELL_SAME).locator(".aw-compare").first)
        finally:
            page.evaluate(
                "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})"
            )
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=15_000)
    finally:
        lab.kernel.run("tall.patching = False\nm.patching = False\nm.patch_pair = [0, 1]")
        page.set_viewport_size({"width": 900, "height": 1200})
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        time.sleep(0.5)
    assert not lab.widget_errors(), lab.widget_errors()


def shoot_whole(nb: Any, label: str, locator: Any) -> None:
    """The whole widget in one image: the page made taller (same width, so the same layout) for it."""
    size = dict(nb.page.viewport_size)
    nb.page.set_viewport_size({"width": size["width"], "height": 2400})
    time.sleep(0.5)
    try:
        nb.screenshot(label, locator)
    finally:
        nb.page.set_viewport_size(size)
        time.sleep(0.3)


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
