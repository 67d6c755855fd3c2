"""AttentionWidget in marimo, as a new user meets it: ``mo.ui.anywidget(widget)`` in an app served by
``marimo run``, opened in Chromium.

marimo is not a Jupyter front-end: it has its own anywidget host (a model of its own per widget, talking to
the Python process over marimo's websocket), so this is the test that the widget's front-end works on
anywidget's API alone. What is checked is what a person sees: the views draw; a click on a token in the
token strip reaches Python, shown by a second marimo cell that reads ``w.value`` (marimo re-runs it when
the widget's value changes) and by the logit lens of that token, which only Python computes; a click in
the head grid brings the head's full map from Python; a shift-click ablates a head and the Ablate tab's
button computes every head's effect (a custom message); nothing is loaded from outside this machine.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import JupyterEnv
from tests.browser.hosts import (
    LAYERS,
    HostPage,
    HostServer,
    click_token,
    grid_point,
    lens_state,
    opened_page,
    outside,
    serve_marimo,
    shot,
    wait_views_drawn,
)

pytestmark = pytest.mark.browser

# The app a user would write: the widget wrapped by mo.ui.anywidget in one cell, its value read in another.
APP = textwrap.dedent(
    """
    import marimo

    app = marimo.App(width="full")


    @app.cell
    def _():
        import marimo as mo

        from tests.browser.hosts import tiny_widget

        w = mo.ui.anywidget(tiny_widget())
        w
        return mo, w


    @app.cell
    def _(mo, w):
        _v = w.value
        mo.md(f"python sees: token {_v.get('token')}, layer {_v.get('layer')}, head {_v.get('head')}")
        return


    if __name__ == "__main__":
        app.run()
    """
)
PINNED = 4


def readout_is(page: Any, text: str, timeout: float = 20.0) -> None:
    """Wait until the second cell's output says ``text`` (marimo re-ran it with the new ``w.value``)."""
    try:
        page.wait_for_function(
            "t => document.body.innerText.includes(t)", arg=text, timeout=timeout * 1000, polling=100
        )
    except Exception:
        shown = page.get_by_text("python sees:").all_inner_texts()
        raise AssertionError(f"the page never said {text!r}; it says {shown}") from None


@pytest.fixture(scope="module")
def marimo_server(jupyter_env: JupyterEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostServer]:
    # jupyter_env: the repository on PYTHONPATH, offline models.
    with serve_marimo("marimo", APP, tmp_path_factory.mktemp("marimo"), jupyter_env.env) as server:
        yield server


@pytest.fixture(scope="module")
def app(browser: Any, marimo_server: HostServer) -> Iterator[HostPage]:
    # The app's cells run when the page opens its session: the first views wait for the model to be built.
    def ready(page: Any) -> None:
        wait_views_drawn(page, page, "marimo", timeout=90)

    with opened_page(browser, marimo_server.url, "marimo-page", ready) as opened:
        yield opened


def test_views_draw(app: HostPage) -> None:
    page = app.page
    readout_is(page, "python sees: token -1, layer 0, head 0")
    assert page.locator("[data-testid=heatmap]").first.get_attribute("data-shown") == "full 0 0"
    # marimo always has a kernel: no view is marked as missing one.
    assert page.locator(".jupyter-widgets-disconnected").count() == 0
    shot(page, "marimo-views")


def test_token_click_reaches_python(app: HostPage) -> None:
    page = app.page
    click_token(page, PINNED)
    page.mouse.move(2, 2)
    # The other cell re-ran with w.value: the click went through marimo to the Python widget.
    readout_is(page, f"python sees: token {PINNED}, layer 0, head 0")
    # And Python answered: the lens of the pinned token is computed there only.
    lens = page.locator("[data-testid=logit-lens]").first
    page.wait_for_function(
        "([el, p]) => el.dataset.position === p && el.dataset.state === 'fresh'",
        arg=[lens.element_handle(), str(PINNED)],
        timeout=20_000,
    )
    state = lens_state(page)
    assert "computing" not in state["text"] and "running kernel" not in state["text"], state
    assert page.locator("[data-testid=logit-lens] tbody tr").count() == LAYERS + 1
    shot(page, "marimo-token-pinned")


def test_head_click_brings_the_full_map_from_python(app: HostPage) -> None:
    page = app.page
    x, y = grid_point(page, 2, 3)
    page.mouse.click(x, y)
    page.mouse.move(2, 2)
    readout_is(page, f"python sees: token {PINNED}, layer 2, head 3")
    heatmap = page.locator("[data-testid=heatmap]").first
    # Until Python sends the map, the heatmap shows the head's thumbnail ("preview 2 3").
    page.wait_for_function("el => el.dataset.shown === 'full 2 3'", arg=heatmap.element_handle(), timeout=20_000)
    shot(page, "marimo-head-2-3", heatmap.locator("xpath=ancestor::section[1]"))


def test_ablating_heads_and_head_effects_go_through_marimo(app: HostPage) -> None:
    # Shift-click sets `ablated` (a trait); "head effects" is a custom message (model.send), which marimo's
    # anywidget host carries too. Both answers come from Python only.
    page = app.page
    page.locator("[data-testid=tab-ablation]").first.click()
    ablation = page.locator("[data-testid=ablation]").first
    x, y = grid_point(page, 1, 2)
    page.keyboard.down("Shift")
    try:
        page.mouse.click(x, y)
    finally:
        page.keyboard.up("Shift")
    page.mouse.move(2, 2)
    page.wait_for_function("el => el.dataset.heads === '1:2'", arg=ablation.element_handle(), timeout=20_000)
    assert page.locator("[data-testid=ablation-predictions] tr[data-token-id]").count() >= 5
    page.locator("[data-testid=ablation-head-effects]").first.click()
    page.wait_for_function(
        "([el, done]) => el.dataset.effects === done", arg=[ablation.element_handle(), f"done {LAYERS}"], timeout=30_000
    )
    shot(page, "marimo-ablation", ablation)


def test_nothing_from_outside_and_no_widget_errors(app: HostPage) -> None:
    # Last: covers everything the page loaded and did above.
    assert outside(app.requests) == [], outside(app.requests)
    assert app.widget_errors() == [], app.widget_errors()


def test_server_log_has_no_traceback(marimo_server: HostServer) -> None:
    log = marimo_server.log_tail(20_000)
    assert "Traceback" not in log and "Error" not in log, log
