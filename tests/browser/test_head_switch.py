"""Clicking a head in the grid brings its full-resolution map from the kernel: live, end to end.

In the suite this runs on the tiny model. `benchmarks/bench_widget_live.py` runs the same test with
ATTNWIDGET_BENCH_TOKENS=1024 on the bundled SmolLM2 and reports the times it writes (no timing is asserted
here: performance targets are checked by the benchmark, not by tests).
"""

from __future__ import annotations

import json
import os
import statistics
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_widget_browser import SETUP, TINY_HEADS, TINY_LAYERS, grid_cell_point, view, wait_views

pytestmark = pytest.mark.browser

BENCH_TOKENS = int(os.environ.get("ATTNWIDGET_BENCH_TOKENS", "0"))
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "widget_live.json"

SMOLLM2_SETUP = textwrap.dedent(
    f"""
    import attnwidget
    ex = attnwidget.AttentionExtractor()
    ids = ex.tokenizer(open("{Path(__file__).resolve().parents[2] / "README.md"}").read() * 8)["input_ids"]
    prompt = ex.tokenizer.decode(ids[:{BENCH_TOKENS}])
    """
)

# Stamp the pointer press and the moment the heatmap reports the clicked head's full map as painted.
ARM = """([layer, head]) => {
  const box = document.querySelector('.jp-OutputArea [data-testid=heatmap]');
  window.__switch = {t0: null, t1: null};
  const stamp = () => { window.__switch.t0 = performance.now(); };
  window.addEventListener('pointerdown', stamp, {capture: true, once: true});
  const done = () => {
    const shown = box.dataset.shown || '';
    if (shown === `full ${layer} ${head}` || shown === `pooled ${layer} ${head}`) {
      window.__switch.t1 = performance.now();
      return true;
    }
    return false;
  };
  const observer = new MutationObserver(() => { if (done()) observer.disconnect(); });
  observer.observe(box, {attributes: true, attributeFilter: ['data-shown']});
}"""


def test_grid_click_brings_the_full_map(lab_notebook: Any) -> None:
    if BENCH_TOKENS:
        setup, widget = SMOLLM2_SETUP, "w = attnwidget.AttentionWidget(ex.extract_activations(prompt))\nw"
        targets = [(17, 3), (18, 6), (2, 0), (29, 8), (10, 4), (5, 5), (24, 1), (11, 7)]
        layers, heads = 30, 9
    else:
        setup = SETUP
        widget = (
            "w = attnwidget.AttentionWidget(ex.extract_activations('The cat sat on the mat because it was tired'))\nw"
        )
        targets = [(2, 3), (1, 1), (0, 2)]
        layers, heads = TINY_LAYERS, TINY_HEADS
    nb = lab_notebook("head_switch.ipynb", [setup, widget])
    nb.run_all(timeout=240)
    wait_views(nb, 1)
    grid = view(nb, 1, "head-grid")
    timings = []
    for layer, head in targets:
        nb.page.evaluate(ARM, [layer, head])
        x, y = grid_cell_point(grid, layer, head, layers, heads)
        nb.page.mouse.click(x, y)
        nb.page.wait_for_function("window.__switch.t1 !== null", timeout=30_000)
        nb.page.mouse.move(2, 2)
        timing = nb.page.evaluate("window.__switch")
        timings.append(timing["t1"] - timing["t0"])
        nb.kernel.wait_value("[w.layer, w.head]", [layer, head])
    if BENCH_TOKENS:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {"tokens": BENCH_TOKENS, "click_to_full_map_ms": timings, "median_ms": statistics.median(timings)}
            )
        )
