"""AttentionWidget in a Voilà dashboard, as a new user meets it: a notebook that displays the widget, served
by ``voila`` (no browser of its own), opened in Chromium.

Voilà runs the notebook in a kernel of its own and shows only the outputs, with its own widget manager.
What is checked is what a person sees: the views draw; a click on a head in the head grid reaches the
kernel and comes back, which only a live kernel can do: a Python observer writes the new head into a label
under the widget, and the heatmap gets the head's full map from Python (without a kernel it stays on the
head's thumbnail, "preview", as the html-manager test shows); a pinned token gets its logit lens from
Python; nothing the widget needs comes from outside this machine.

Voilà 0.5.13's own page template (templates/lab/index.html.j2) links Font Awesome's CSS from
cdn.jsdelivr.net. That is Voilà's, not the widget's: those two requests are answered with an error here (as
on a machine offline) and are the only requests off this machine the page may make.
"""

from __future__ import annotations

import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import NOTEBOOK_METADATA, JupyterEnv, _free_port
from tests.browser.hosts import (
    LAYERS,
    HostPage,
    HostServer,
    click_token,
    grid_point,
    lens_state,
    opened_page,
    outside,
    shot,
    wait_views_drawn,
)

pytestmark = pytest.mark.browser

NOTEBOOK = textwrap.dedent(
    """
    import ipywidgets
    from IPython.display import display

    from tests.browser.hosts import tiny_widget

    w = tiny_widget()
    heard = ipywidgets.Label("kernel heard: nothing yet")
    heard.add_class("kernel-heard")


    def _heard(_change):
        heard.value = f"kernel heard: layer {w.layer}, head {w.head}, token {w.token}"


    w.observe(_heard, names=["layer", "head", "token"])
    display(w, heard)
    """
).strip()
# The only requests off this machine allowed: Voilà's template's stylesheets (see the module docstring).
VOILA_TEMPLATE_CDN = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@"


@pytest.fixture(scope="module")
def voila_server(jupyter_env: JupyterEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostServer]:
    import nbformat

    folder = tmp_path_factory.mktemp("voila")
    nb = nbformat.v4.new_notebook(metadata=dict(NOTEBOOK_METADATA))
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK)]
    nbformat.write(nb, folder / "dashboard.ipynb")
    port = _free_port()
    cmd = [sys.executable, "-m", "voila", "dashboard.ipynb", "--no-browser", f"--port={port}"]
    cmd += ["--Voila.ip=127.0.0.1"]
    # jupyter_env: the repository on PYTHONPATH, offline models, a kernelspec naming this interpreter.
    server = HostServer("voila", cmd, cwd=folder, env=jupyter_env.env, port=port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dashboard(browser: Any, voila_server: HostServer) -> Iterator[HostPage]:
    # Voilà runs the notebook before it sends the page (hence the long first load); the views then need only
    # the front-end. Voilà's template's CDN stylesheets fail at once, as offline.
    def ready(page: Any) -> None:
        wait_views_drawn(page, page, "voila", timeout=60)

    with opened_page(browser, voila_server.url, "voila-page", ready, abort_outside=True, goto_timeout=90) as opened:
        yield opened


def heard(page: Any) -> str:
    return str(page.locator(".kernel-heard").first.inner_text())


def test_views_draw(dashboard: HostPage) -> None:
    page = dashboard.page
    assert heard(page) == "kernel heard: nothing yet"
    assert page.locator("[data-testid=heatmap]").first.get_attribute("data-shown") == "full 0 0"
    # A live comm: no view says it needs a kernel.
    assert page.locator(".jupyter-widgets-disconnected").count() == 0
    shot(page, "voila-views")


def test_head_click_reaches_the_kernel(dashboard: HostPage) -> None:
    page = dashboard.page
    heatmap = page.locator("[data-testid=heatmap]").first
    x, y = grid_point(page, 2, 3)
    page.mouse.click(x, y)
    page.mouse.move(2, 2)
    # The observer in the kernel saw the click and changed the label: a round trip through the kernel.
    label = page.locator(".kernel-heard").first
    page.wait_for_function("el => el.innerText.includes('layer 2, head 3')", arg=label.element_handle(), timeout=20_000)
    # The kernel also sent the head's full map; a page without one stays on "preview 2 3".
    page.wait_for_function("el => el.dataset.shown === 'full 2 3'", arg=heatmap.element_handle(), timeout=20_000)
    header = heatmap.locator("xpath=ancestor::section[1]").inner_text()
    assert "Layer 2 · head 3" in header and "needs a running kernel" not in header, header
    shot(page, "voila-head-2-3")


def test_token_click_gets_its_lens_from_the_kernel(dashboard: HostPage) -> None:
    page = dashboard.page
    click_token(page, 6)
    page.mouse.move(2, 2)
    lens = page.locator("[data-testid=logit-lens]").first
    page.wait_for_function(
        "el => el.dataset.position === '6' && el.dataset.state === 'fresh'", arg=lens.element_handle(), timeout=20_000
    )
    label = page.locator(".kernel-heard").first
    page.wait_for_function("el => el.innerText.includes('token 6')", arg=label.element_handle(), timeout=20_000)
    assert heard(page) == "kernel heard: layer 2, head 3, token 6"
    state = lens_state(page)
    assert "computing" not in state["text"] and "running kernel" not in state["text"], state
    assert page.locator("[data-testid=logit-lens] tbody tr").count() == LAYERS + 1
    shot(page, "voila-token-pinned")


def test_nothing_of_the_widget_from_outside(dashboard: HostPage) -> None:
    # Last: covers everything the page loaded and did above.
    off = outside(dashboard.requests)
    assert all(url.startswith(VOILA_TEMPLATE_CDN) for url in off), off
    paths = {urllib.parse.urlparse(url).path for url in off}
    assert paths <= {
        "/npm/@fortawesome/fontawesome-free@%5E5/css/all.min.css",
        "/npm/@fortawesome/fontawesome-free@%5E5/css/v4-shims.min.css",
    }, paths
    assert dashboard.widget_errors() == [], dashboard.widget_errors()
