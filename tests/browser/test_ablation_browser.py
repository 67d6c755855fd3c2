"""Ablating heads in a real JupyterLab (Chromium): shift-click in the head grid puts a head in the Ablate tab's
set and reaches Python (`w.ablated`), the predictions before → after shown are Python's, chips and the
"ablate" button change the set, the mode select reaches `ablation_mode`, and "head effects" colours the grid
by each head's effect ablated alone (the grid's tooltip gives the exact value) and lists the heads that
matter most. Screenshots, light and dark: ``test-artifacts/lab-ablation_lab-*.png``.

`benchmarks/bench_ablation_live.py` runs the shift-click test with ATTNWIDGET_BENCH_TOKENS set on the
bundled SmolLM2 and reports the time from the click to the new predictions shown (no timing is asserted
here: targets are checked by the benchmark)."""

from __future__ import annotations

import json
import os
import statistics
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_effects_browser import wait_attr
from tests.browser.test_head_scores_browser import set_theme
from tests.browser.test_widget_browser import (
    SETUP,
    TINY_HEADS,
    TINY_LAYERS,
    grid_cell_point,
    park_mouse,
    pixel_hash,
    view,
    wait_redrawn,
    wait_stable,
    wait_views,
)

pytestmark = pytest.mark.browser

BENCH_TOKENS = int(os.environ.get("ATTNWIDGET_BENCH_TOKENS", "0"))
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "ablation_live.json"
PROMPT = "the cat sat on the mat and the cat sat on the"
CELL = 1

SMOLLM2_SETUP = textwrap.dedent(
    f"""
    import attnwidget
    ex = attnwidget.AttentionExtractor()
    ids = ex.tokenizer(open("{Path(__file__).resolve().parents[2] / "README.md"}").read())["input_ids"]
    prompt = ex.tokenizer.decode(ids[:{BENCH_TOKENS}])
    """
)

# Stamp the pointer press and the moment the Ablate tab shows the predictions for the set `key` ("l:h ...").
ARM = """(key) => {
  const box = document.querySelector('.jp-OutputArea [data-testid=ablation]');
  window.__ablate = {t0: null, t1: null};
  const stamp = () => { window.__ablate.t0 = performance.now(); };
  window.addEventListener('pointerdown', stamp, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (box.dataset.heads === key) { window.__ablate.t1 = performance.now(); observer.disconnect(); }
  });
  observer.observe(box, {attributes: true, attributeFilter: ['data-heads']});
}"""


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    widget = f"w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}), panel='ablation')\nw"
    nb = lab_notebook_module("ablation_lab.ipynb", [SETUP, widget])
    nb.run_all()
    wait_views(nb, CELL)
    nb.wait_for("[data-testid=ablation]", scope=nb.output(CELL))
    return nb


def ablation(nb: Any) -> Any:
    return view(nb, CELL, "ablation")


def shift_click(nb: Any, layer: int, head: int, layers: int = TINY_LAYERS, heads: int = TINY_HEADS) -> None:
    x, y = grid_cell_point(view(nb, CELL, "head-grid"), layer, head, layers, heads)
    nb.page.mouse.move(x, y)
    nb.page.keyboard.down("Shift")
    try:
        nb.page.mouse.click(x, y)
    finally:
        nb.page.keyboard.up("Shift")
    park_mouse(nb)


def shown_rows(nb: Any) -> list[dict[str, Any]]:
    """The predictions table as shown: token id, the two probabilities' exact log p, the Δ text."""
    return (
        ablation(nb)
        .locator("[data-testid=ablation-predictions] tr[data-token-id]")
        .evaluate_all(
            """rows => rows.map(r => ({
            id: Number(r.dataset.tokenId),
            before: parseFloat(r.cells[1].dataset.tip.split('log p = ')[1]),
            after: parseFloat(r.cells[2].dataset.tip.split('log p = ')[1]),
            delta: r.cells[3].textContent,
        }))"""
        )
    )


