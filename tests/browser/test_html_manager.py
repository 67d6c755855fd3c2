"""The widget rendered by @jupyter-widgets/html-manager, offline, from embedded widget state: the path of
static notebook pages (nbconvert's HTML, `ipywidgets.embed`), and the manager VS Code's notebook renderer
builds on.

The page is what `ipywidgets.embed.embed_data(views=[...], drop_defaults=False)` describes (widget state
and view tags) plus one script: html-manager 1.0 and anywidget's own front-end, both from npm, bundled
here by esbuild (`npm run build:html-manager-page` → tests/browser/html_manager/build/, git-ignored; see
tests/browser/html_manager/page.ts). The page forbids itself the network and eval (export_html's CSP) and
opens offline. There is no kernel behind it: the views must draw from the state, and the ones that need
the kernel must say so instead of waiting.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from attnwidget.output.export import CSP, json_for_script
from tests.browser.conftest import REPO_ROOT
from tests.browser.hosts import (
    LAYERS,
    click_token,
    grid_point,
    hover_token,
    lens_state,
    outside,
    shot,
    tiny_widget,
    wait_views_drawn,
)

pytestmark = pytest.mark.browser

BUNDLE = REPO_ROOT / "tests" / "browser" / "html_manager" / "build" / "page.js"
PINNED = 4


@pytest.fixture(scope="module")
def bundle() -> str:
    """html-manager + anywidget's front-end, built from node_modules (about a second)."""
    result = subprocess.run(
        ["npm", "run", "--silent", "build:html-manager-page"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and BUNDLE.is_file(), f"bundling failed (npm ci first?):\n{result.stderr}"
    return BUNDLE.read_text(encoding="utf-8")


def embed_page(widgets: dict[str, Any], bundle: str, drop_defaults: bool = False) -> str:
    """One page with the widgets' state and a view tag each, under a heading with its name. Only these
    widgets' state (`dependency_state`): embed_data's default is every widget the process holds."""
    from ipywidgets.embed import dependency_state, embed_data

    views = list(widgets.values())
    state = dependency_state(views, drop_defaults=drop_defaults)
    data = embed_data(views=views, drop_defaults=drop_defaults, state=state)
    tags = "".join(
        f'<h2>{name}</h2>\n<script type="application/vnd.jupyter.widget-view+json">{json_for_script(spec)}</script>\n'
        for name, spec in zip(widgets, data["view_specs"])
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        "<title>attnwidget in html-manager</title></head>\n<body>\n"
        f'<script type="application/vnd.jupyter.widget-state+json">{json_for_script(data["manager_state"])}</script>\n'
        f"{tags}<script>{bundle}</script>\n</body></html>\n"
    )


class StaticPage:
    """A page opened from file:// in an offline context, with what it requested and reported."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1300})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("() => document.body.dataset.rendered", timeout=30_000)
        self.rendered = str(self.page.evaluate("() => document.body.dataset.rendered"))

    def widget(self, index: int) -> Any:
        return self.page.locator(".widget-subarea").nth(index)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def page(browser: Any, bundle: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # The same widget twice: one saved with a token pinned and another head selected, one untouched.
    pinned = tiny_widget(token=PINNED, layer=1, head=2)
    plain = tiny_widget()
    path = tmp_path_factory.mktemp("html-manager") / "page.html"
    path.write_text(embed_page({"pinned": pinned, "untouched": plain}, bundle), encoding="utf-8")
    opened = StaticPage(browser, path)
    yield opened
    shot(opened.page, "html-manager-page")
    opened.close()


def test_every_view_draws_from_the_embedded_state(page: Any) -> None:
    assert page.rendered == "yes", page.rendered
    for index, name in enumerate(("pinned", "untouched")):
        wait_views_drawn(page.page, page.widget(index), f"html-manager-{name}")
    pinned = page.widget(0)
    assert pinned.locator("[data-testid=heatmap]").get_attribute("data-shown") == "full 1 2"
    lens = lens_state(pinned)
    assert (lens["position"], lens["state"]) == (str(PINNED), "fresh"), lens
    assert pinned.locator("[data-testid=logit-lens] tbody tr").count() == LAYERS + 1
    shot(page.page, "html-manager-pinned", pinned)
    # The mark kernel.ts reads: ipywidgets flags a view whose model has no live comm.
    assert page.page.locator(".jupyter-widgets-disconnected").count() == 2


def test_hover_says_the_lens_needs_a_kernel_instead_of_computing(page: Any) -> None:
    untouched = page.widget(1)
    hover_token(untouched, 3)
    page.page.wait_for_timeout(300)
    lens = lens_state(untouched)
    assert lens["state"] == "empty" and "computing" not in lens["text"], lens
    assert "running kernel" in lens["text"], lens
    shot(page.page, "html-manager-lens-hover", untouched.locator("[data-testid=logit-lens]").locator("xpath=.."))

    # Pinning another token keeps the saved lens on screen, marked as not the one asked for.
    pinned = page.widget(0)
    click_token(pinned, 7)
    page.page.wait_for_timeout(300)
    lens = lens_state(pinned)
    assert (lens["position"], lens["state"]) == (str(PINNED), "stale"), lens
    assert "#7 is not in the saved state" in lens["text"] and "computing" not in lens["text"], lens
    click_token(pinned, 7)  # unpin
    page.page.mouse.move(2, 2)


def test_another_head_says_its_full_map_needs_a_kernel(page: Any) -> None:
    pinned = page.widget(0)
    x, y = grid_point(pinned, 2, 3)
    page.page.mouse.click(x, y)
    page.page.mouse.move(2, 2)
    heatmap = pinned.locator("[data-testid=heatmap]")
    page.page.wait_for_function(
        "el => el.dataset.shown === 'preview 2 3'", arg=heatmap.element_handle(), timeout=10_000
    )
    header = heatmap.locator("xpath=ancestor::section[1]").inner_text()
    assert "needs a running kernel" in header and "loading" not in header, header
    shot(page.page, "html-manager-other-head", heatmap.locator("xpath=ancestor::section[1]"))


def test_page_stays_offline_and_quiet(page: Any) -> None:
    # Last: covers everything the page loaded and did above.
    assert page.errors == [], page.errors
    assert page.console == [], page.console  # a CSP violation would be reported here
    assert outside(page.requests) == [], outside(page.requests)
    assert all(url.startswith(("file:", "blob:")) for url in page.requests), page.requests


def test_default_embed_drops_what_anywidget_needs(browser: Any, bundle: str, tmp_path: Path) -> None:
    """`embed_data`'s default, drop_defaults=True, leaves out every trait still at its Python default:
    `_view_name` (anywidget's front-end has no default for it), `_anywidget_id` (the CSS is then not
    loaded) and the selection (layer 0, head 0, no token). The page then shows nothing: embed with
    ``drop_defaults=False`` (the README says so)."""
    from ipywidgets.embed import embed_data

    widget = tiny_widget()
    state = embed_data(views=[widget])["manager_state"]["state"][widget.model_id]["state"]
    assert {"_view_name", "_anywidget_id", "layer", "head", "token"}.isdisjoint(state), sorted(state)
    assert {"_esm", "_css"} <= set(state)  # declared traits, not anywidget's defaults: kept

    path = tmp_path / "dropped.html"
    path.write_text(embed_page({"dropped": widget}, bundle, drop_defaults=True), encoding="utf-8")
    opened = StaticPage(browser, path)
    try:
        opened.page.wait_for_timeout(500)
        assert opened.page.locator("[data-testid]").count() == 0
        assert any("Class null not found" in text for text in opened.console), json.dumps(opened.console)
    finally:
        opened.close()
