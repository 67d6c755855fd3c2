"""A notebook saved with its widget state and reopened in JupyterLab without running a cell.

What a user does: turn on Settings → "Save Widget State Automatically" (ipywidgets' JupyterLab manager then
writes every widget's state into the notebook's metadata on save), run the notebook, pin a token and pick
a head, save, close the notebook, reopen it later. The reopened notebook's cells are not run: the fresh
kernel JupyterLab starts holds no widget, so the widget is drawn from the saved state alone (JupyterLab
restores no widget at all with "No Kernel" selected, ipywidgets#3773; a kernel that runs nothing is
enough).

Checked: the saved notebook's size for the 12-token prompt; the reopened widget draws every view and shows
the saved selection (head 1·2's full map, the pinned token's logit lens); hovering or pinning another
token says the logit lens needs a running kernel (instead of "computing…" forever); nothing from outside
this machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, KERNEL_TIMEOUT_S, JupyterServer, NotebookOpener, OpenNotebook
from tests.browser.hosts import (
    LAYERS,
    SEQ_LEN,
    click_token,
    grid_point,
    hover_token,
    lens_state,
    outside,
    wait_views_drawn,
)

pytestmark = pytest.mark.browser

NAME = "saved_state.ipynb"
CELL = "from tests.browser.hosts import tiny_widget\n\nw = tiny_widget()\nw"
SETTING = "@jupyter-widgets/jupyterlab-manager:plugin"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
PINNED, LAYER, HEAD = 4, 1, 2


def saved_state(server: JupyterServer) -> dict[str, Any]:
    """The widget state in the notebook file on disk ({} when none was saved)."""
    notebook = json.loads((server.root_dir / NAME).read_text(encoding="utf-8"))
    return dict(notebook.get("metadata", {}).get("widgets", {}).get(STATE_MIME, {}))


def attention_models(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The saved AttentionWidget models: their traits, bytes traits (saved as base64 buffers) included."""
    models = []
    for model in state.get("state", {}).values():
        if "_tokens" in model.get("state", {}):
            traits = dict(model["state"])
            for buffer in model.get("buffers", []):
                traits.setdefault(buffer["path"][0], "(buffer)")
            models.append(traits)
    return models


def wait_lens(nb: OpenNotebook, position: int, state: str) -> None:
    lens = nb.output(0).locator("[data-testid=logit-lens]").first
    nb.page.wait_for_function(
        "([el, p, s]) => el.dataset.position === p && el.dataset.state === s",
        arg=[lens.element_handle(), str(position), state],
        timeout=20_000,
    )


def wait_lens_text(nb: OpenNotebook, text: str) -> dict[str, str]:
    panel = nb.output(0).locator("[data-testid=logit-lens]").first.locator("xpath=..")
    nb.page.wait_for_function("([el, t]) => el.innerText.includes(t)", arg=[panel.element_handle(), text])
    return lens_state(nb.output(0))


@pytest.fixture(scope="module")
def save_setting(lab_server: JupyterServer) -> Iterator[None]:
    """Leave the Lab server's widget setting as it was (the menu item below changes it for the session)."""
    before = lab_server.api("GET", f"/lab/api/settings/{SETTING}")
    yield
    lab_server.api("PUT", f"/lab/api/settings/{SETTING}", {"raw": before.get("raw") or "{}"})


@pytest.fixture(scope="module")
def saved(lab_notebook_module: NotebookOpener, lab_server: JupyterServer, save_setting: None) -> dict[str, Any]:
    """Run the notebook, pin a token and pick a head, save with widget state, close. The file's numbers."""
    nb = lab_notebook_module(NAME, [CELL], viewport_width=1400)
    page = nb.page
    # Settings → Save Widget State Automatically, through the menu a person uses.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Save Widget State Automatically").click()
    page.keyboard.press("Escape")
    deadline = time.monotonic() + 10
    while not lab_server.api("GET", f"/lab/api/settings/{SETTING}").get("settings", {}).get("saveState"):
        assert time.monotonic() < deadline, "the menu item did not turn saveState on"
        time.sleep(0.1)

    nb.run_all()
    out = nb.output(0)
    wait_views_drawn(page, out, "saved-state-live")
    click_token(out, PINNED)
    x, y = grid_point(out, LAYER, HEAD)
    page.mouse.click(x, y)
    page.mouse.move(2, 2)
    nb.kernel.wait_value("[w.token, w.layer, w.head]", [PINNED, LAYER, HEAD])
    # What Python sent back is in the front-end's model before the save: the map and the lens of the pin.
    heatmap = out.locator("[data-testid=heatmap]").first
    page.wait_for_function(f"el => el.dataset.shown === 'full {LAYER} {HEAD}'", arg=heatmap.element_handle())
    wait_lens(nb, PINNED, "fresh")
    nb.screenshot("live")

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => { const p = window.jupyterapp.shell.currentWidget; return p && !p.context.model.dirty; }",
        timeout=KERNEL_TIMEOUT_S * 1000,
    )
    state = saved_state(lab_server)
    models = attention_models(state)
    path = lab_server.root_dir / NAME
    numbers = {
        "prompt_tokens": len(models[0]["_tokens"]) if models else 0,
        "notebook_bytes": path.stat().st_size,
        "widget_state_bytes": len(json.dumps(state, ensure_ascii=False).encode()),
        "esm_bytes": len(models[0]["_esm"].encode()) if models else 0,
        "css_bytes": len(models[0]["_css"].encode()) if models else 0,
        "models": len(state.get("state", {})),
        "attention_models": models,
    }
    nb.close()  # the page and its kernel
    ARTIFACTS.mkdir(exist_ok=True)
    summary = {k: v for k, v in numbers.items() if k != "attention_models"}
    (ARTIFACTS / "saved-state-size.json").write_text(json.dumps(summary, indent=1))
    return numbers


