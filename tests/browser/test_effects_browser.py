"""What heads write, in a real JupyterLab (Chromium): the effects view draws the target's logit as a waterfall
of its parts, typing a target (or a contrast) reaches Python and redraws it, a refused target is shown as
text, clicking a head (listed, or a layer's bar) selects it in Python (``on_select`` sees ``"effects"``); the
head grid coloured by attribution; the heatmap's ``weighting`` switched from the view and from Python; a
neuron clicked in the neuron plot lists what it promotes and suppresses. Screenshots in light and dark
themes: ``test-artifacts/lab-effects_lab-*.png``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.test_head_scores_browser import set_theme
from tests.browser.test_widget_browser import (
    SETUP,
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

PROMPT = "the cat sat on the mat and the cat sat on the"
WIDGET = (
    f"w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}), panel='effects')\n"
    "sources = []\n"
    "w.on_select(lambda s: sources.append(s['source']))\n"
    "w"
)
CELL = 1
# Embeddings, biases, then each layer's heads and MLP, then the sum.
ROWS = 2 + 2 * TINY_LAYERS + 1


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("effects_lab.ipynb", [SETUP, WIDGET])
    nb.run_all()
    wait_views(nb, CELL)
    nb.wait_for("[data-testid=effects]", scope=nb.output(CELL))
    return nb


def effects(nb: Any) -> Any:
    return view(nb, CELL, "effects")


def chart(nb: Any) -> Any:
    return view(nb, CELL, "effects-chart")


def wait_attr(nb: Any, locator: Any, name: str, expected: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = locator.get_attribute(name)
        if value == expected:
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"attr-{name}")
    raise AssertionError(f"{name} is {value!r}, expected {expected!r} ({shot})")


def shown_target(nb: Any) -> str:
    """What the view says the target is (its data-target: the visible text Python sent)."""
    return str(effects(nb).get_attribute("data-target"))


def shoot(nb: Any, label: str) -> None:
    """The whole output in one image: the page is made taller (same width, so the same layout) for it."""
    size = nb.page.viewport_size
    nb.page.set_viewport_size({"width": size["width"], "height": 2400})
    nb.page.wait_for_timeout(400)
    try:
        nb.screenshot(label, nb.output(CELL))
    finally:
        nb.page.set_viewport_size(size)
        nb.page.wait_for_timeout(300)


def type_into(nb: Any, testid: str, text: str) -> None:
    box = view(nb, CELL, testid)
    box.click()
    box.fill(text)
    box.press("Enter")


def test_effects_view_draws_the_logit_as_its_parts(lab: Any) -> None:
    wait_drawn(lab, chart(lab), "effects chart")
    info = lab.kernel.value("{k: v for k, v in w._effects['info'].items()}")
    assert info["error"] is None and info["unavailable"] is None, info
    wait_attr(lab, effects(lab), "data-target", info["target"])
    assert effects(lab).get_attribute("data-rows") == str(ROWS)
    kinds = chart(lab).get_attribute("data-kinds").split()
    assert kinds[:4] == ["embeddings", "biases", "heads0", "mlp0"] and kinds[-1] == "sum", kinds
    # The logit and the sum of the parts, as Python computed them.
    summary = view(lab, CELL, "effects-summary").inner_text()
    logit = lab.kernel.value("float(w.extraction.logit_attribution(position=-1).logit)")
    assert f"{logit:.3f}" in summary, (summary, logit)
    # The heads listed for the target are the largest positive attributions, in order.
    listed = view(lab, CELL, "effects-heads-for").locator("[data-rank]")
    pairs = listed.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    expected = lab.kernel.value(
        "(lambda a: [[int(l), int(h)] for l, h in sorted(((l, h) for l in range(a.heads.shape[0]) "
        "for h in range(a.heads.shape[1]) if a.heads[l, h] > 0), key=lambda p: -a.heads[p])][:5])"
        "(w.extraction.logit_attribution(position=-1))"
    )
    assert pairs == expected
    # Hover a row: its exact value in the tooltip.
    chart(lab).scroll_into_view_if_needed()
    box = chart(lab).bounding_box()
    tops = [float(t) for t in chart(lab).get_attribute("data-tops").split()]
    assert box
    lab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + (tops[2] + tops[3]) / 2)
    tooltip = effects(lab).locator(".aw-tooltip")
    tooltip.wait_for(state="visible", timeout=5_000)
    assert "layer 0 · attention heads" in tooltip.inner_text()
    assert "running total" in tooltip.inner_text()
    park_mouse(lab)
    assert not lab.widget_errors(), lab.widget_errors()


def test_typing_a_target_updates_the_view(lab: Any) -> None:
    before = wait_stable(lab, chart(lab))
    predicted = shown_target(lab)
    target = "dog" if predicted != "dog" else "cat"
    type_into(lab, "effects-target", target)
    lab.kernel.wait_value("w.target", target)
    lab.kernel.wait_value("w._effects['info']['target']", target)
    wait_attr(lab, effects(lab), "data-target", target)
    wait_redrawn(lab, chart(lab), before, "effects for a typed target")
    assert f"“{target}”" in view(lab, CELL, "effects-summary").inner_text()

    # A contrast: the logit difference.
    type_into(lab, "effects-contrast", "mat")
    lab.kernel.wait_value("w.contrast", "mat")
    lab.page.wait_for_function(
        "el => el.textContent.includes('− logit “mat”')", arg=view(lab, CELL, "effects-summary").element_handle()
    )

    # A text of several tokens is refused: Python keeps the old target, the view says why, as text.
    hostile = "<b>cats and dogs</b>"
    type_into(lab, "effects-target", hostile)
    message = view(lab, CELL, "effects-message")
    lab.page.wait_for_function("el => el.classList.contains('is-error')", arg=message.element_handle())
    assert lab.kernel.value("w.target") == target
    assert "cats" in message.inner_text()
    assert lab.output(CELL).locator("b").count() == 0, "the refused text became markup"

    # Empty: back to the prediction, no contrast.
    type_into(lab, "effects-target", "")
    type_into(lab, "effects-contrast", "")
    lab.kernel.wait_value("[w.target, w.contrast]", ["", ""])
    wait_attr(lab, effects(lab), "data-target", predicted)
    park_mouse(lab)


def test_python_sets_the_target_and_pins_a_token(lab: Any) -> None:
    lab.kernel.run("w.target = 'cat'")
    wait_attr(lab, effects(lab), "data-target", "cat")
    assert view(lab, CELL, "effects-target").input_value() == "cat"
    lab.kernel.run("w.token = 3")
    wait_attr(lab, effects(lab), "data-position", "3")
    lab.kernel.run("w.token = -1; w.target = ''")
    seq = lab.kernel.value("w.extraction.seq_len")
    wait_attr(lab, effects(lab), "data-position", str(seq - 1))


def test_clicking_a_head_in_the_effects_view_selects_it(lab: Any) -> None:
    lab.kernel.run("w.target = ''\nw.layer, w.head = 0, 0\nsources.clear()")
    items = view(lab, CELL, "effects-heads-for").locator("[data-rank]")
    items.first.wait_for(timeout=10_000)
    pairs = items.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.head)])")
    for rank in range(min(2, len(pairs)) - 1, -1, -1):
        items.nth(rank).locator("button").click()
        lab.kernel.wait_value("[w.layer, w.head]", pairs[rank])
        lab.kernel.wait_value("sources[-1] if sources else None", "effects")
    assert view(lab, CELL, "effects-heads-for").locator(".is-selected[data-rank]").count() == 1

    # A layer's heads bar selects that layer's strongest head.
    tops = [float(t) for t in chart(lab).get_attribute("data-tops").split()]
    kinds = chart(lab).get_attribute("data-kinds").split()
    row = kinds.index(f"heads{TINY_LAYERS - 1}")
    chart(lab).scroll_into_view_if_needed()
    box = chart(lab).bounding_box()
    assert box
    sources_before = lab.kernel.value("len(sources)")
    lab.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + (tops[row] + tops[row + 1]) / 2)
    strongest = lab.kernel.value(
        f"int(abs(w.extraction.logit_attribution(position=-1).heads[{TINY_LAYERS - 1}]).argmax())"
    )
    lab.kernel.wait_value("[w.layer, w.head]", [TINY_LAYERS - 1, strongest])
    lab.kernel.wait_value("len(sources)", sources_before + 1)
    assert lab.kernel.value("sources[-1]") == "effects"
    park_mouse(lab)


def test_head_grid_coloured_by_attribution(lab: Any) -> None:
    grid = view(lab, CELL, "head-grid")
    park_mouse(lab)
    lab.kernel.run("w.head_score = 'none'")
    thumbnails = wait_stable(lab, grid)
    lab.kernel.run("w.panel = 'head-scores'")
    select = view(lab, CELL, "head-scores").locator("select").first
    assert "attribution" in select.locator("option").evaluate_all("els => els.map(e => e.value)")
    select.select_option("attribution")
    lab.kernel.wait_value("w.head_score", "attribution")
    wait_redrawn(lab, grid, thumbnails, "grid by attribution")
    legend = view(lab, CELL, "head-grid-legend")
    assert "attribution" in legend.inner_text()
    ticks = str(legend.get_attribute("data-ticks")).split(" | ")
    assert ticks[1] == "0" and ticks[0].startswith("-") and not ticks[2].startswith("-"), ticks
    # Exact value on hover.
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box
    lab.page.mouse.move(box["x"] + 3, box["y"] + 3)
    tooltip = grid.locator("xpath=..").locator(".aw-tooltip")
    tooltip.wait_for(state="visible", timeout=5_000)
    value = lab.kernel.value("float(w.extraction.logit_attribution(position=-1).heads[0, 0])")
    text = tooltip.inner_text()
    assert "attribution:" in text, text
    shown = float(text.split("attribution:")[1].split()[0].replace("−", "-").replace("+", ""))
    assert abs(shown - value) <= 1e-3 * max(1.0, abs(value)), (text, value)
    park_mouse(lab)
    lab.kernel.run("w.head_score = 'none'; w.panel = 'effects'")


def test_switching_weighting_redraws_the_heatmap(lab: Any) -> None:
    heatmap = view(lab, CELL, "heatmap")
    park_mouse(lab)
    lab.kernel.run("w.layer, w.head = 1, 2\nw.weighting = 'attention'")
    lab.page.wait_for_function("el => el.dataset.shown === 'full 1 2'", arg=heatmap.element_handle())
    attention = wait_stable(lab, heatmap)
    select = view(lab, CELL, "heatmap-weighting")
    select.select_option("value_weighted")
    lab.kernel.wait_value("w.weighting", "value_weighted")
    lab.page.wait_for_function("el => el.dataset.weighting === 'value_weighted'", arg=heatmap.element_handle())
    wait_redrawn(lab, heatmap, attention, "value-weighted map")
    note = view(lab, CELL, "heatmap-legend").inner_text()
    assert "α·‖W_O v‖" in note and "not a probability" in note, note
    # The tooltip names the value, not a weight.
    heatmap.scroll_into_view_if_needed()
    box = heatmap.bounding_box()
    assert box
    lab.page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)
    tooltip = heatmap.locator("xpath=ancestor::section[1]").locator(".aw-tooltip")
    tooltip.wait_for(state="visible", timeout=5_000)
    assert "α·‖W_O v‖" in tooltip.inner_text(), tooltip.inner_text()
    park_mouse(lab)
    shoot(lab, "value-weighted")
    # Python switches back: the select follows, the attention pixels come back.
    lab.kernel.run("w.weighting = 'attention'")
    lab.page.wait_for_function("el => el.dataset.weighting === 'attention'", arg=heatmap.element_handle())
    assert select.input_value() == "attention"
    deadline = time.monotonic() + 15
    while pixel_hash(lab, heatmap) != attention and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pixel_hash(lab, heatmap) == attention


def test_clicking_a_neuron_lists_its_effects(lab: Any) -> None:
    kind = "mlp" if "mlp" in lab.kernel.value("w._info['neuron_widths']") else "residual"
    lab.kernel.run(f"w.layer = 1; w.neuron_kind = {kind!r}; w.token = -1; w.panel = 'neuron-plot'")
    plot = view(lab, CELL, "neuron-plot")
    lab.kernel.wait_value("w._neurons['info']['kind']", kind)
    wait_drawn(lab, plot, "neurons")
    indices = lab.kernel.value("w._neurons['info']['indices']")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    assert box
    k = len(indices)
    # Row 1, token 2.
    lab.page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + 1.5 * box["height"] / k)
    lab.kernel.wait_value("w.neuron", indices[1])
    listed = view(lab, CELL, "neuron-effects")
    wait_attr(lab, listed, "data-neuron", str(indices[1]))
    info = lab.kernel.value("{k: v for k, v in w._neuron_effects['info'].items()}")
    if info.get("unavailable"):
        wait_attr(lab, listed, "data-state", "unavailable")
        assert info["unavailable"] in listed.inner_text()
    else:
        wait_attr(lab, listed, "data-state", "listed")
        promoted = view(lab, CELL, "neuron-promoted").locator("li")
        suppressed = view(lab, CELL, "neuron-suppressed").locator("li")
        assert promoted.count() == len(info["promoted"]) == 10
        assert suppressed.count() == len(info["suppressed"])
        texts = promoted.locator(".aw-neuron-effects-tok").evaluate_all("els => els.map(e => e.textContent)")
        assert texts == info["promoted"]
        values = lab.kernel.value("[v for _, v in ex.neuron_logit_effects(1, w.neuron)['promoted']]")
        first = promoted.first.locator(".aw-heads-value").inner_text()
        assert abs(float(first.replace("−", "-").replace("+", "")) - values[0]) < 1e-2 * max(1, abs(values[0]))
    park_mouse(lab)
    shoot(lab, "neuron-effects")
    # Escape clears it.
    plot.focus()
    lab.page.keyboard.press("Escape")
    lab.kernel.wait_value("w.neuron", -1)
    wait_attr(lab, listed, "data-neuron", "-1")
    lab.kernel.run("w.token = -1; w.panel = 'effects'")


def test_save_png(lab: Any) -> None:
    import io
    from pathlib import Path

    from PIL import Image

    lab.kernel.run("w.panel = 'effects'; w.token = -1; w.target = ''")
    wait_drawn(lab, chart(lab), "effects-before-save")
    seq = lab.kernel.value("w.extraction.seq_len")
    button = view(lab, CELL, "save-png-effects")
    button.scroll_into_view_if_needed()
    box = effects(lab).bounding_box()
    assert box
    with lab.page.expect_download() as info:
        button.click()
    download = info.value
    name = download.suggested_filename
    assert name.startswith(f"effects-pos{seq - 1}") and name.endswith(".png"), name
    image = Image.open(io.BytesIO(Path(download.path()).read_bytes()))
    assert abs(image.width - 2 * box["width"]) <= 2 and abs(image.height - 2 * box["height"]) <= 2, (image.size, box)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20
    image.save(lab.screenshot("saved").with_name("lab-effects_lab-saved-png.png"))
    park_mouse(lab)


def test_screenshots_light_and_dark(lab: Any) -> None:
    lab.kernel.run("w.head_score = 'attribution'\nw.layer, w.head = 1, 2\nw.token = -1\nw.panel = 'effects'")
    lab.kernel.wait_value("w.head_score", "attribution")
    park_mouse(lab)
    set_theme(lab, "JupyterLab Light")
    wait_drawn(lab, chart(lab), "effects-light")
    shoot(lab, "light")
    try:
        set_theme(lab, "JupyterLab Dark")
        wait_drawn(lab, chart(lab), "effects-dark")
        shoot(lab, "dark")
    finally:
        set_theme(lab, "JupyterLab Light")
    assert not lab.widget_errors(), lab.widget_errors()
