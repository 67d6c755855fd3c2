"""`export_html` pages opened from file:// in Chromium with the network off: the views draw, hover and
clicks work without a kernel, hostile token text stays visible text, and nothing is fetched from any URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import transformers

import attnwidget
from tests.browser.conftest import ARTIFACTS, CANVAS_STATS_JS
from tests.browser.test_widget_browser import HOSTILE, HOSTILE_TAGS, grid_cell_point
from tests.tiny_models import minilm_folder, tiny_model

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_folder())
    tokenizer.add_tokens(list(HOSTILE_TAGS))  # each tag one token, so a whole tag reaches the page as text
    model = tiny_model("gpt2")
    model.resize_token_embeddings(len(tokenizer))
    extraction = attnwidget.AttentionExtractor(model=model, tokenizer=tokenizer).extract_activations(HOSTILE)
    return attnwidget.export_html(extraction, tmp_path_factory.mktemp("export") / "page.html")


@pytest.fixture
def offline_page(browser: Any, page_file: Path) -> Any:
    context = browser.new_context(offline=True, viewport={"width": 1000, "height": 1300})
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(page_file.as_uri())
    page.wait_for_selector("[data-testid=heatmap]")
    yield page
    page.screenshot(path=str(ARTIFACTS / "export-page.png"), full_page=True)
    context.close()


def drawn(page: Any, testid: str) -> bool:
    stats = page.locator(f"[data-testid={testid}]").evaluate(CANVAS_STATS_JS)
    return any(s["distinct"] >= 3 and s["opaque"] > 0 for s in stats)


def test_views_draw_without_a_kernel_or_network(offline_page: Any) -> None:
    page = offline_page
    for testid in ("head-grid", "heatmap", "neuron-plot", "layer-stats"):
        ready = f"document.querySelector('[data-testid={testid}] canvas')?.width > 0"
        page.wait_for_function(ready)
        assert drawn(page, testid), f"{testid} is blank"
    assert page.locator("[data-testid=token-strip] [data-token-index]").count() > 5
    assert "Full-resolution maps of all 8 heads" in page.locator("[data-testid=export-note]").inner_text()
    assert page.errors == []
    assert all(url.startswith(("file:", "blob:")) for url in page.requests), page.requests


def test_hostile_token_text_is_inert_and_visible(offline_page: Any) -> None:
    page = offline_page
    strip = page.locator("[data-testid=token-strip]")
    texts = strip.locator("[data-token-index]").all_text_contents()
    for tag in HOSTILE_TAGS:
        assert tag in texts, f"{tag!r} is not shown as one token's text"
    assert strip.locator("img, b, script").count() == 0
    assert page.locator("img[src=x]").count() == 0
    # The prompt in the page header is text too.
    assert HOSTILE_TAGS[0] in page.locator(".aw-export-prompt").inner_text()
    strip.locator("[data-token-index='1']").hover()
    page.mouse.move(5, 5)
    assert page.evaluate("window.__pwned") is None


def test_hover_and_clicks_work_offline(offline_page: Any) -> None:
    page = offline_page
    token = page.locator("[data-testid=token-strip] [data-token-index='3']")
    token.hover()
    assert "is-hovered" in (token.get_attribute("class") or "")
    token.click()
    assert "is-pinned" in (token.get_attribute("class") or "")
    page.mouse.move(5, 5)
    heatmap = page.locator("[data-testid=heatmap]")
    before = heatmap.get_attribute("data-shown")
    x, y = grid_cell_point(page.locator("[data-testid=head-grid]"), 1, 3, 2, 4)
    page.mouse.click(x, y)
    page.mouse.move(5, 5)
    # Every head of this small page is in it at full resolution: the click shows the real map.
    page.wait_for_function("document.querySelector('[data-testid=heatmap]').dataset.shown === 'full 1 3'")
    assert before != heatmap.get_attribute("data-shown")
    box = heatmap.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.8)
    tooltip = page.locator(".aw-heatmap-panel .aw-tooltip:visible")
    assert "weight" in tooltip.inner_text()


def test_a_saved_ablation_is_shown_and_its_controls_need_a_kernel(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_folder())
    extraction = attnwidget.AttentionExtractor(model=tiny_model("gpt2"), tokenizer=tokenizer).extract_activations(
        "the cat sat on the mat and the cat"
    )
    widget = attnwidget.AttentionWidget(extraction, ablated=[[1, 2], [0, 1]], panel="ablation")
    path = attnwidget.export_html(widget, tmp_path_factory.mktemp("export-ablation") / "page.html")
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        ablation = page.locator("[data-testid=ablation]")
        page.wait_for_function("el => el.dataset.heads === '1:2 0:1'", arg=ablation.element_handle())
        assert ablation.locator("[data-testid=ablation-predictions] tr[data-token-id]").count() >= 5
        assert ablation.locator(".aw-chip").count() == 2
        for testid in ("ablation-add", "ablation-clear", "ablation-head-effects", "ablation-mode"):
            assert ablation.locator(f"[data-testid={testid}]").is_disabled(), testid
        assert ablation.locator("[data-testid=ablation-effects-status]").inner_text() == "needs a running kernel"
        # Shift-click in the grid selects (nothing can recompute the ablation without a kernel).
        grid = page.locator("[data-testid=head-grid]")
        x, y = grid_cell_point(grid, 0, 3, 2, 4)
        page.keyboard.down("Shift")
        page.mouse.click(x, y)
        page.keyboard.up("Shift")
        assert ablation.get_attribute("data-heads") == "1:2 0:1"
        page.screenshot(path=str(ARTIFACTS / "export-ablation.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