@pytest.fixture(scope="module")
def reopened(browser: Any, lab_server: JupyterServer, saved: dict[str, Any]) -> Iterator[OpenNotebook]:
    """The saved notebook opened again in a new page, with a fresh kernel, and no cell run."""
    # Tall enough that the token strip and the logit lens are on screen together: nothing scrolls while the
    # pointer hovers a token (a scroll would end the hover).
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(30_000)
    nb = OpenNotebook(server=lab_server, page=context.new_page(), name=NAME)
    context.on("request", lambda request: nb.requests.append(request.url))
    nb.page.on("pageerror", lambda error: nb.page_errors.append(f"{error}\n{error.stack or ''}"))
    try:
        nb.open()
        yield nb
    finally:
        nb.screenshot("reopened-end")
        nb.close()


def test_saved_notebook_holds_the_widget(saved: dict[str, Any]) -> None:
    assert saved["prompt_tokens"] == SEQ_LEN, saved["prompt_tokens"]
    assert len(saved["attention_models"]) == 1
    model = saved["attention_models"][0]
    # What the views draw from, and the selection made before the save.
    assert {"_esm", "_css", "_thumbnails", "_attention_map", "_lens"} <= set(model), sorted(model)
    assert model.get("token") == PINNED and model.get("layer") == LAYER and model.get("head") == HEAD, model
    # The issue measured 129 kB for this prompt; a bound that catches a state that grew by multiples.
    assert 20_000 < saved["notebook_bytes"] < 400_000, saved["notebook_bytes"]


def test_reopened_widget_draws_from_the_saved_state(reopened: OpenNotebook) -> None:
    nb = reopened
    out = nb.output(0)
    wait_views_drawn(nb.page, out, "saved-state-reopened")
    # Nothing was run: the fresh kernel has no `w`.
    assert nb.kernel.value("'w' in globals()") is False
    # The widget's own model has no comm: ipywidgets marks its view.
    assert out.locator(".jupyter-widgets-disconnected").count() >= 1
    heatmap = out.locator("[data-testid=heatmap]").first
    assert heatmap.get_attribute("data-shown") == f"full {LAYER} {HEAD}"
    wait_lens(nb, PINNED, "fresh")
    assert out.locator("[data-testid=logit-lens] tbody tr").count() == LAYERS + 1
    nb.screenshot("reopened")


def test_hover_and_pin_say_the_lens_needs_a_kernel(reopened: OpenNotebook) -> None:
    nb = reopened
    out = nb.output(0)
    wait_views_drawn(nb.page, out, "saved-state-reopened")
    click_token(out, PINNED)  # unpin: the hovered token then asks for its lens
    hover_token(out, 3)
    # The saved lens (of #4) stays on screen, marked as not the one asked for.
    lens = wait_lens_text(nb, "#3 is not in the saved state")
    assert lens["state"] == "stale" and "running kernel" in lens["text"], lens
    assert "computing" not in lens["text"], lens
    nb.screenshot("reopened-hover")

    click_token(out, 7)
    nb.page.mouse.move(2, 2)
    lens = wait_lens_text(nb, "#7 is not in the saved state")
    assert lens["position"] == str(PINNED) and lens["state"] == "stale", lens
    assert "computing" not in lens["text"], lens
    nb.screenshot("reopened-pin-7")


def test_nothing_from_outside(reopened: OpenNotebook) -> None:
    assert outside(reopened.requests) == [], outside(reopened.requests)
    assert reopened.widget_errors() == [], reopened.widget_errors()
