"""A widget that writes, in marimo: ``mo.ui.anywidget(attnwidget.show(prompt, generate=N))`` in an app served
by ``marimo run``, opened in Chromium.

The generation's steps and, when writing ends, the recorded pass over prompt + output reach the page from the
widget's background thread (not from a cell run): marimo's anywidget host must forward trait changes made
outside a cell. Checked as a person sees it: every step's chip appears, the status says why it stopped, and the
heatmap and token strip grow to prompt + output; no widget error, no traceback in the server's log.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import JupyterEnv
from tests.browser.hosts import SEQ_LEN, HostPage, HostServer, opened_page, outside, serve_marimo

pytestmark = pytest.mark.browser

STEPS = 12
APP = textwrap.dedent(
    f"""
    import marimo

    app = marimo.App(width="full")


    @app.cell
    def _():
        import marimo as mo

        import attnwidget
        from tests.browser.hosts import PROMPT, tiny_extractor

        g = mo.ui.anywidget(attnwidget.show(PROMPT, model=tiny_extractor(), generate={STEPS}))
        g
        return


    if __name__ == "__main__":
        app.run()
    """
)


@pytest.fixture(scope="module")
def marimo_server(jupyter_env: JupyterEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostServer]:
    # jupyter_env: the repository on PYTHONPATH, offline models.
    with serve_marimo(
        "marimo-generation", APP, tmp_path_factory.mktemp("marimo-generation"), jupyter_env.env
    ) as server:
        yield server


@pytest.fixture(scope="module")
def app(browser: Any, marimo_server: HostServer) -> Iterator[HostPage]:
    def ready(page: Any) -> None:
        page.wait_for_selector("[data-testid=generation]", timeout=90_000)

    with opened_page(browser, marimo_server.url, "marimo-generation", ready) as opened:
        yield opened


def test_the_steps_and_the_recorded_pass_arrive_from_the_writing_thread(app: HostPage) -> None:
    page = app.page
    status = page.locator("[data-testid=generation-status]").first
    page.wait_for_function(
        "el => el.textContent.includes('max_new_tokens reached')", arg=status.element_handle(), timeout=60_000
    )
    assert status.inner_text().startswith(f"wrote {STEPS} tokens")
    assert page.locator("[data-testid=generation-tokens] [data-step]").count() == STEPS
    # The recorded pass over prompt + output replaced the prompt's: the token strip has every token. Looked up
    # afresh on every poll: the pass arriving draws the views again, so an element taken before it is gone
    # (a handle taken too early waited on a detached strip and flaked in CI).
    tokens = page.locator(".attnwidget [data-testid=token-strip] [data-token-index]")
    deadline = time.monotonic() + 30
    while tokens.count() != SEQ_LEN + STEPS and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tokens.count() == SEQ_LEN + STEPS, tokens.count()


def test_nothing_from_outside_and_no_errors(app: HostPage, marimo_server: HostServer) -> None:
    assert outside(app.requests) == [], outside(app.requests)
    assert app.widget_errors() == [], app.widget_errors()
    log = marimo_server.log_tail(20_000)
    assert "Traceback" not in log, log