def python_rows(nb: Any) -> list[dict[str, Any]]:
    return nb.kernel.value(
        "[{'id': t, 'before': b, 'after': a} for t, (b, a) in "
        "attnwidget.widgets.ablation.decode_ablation(w._ablation)['rows'].items()]"
    )


def test_shift_click_in_the_grid_ablates_a_head(lab: Any) -> None:
    lab.kernel.run("import attnwidget.widgets.ablation\nw.ablated = []\nw.layer, w.head = 0, 0")
    wait_attr(lab, ablation(lab), "data-heads", "")
    before = shown_rows(lab)
    assert before and all(r["before"] == pytest.approx(r["after"], abs=1e-5) for r in before)
    shift_click(lab, 1, 2)
    lab.kernel.wait_value("w.ablated", [[1, 2]])
    wait_attr(lab, ablation(lab), "data-heads", "1:2")
    # What the table shows is what Python computed (the engine's own test checks it against an edited model).
    shown, want = shown_rows(lab), python_rows(lab)
    assert [r["id"] for r in shown] == [r["id"] for r in want]
    for got, expected in zip(shown, want):
        assert got["before"] == pytest.approx(expected["before"], abs=1e-4)
        assert got["after"] == pytest.approx(expected["after"], abs=1e-4)
    delta = lab.kernel.value("w.extraction.ablate(heads=[(1, 2)]).effect(-1)['delta']")
    summary = view(lab, CELL, "ablation-summary").inner_text()
    assert "KL" in summary and f"{abs(delta):.3f}"[:4] in summary, (summary, delta)
    chips = ablation(lab).locator(".aw-chip")
    assert chips.count() == 1 and chips.first.inner_text().startswith("L1 · H2")
    # Shift-click ablates; it does not select.
    assert lab.kernel.value("[w.layer, w.head]") == [0, 0]
    # A second head, then the first one again: out of the set.
    shift_click(lab, 0, 3)
    lab.kernel.wait_value("w.ablated", [[1, 2], [0, 3]])
    wait_attr(lab, ablation(lab), "data-heads", "1:2 0:3")
    shift_click(lab, 1, 2)
    lab.kernel.wait_value("w.ablated", [[0, 3]])
    wait_attr(lab, ablation(lab), "data-heads", "0:3")
    assert not lab.widget_errors(), lab.widget_errors()


def test_chips_buttons_and_mode_change_the_set(lab: Any) -> None:
    lab.kernel.run("w.ablated = [[0, 3]]\nw.layer, w.head = 2, 1\nw.ablation_mode = 'zero'")
    add = view(lab, CELL, "ablation-add")
    lab.page.wait_for_function("el => el.textContent === 'ablate L2 · H1'", arg=add.element_handle())
    add.click()
    lab.kernel.wait_value("w.ablated", [[0, 3], [2, 1]])
    wait_attr(lab, ablation(lab), "data-heads", "0:3 2:1")
    assert add.inner_text() == "restore L2 · H1"
    # A chip's ×: that head back.
    ablation(lab).locator(".aw-chip[data-layer='0'][data-head='3'] .aw-chip-remove").click()
    lab.kernel.wait_value("w.ablated", [[2, 1]])
    # The mode, from the view.
    view(lab, CELL, "ablation-mode").select_option("mean")
    lab.kernel.wait_value("w.ablation_mode", "mean")
    lab.kernel.wait_value("w._ablation['info']['mode']", "mean")
    wait_attr(lab, ablation(lab), "data-mode", "mean")
    want = lab.kernel.value("w.extraction.ablate(heads=[(2, 1)], mode='mean').effect(-1)['delta']")
    shown = float(view(lab, CELL, "ablation-summary").get_attribute("data-delta"))
    assert shown == pytest.approx(want, abs=1e-5)
    # Python sets the set: chips follow.
    lab.kernel.run("w.ablated = [[1, 0], [2, 3], [0, 0]]")
    wait_attr(lab, ablation(lab), "data-heads", "1:0 2:3 0:0")
    names = ablation(lab).locator(".aw-chip .aw-chip-name").all_inner_texts()
    assert names == ["L1 · H0", "L2 · H3", "L0 · H0"]
    view(lab, CELL, "ablation-clear").click()
    lab.kernel.wait_value("w.ablated", [])
    lab.kernel.run("w.ablation_mode = 'zero'")


