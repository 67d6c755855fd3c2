"""The head-scores view in a real JupyterLab (Chromium): it draws, choosing a score recolours the head grid,
clicking a listed head reaches Python (``on_select`` sees ``source: "head-scores"``), and Python setting
``w.head_score`` updates the select. Screenshots in light and dark themes: ``test-artifacts/``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.test_widget_browser import (
    SETUP,
    TINY_HEADS,
    TINY_LAYERS,
    park_mouse,
    pixel_hash,
    view,
    wait_drawn,
    wait_redrawn,
    wait_stable,
    wait_views,
)

pytestmark = pytest.mark.browser

# Repeated words: induction is defined (several queries have an earlier occurrence).
PROMPT = "the cat sat on the mat and the cat sat on the hat"
WIDGET = (
    f"w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}), panel='head-scores')\n"
    "sources = []\n"
    "w.on_select(lambda s: sources.append(s['source']))\n"
    "w"
)
CELL = 1
# Every per-head score, in the order of `_info.scores` (attnwidget.analysis.scores.SCORES).
SCORES = ["induction", "previous_token", "first_token", "self", "local", "peak", "entropy", "normalized_entropy"]


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("head_scores_lab.ipynb", [SETUP, WIDGET])
    nb.run_all()
    wait_views(nb, CELL)
    nb.wait_for("[data-testid=head-scores]", scope=nb.output(CELL))
    return nb


def select_of(nb: Any) -> Any:
    return view(nb, CELL, "head-scores").locator("select").first


def wait_select_value(nb: Any, expected: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = select_of(nb).input_value()
        if value == expected:
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"select-{expected}")
    raise AssertionError(f"the score select shows {value!r}, expected {expected!r} ({shot})")


def set_theme(nb: Any, name: str) -> None:
    nb.page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {name!r}}})")
    nb.page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === light", arg="true" if "Light" in name else "false"
    )
    time.sleep(0.8)  # the views repaint on the next frame and once more 400 ms later


def test_head_scores_view_draws(lab: Any) -> None:
    scores = view(lab, CELL, "head-scores")
    box = scores.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 10, f"head-scores is not visible: {box}"
    options = select_of(lab).locator("option").evaluate_all("els => els.map(e => e.value)")
    assert options == ["none", *SCORES, "attribution", "ablation"], "the scores, then attribution and ablation"
    assert select_of(lab).input_value() == "none"
    wait_drawn(lab, view(lab, CELL, "head-grid"), "grid")
    assert not lab.widget_errors(), lab.widget_errors()


def test_choosing_a_score_recolours_the_grid_and_lists_heads(lab: Any) -> None:
    grid = view(lab, CELL, "head-grid")
    park_mouse(lab)
    lab.kernel.run("w.head_score = 'none'")
    wait_select_value(lab, "none")
    thumbnails = wait_stable(lab, grid)

    select_of(lab).select_option("induction")
    lab.kernel.wait_value("w.head_score", "induction")
    wait_redrawn(lab, grid, thumbnails, "grid by induction")
    by_induction = wait_stable(lab, grid)
    items = view(lab, CELL, "head-scores").locator("[data-rank]")
    assert items.count() == min(12, TINY_LAYERS * TINY_HEADS)
    # The list is the ranking Python computes.
    listed = items.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    expected = lab.kernel.value(
        "[[l, h] for l, h, _ in attnwidget.analysis.scores.top_heads(w.extraction.head_scores()['induction'], 12)]"
    )
    assert listed == expected

    select_of(lab).select_option("entropy")
    lab.kernel.wait_value("w.head_score", "entropy")
    wait_redrawn(lab, grid, by_induction, "grid by entropy")
    listed = items.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    expected = lab.kernel.value(
        "[[l, h] for l, h, _ in attnwidget.analysis.scores.top_heads("
        "w.extraction.head_scores()['entropy'], 12, ascending=True)]"
    )
    assert listed == expected, "entropy ranks lowest (most focused) first"
    lab.screenshot("entropy", lab.output(CELL))

    # Back to none: the thumbnails again, pixel for pixel.
    select_of(lab).select_option("none")
    lab.kernel.wait_value("w.head_score", "none")
    deadline = time.monotonic() + 15
    while pixel_hash(lab, grid) != thumbnails and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pixel_hash(lab, grid) == thumbnails, "choosing none brings the thumbnails back"
    assert not lab.widget_errors(), lab.widget_errors()


def test_clicking_a_listed_head_reaches_python(lab: Any) -> None:
    lab.kernel.run("w.head_score = 'previous_token'\nw.layer, w.head = 0, 0\nsources.clear()")
    wait_select_value(lab, "previous_token")
    items = view(lab, CELL, "head-scores").locator("[data-rank]")
    pairs = items.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    for rank in (1, 0):  # rank 1 first: it differs from (0, 0) if rank 0 does not
        layer, head = pairs[rank]
        items.nth(rank).locator("button").click()
        lab.kernel.wait_value("[w.layer, w.head]", [layer, head])
        lab.kernel.wait_value("sources[-1] if sources else None", "head-scores")
    selected = view(lab, CELL, "head-scores").locator(".is-selected[data-rank]")
    assert selected.count() == 1 and selected.get_attribute("data-rank") == "0"
    park_mouse(lab)


def test_python_sets_head_score(lab: Any) -> None:
    grid = view(lab, CELL, "head-grid")
    park_mouse(lab)
    lab.kernel.run("w.head_score = 'bos'")  # the former name of first_token, still accepted
    wait_select_value(lab, "first_token")
    before = wait_stable(lab, grid)
    lab.kernel.run("w.head_score = 'induction'")
    wait_select_value(lab, "induction")
    wait_redrawn(lab, grid, before, "python first_token→induction")


def test_screenshots_light_and_dark(lab: Any) -> None:
    lab.kernel.run("w.head_score = 'induction'\nw.layer, w.head = 1, 2")
    wait_select_value(lab, "induction")
    park_mouse(lab)
    set_theme(lab, "JupyterLab Light")
    lab.screenshot("light", lab.output(CELL))
    try:
        set_theme(lab, "JupyterLab Dark")
        wait_drawn(lab, view(lab, CELL, "head-grid"), "grid-dark")
        lab.screenshot("dark", lab.output(CELL))
    finally:
        set_theme(lab, "JupyterLab Light")
    assert not lab.widget_errors(), lab.widget_errors()
