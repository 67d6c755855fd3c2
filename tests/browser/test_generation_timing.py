"""How soon the first generated token shows, end to end: JupyterLab in headless Chromium, the bundled SmolLM2
loaded and warm, a new cell ``w = attnwidget.show(<16-token prompt>, ex, generate=64); w`` run from the page;
time from the run command to the generation view showing its first token (`data-steps` >= 1 on
``[data-testid="generation"]``): the prompt's recorded pass, the widget's build, its first message, the render
and the first generation step and its message.

A benchmark (`benchmarks/bench_generation_live.py` sets ATTNWIDGET_BENCH_GENERATION=1 and reads
benchmarks/results/generation_live.json); skipped in the suite.
"""

from __future__ import annotations

import json
import os
import statistics
import textwrap
from pathlib import Path
from typing import Any

import pytest

BENCH = os.environ.get("ATTNWIDGET_BENCH_GENERATION", "") == "1"
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "generation_live.json"
RUNS = 5
SETUP = textwrap.dedent(
    """
    import attnwidget
    ex = attnwidget.AttentionExtractor()
    attnwidget.show("Warm up: the model writes a few tokens first.", ex, generate=4).wait()
    # 14 tokens; with " <run number>" 16, a new prompt each run (no extraction kept from the last one).
    PROMPT = "The old lighthouse keeper climbed the stairs every night to light the lamp for"
    runs = 0
    """
)
CELL = "runs += 1\nw = attnwidget.show(f'{PROMPT} {runs}', ex, generate=64)\nw"

# Adds a code cell at the end holding `code`, notes the time and runs it; a MutationObserver notes when a
# generation view not seen before shows its first token.
RUN_NEW_CELL = """
(code) => {
  const seen = new Set(document.querySelectorAll('[data-testid="generation"]'));
  window.__first = {t0: null, t1: null};
  const observer = new MutationObserver(() => {
    for (const view of document.querySelectorAll('[data-testid="generation"]')) {
      if (!seen.has(view) && Number(view.dataset.steps || 0) >= 1 && window.__first.t1 === null) {
        window.__first.t1 = performance.now();
        observer.disconnect();
      }
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-steps']});
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  app.commands.execute('notebook:insert-cell-below');
  notebook.activeCell.model.sharedModel.setSource(code);
  window.__first.t0 = performance.now();
  app.commands.execute('notebook:run-cell');
}
"""


def test_first_generated_token_timing(lab_notebook: Any) -> None:
    if not BENCH:
        pytest.skip("a benchmark: benchmarks/bench_generation_live.py runs it")
    nb = lab_notebook("generation_bench.ipynb", [SETUP])
    nb.run_all(timeout=300)
    timings = []
    for _ in range(RUNS):
        nb.page.evaluate(RUN_NEW_CELL, CELL)
        nb.page.wait_for_function("window.__first.t1 !== null", timeout=60_000)
        first = nb.page.evaluate("window.__first")
        timings.append(first["t1"] - first["t0"])
        nb.kernel.run("w.wait()", timeout=120)  # the next run starts on an idle kernel
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"first_token_ms": timings, "median_ms": statistics.median(timings)}))