def test_head_effects_colour_the_grid(lab: Any) -> None:
    lab.kernel.run("w.head_score = 'none'\nw.ablated = [[1, 2]]\nw.token = -1")
    grid = view(lab, CELL, "head-grid")
    before = wait_stable(lab, grid)
    view(lab, CELL, "ablation-head-effects").click()
    lab.kernel.wait_value("w.head_score", "ablation")
    lab.kernel.wait_value("w._head_effects['info']['state']", "done", timeout=60)
    wait_attr(lab, ablation(lab), "data-effects", f"done {TINY_LAYERS}")
    wait_redrawn(lab, grid, before, "grid coloured by head effects")
    values = lab.kernel.value("w.extraction.head_effects(progress=False).tolist()")
    # Listed: the heads whose removal lowers the target most, lowest first, each clickable.
    listed = view(lab, CELL, "ablation-heads-needed").locator("[data-rank]")
    pairs = listed.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    flat = sorted((v, layer, head) for layer, row in enumerate(values) for head, v in enumerate(row) if v < 0)
    assert pairs == [[layer, head] for _v, layer, head in flat[:5]]
    if pairs:
        listed.first.locator("button").click()
        lab.kernel.wait_value("[w.layer, w.head]", pairs[0])
    # Hover a cell: the exact value.
    layer, head = 1, 1
    x, y = grid_cell_point(grid, layer, head, TINY_LAYERS, TINY_HEADS)
    lab.page.mouse.move(x, y)
    tooltip = lab.output(CELL).locator(".aw-tooltip").filter(has_text="Δ log p ablated")
    tooltip.first.wait_for(state="visible", timeout=5_000)
    text = tooltip.first.inner_text()
    value = values[layer][head]
    assert f"{abs(value):.4f}"[:5] in text or f"{abs(value):.3g}" in text, (text, value)
    assert "ablated · shift-click: restore" not in text and "shift-click: ablate" in text
    park_mouse(lab)
    # The legend says what the colours are.
    note = view(lab, CELL, "head-grid-legend").inner_text()
    assert "ablated" in note
    for theme, label in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        set_theme(lab, theme)
        lab.screenshot(f"ablation-{label}", lab.output(CELL))
    set_theme(lab, "JupyterLab Light")
    assert pixel_hash(lab, grid) != before


def test_shift_click_timing(lab_notebook: Any) -> None:
    """On the tiny model in the suite; with ATTNWIDGET_BENCH_TOKENS, SmolLM2 and the timings written."""
    if not BENCH_TOKENS:
        pytest.skip("a benchmark: benchmarks/bench_ablation_live.py runs it")
    widget = "w = attnwidget.AttentionWidget(ex.extract_activations(prompt), panel='ablation')\nw"
    nb = lab_notebook("ablation_bench.ipynb", [SMOLLM2_SETUP, widget])
    nb.run_all(timeout=240)
    wait_views(nb, CELL)
    heads = [(0, 1), (5, 3), (12, 4), (20, 6), (29, 8)]
    timings = []
    shown: list[tuple[int, int]] = []
    for layer, head in heads:  # the set grows one head per click: 1..5 heads, the first in layer 0
        shown.append((layer, head))
        key = " ".join(f"{a}:{b}" for a, b in shown)
        nb.page.evaluate(ARM, key)
        shift_click(nb, layer, head, 30, 9)
        nb.page.wait_for_function("window.__ablate.t1 !== null", timeout=30_000)
        timing = nb.page.evaluate("window.__ablate")
        timings.append(timing["t1"] - timing["t0"])
    nb.kernel.wait_value("w.ablated", [list(p) for p in heads])
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"tokens": BENCH_TOKENS, "click_to_predictions_ms": timings, "median_ms": statistics.median(timings)}
    RESULTS.write_text(json.dumps(report))
