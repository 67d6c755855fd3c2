"""Real-browser harness: JupyterLab / Notebook 7 on localhost, driven by headless Chromium (Playwright).

One Jupyter server per kind and one browser per test session. Each notebook gets its own kernel, which is
shut down when the test (or module) that opened it is done, so the two cores of a small machine are not
shared by idle kernels.

The Python side of a notebook is read through a second client attached to the same kernel
(``jupyter_client.BlockingKernelClient`` on the connection file the server wrote), so reading ``w.token``
does not depend on the notebook's UI at all and works the same in Lab and in Notebook 7.

Screenshots and server logs go to ``test-artifacts/`` at the repository root (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SERVER_START_TIMEOUT_S = 90.0
KERNEL_TIMEOUT_S = 120.0

# Settings for the throw-away Lab/Notebook user-settings folder: no virtual scrolling of cells (every
# output stays in the DOM, so locators and canvas reads do not depend on scroll position), and no news
# or update checks (no toast over the notebook, no request the tests did not ask for).
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

KERNEL_SPEC_NAME = "python3"
NOTEBOOK_METADATA = {
    "kernelspec": {"name": KERNEL_SPEC_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"},
    "language_info": {"name": "python"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder drives a browser, whether or not it says so itself."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


# --------------------------------------------------------------------------------------------------------
# Jupyter servers
# --------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JupyterEnv:
    """Throw-away Jupyter folders and the environment a server (and its kernels) runs with."""

    base: Path
    root_dir: Path
    runtime_dir: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory: pytest.TempPathFactory) -> JupyterEnv:
    base = tmp_path_factory.mktemp("jupyter-home")
    dirs = {name: base / name for name in ("config", "data", "ipython", "runtime", "workspaces", "root")}
    for path in dirs.values():
        path.mkdir()
    settings_dir = dirs["config"] / "lab" / "user-settings"
    for rel, value in USER_SETTINGS.items():
        target = settings_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))

    # A kernelspec that names this interpreter explicitly. The venv's own spec says "python", which
    # jupyter_client maps to the server's sys.executable; naming it removes any doubt, and the temp data
    # dir comes first on the Jupyter path so this spec wins.
    spec_dir = dirs["data"] / "kernels" / KERNEL_SPEC_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))

    env = dict(os.environ)
    for key in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTER_TOKEN"):
        env.pop(key, None)
    pythonpath = [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    return JupyterEnv(base=base, root_dir=dirs["root"], runtime_dir=dirs["runtime"], env=env)


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` or ``jupyter notebook`` server."""

    kind: str  # "lab" or "notebook"
    port: int
    token: str
    root_dir: Path
    runtime_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        quoted = urllib.parse.quote(name)
        if self.kind == "lab":
            # A workspace of its own per notebook: Lab does not restore notebooks opened by earlier tests
            # (each of which would start a kernel again).
            workspace = re.sub(r"[^A-Za-z0-9_-]", "-", name)
            return f"{self.base_url}/lab/workspaces/{workspace}/tree/{quoted}?token={self.token}"
        return f"{self.base_url}/notebooks/{quoted}?token={self.token}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Write a notebook of code cells into the server's root folder."""
        import nbformat

        nb = nbformat.v4.new_notebook(metadata=dict(NOTEBOOK_METADATA))
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        path = self.root_dir / name
        nbformat.write(nb, path)
        return path

    def session_for(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for session in self.api("GET", "/api/sessions"):
                if session.get("path") == name and session.get("kernel"):
                    return dict(session)
            if time.monotonic() > deadline:
                raise AssertionError(f"no kernel session for {name!r} after {timeout:.0f} s")
            time.sleep(0.2)

    def shutdown_session(self, name: str) -> None:
        with contextlib.suppress(Exception):
            for session in self.api("GET", "/api/sessions"):
                if session.get("path") == name:
                    self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        with contextlib.suppress(Exception):
            self.api("POST", "/api/shutdown", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Anything left in the server's process group (it was started as a group leader).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _start_server(kind: str, jenv: JupyterEnv) -> JupyterServer:
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    token = secrets.token_hex(16)
    expose = "--LabApp.expose_app_in_browser=True"
    if kind == "notebook":
        expose = "--JupyterNotebookApp.expose_app_in_browser=True"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab" if kind == "lab" else "notebook",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={jenv.root_dir}",
        "--ServerApp.open_browser=False",
        expose,
    ]
    if kind == "lab":
        # The server must not reach out either: no news feed, no PyPI extension manager.
        cmd += ["--LabApp.news_url=", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI runners often run as root
    log_path = ARTIFACTS / f"jupyter-{kind}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd,
        cwd=jenv.root_dir,
        env=jenv.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = JupyterServer(kind, port, token, jenv.root_dir, jenv.runtime_dir, proc, log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {kind} exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status", timeout=2)
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"jupyter {kind} did not answer in {SERVER_START_TIMEOUT_S:.0f} s")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def lab_server(jupyter_env: JupyterEnv) -> Iterator[JupyterServer]:
    _require_chromium()
    server = _start_server("lab", jupyter_env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def notebook_server(jupyter_env: JupyterEnv) -> Iterator[JupyterServer]:
    _require_chromium()
    server = _start_server("notebook", jupyter_env)
    yield server
    server.stop()


# --------------------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------------------


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser tests need Debian's chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


# --------------------------------------------------------------------------------------------------------
# Kernel access from the test process
# --------------------------------------------------------------------------------------------------------


class KernelError(AssertionError):
    pass


class KernelHandle:
    """A second client on a notebook's kernel: run code there, read values back as JSON."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=KERNEL_TIMEOUT_S)

    def run(self, code: str, timeout: float = KERNEL_TIMEOUT_S) -> str:
        """Run ``code`` in the kernel (queued after whatever it is doing) and return its stdout."""
        stdout: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind = msg["header"]["msg_type"]
            content = msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content.get("traceback", [])) or content.get("evalue", ""))

        reply = self.client.execute_interactive(
            code, store_history=False, timeout=timeout, output_hook=hook, allow_stdin=False
        )
        if errors or reply["content"].get("status") != "ok":
            raise KernelError(f"kernel error running {code!r}:\n{_strip_ansi(''.join(errors))}")
        return "".join(stdout)

    def value(self, expr: str, timeout: float = KERNEL_TIMEOUT_S) -> Any:
        """The JSON value of a Python expression evaluated in the kernel."""
        marker = "@@attnwidget-test@@"
        out = self.run(f"import json as _j\nprint({marker!r} + _j.dumps({expr}))", timeout=timeout)
        line = [ln for ln in out.splitlines() if ln.startswith(marker)][-1]
        return json.loads(line[len(marker) :])

    def wait_value(self, expr: str, expected: Any, timeout: float = 20.0) -> Any:
        """Poll ``expr`` until it equals ``expected`` (messages from the page arrive asynchronously)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.value(expr)
            if value == expected:
                return value
            time.sleep(0.2)
        raise AssertionError(f"{expr} is {value!r} in the kernel, expected {expected!r} within {timeout} s")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --------------------------------------------------------------------------------------------------------
# A notebook open in a page
# --------------------------------------------------------------------------------------------------------

_APP_READY_JS = """
() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}
"""

# Done when every code cell has an execution count and the kernel is idle; an error output ends the wait
# early (run-all stops at the first error, so later cells would never get a count).
_RUN_STATE_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  for (const cell of cells) {
    const outputs = cell.model.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const out = outputs.get(i);
      if (out.type === 'error') {
        const tb = (out.toJSON().traceback || []).join('\\n');
        return {done: true, error: tb || String(out.toJSON().evalue)};
      }
    }
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const counted = cells.every(c => c.model.executionCount !== null);
  return {done: counted && !!kernel && kernel.status === 'idle', error: null};
}
"""

# Statistics of every canvas at or under an element: size and how many distinct colours it holds
# (sampled on a grid of at most ~64k pixels), plus a cheap hash of the pixels to detect redraws.
CANVAS_STATS_JS = """
(el) => {
  const canvases = el.tagName === 'CANVAS' ? [el] : Array.from(el.querySelectorAll('canvas'));
  return canvases.map(c => {
    if (!c.width || !c.height) return {width: c.width, height: c.height, distinct: 0, opaque: 0, hash: 0};
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const step = Math.max(1, Math.floor(Math.sqrt((c.width * c.height) / 65536)));
    const colours = new Set();
    let opaque = 0, hash = 0;
    for (let y = 0; y < c.height; y += step) {
      for (let x = 0; x < c.width; x += step) {
        const i = (y * c.width + x) * 4;
        const rgba = (data[i] << 24) ^ (data[i + 1] << 16) ^ (data[i + 2] << 8) ^ data[i + 3];
        if (colours.size < 4096) colours.add(rgba);
        if (data[i + 3] > 0) opaque++;
      }
    }
    for (let i = 0; i < data.length; i += 1) hash = (Math.imul(hash, 31) + data[i]) | 0;
    return {width: c.width, height: c.height, distinct: colours.size, opaque, hash};
  });
}
"""


@dataclass
class OpenNotebook:
    """A notebook opened in a Chromium page, with a kernel client on its kernel."""

    server: JupyterServer
    page: Any
    name: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    _kernel: KernelHandle | None = None

    def open(self) -> None:
        self.page.goto(self.server.notebook_url(self.name))
        try:
            self.page.wait_for_function(_APP_READY_JS, timeout=KERNEL_TIMEOUT_S * 1000, polling=200)
        except Exception:
            self.screenshot("open-failed")
            raise

    @property
    def kernel(self) -> KernelHandle:
        if self._kernel is None:
            session = self.server.session_for(self.name)
            connection_file = self.server.runtime_dir / f"kernel-{session['kernel']['id']}.json"
            if not connection_file.exists():
                raise AssertionError(f"connection file {connection_file} missing")
            self._kernel = KernelHandle(connection_file)
        return self._kernel

    def run_all(self, timeout: float = KERNEL_TIMEOUT_S) -> None:
        """Run every cell through the UI's own command and wait for the kernel to finish them."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.wait_executed(timeout)

    def wait_executed(self, timeout: float = KERNEL_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.page.evaluate(_RUN_STATE_JS)
            if state["error"]:
                self.screenshot("cell-error")
                raise AssertionError(f"a cell of {self.name} failed:\n{_strip_ansi(state['error'])}")
            if state["done"]:
                return
            if time.monotonic() > deadline:
                self.screenshot("run-timeout")
                raise AssertionError(f"cells of {self.name} still running after {timeout:.0f} s")
            time.sleep(0.2)

    def cell(self, index: int) -> Any:
        """The index-th code cell (0-based) as a Playwright locator."""
        return self.page.locator(".jp-Notebook .jp-CodeCell").nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea")

    def wait_for(self, selector: str, scope: Any = None, timeout: float = 60.0) -> Any:
        locator = (scope or self.page).locator(selector).first
        try:
            locator.wait_for(state="attached", timeout=timeout * 1000)
        except Exception:
            self.screenshot("wait-" + re.sub(r"[^A-Za-z0-9]+", "-", selector).strip("-"))
            raise
        return locator

    def canvas_stats(self, locator: Any) -> list[dict[str, Any]]:
        return list(locator.evaluate(CANVAS_STATS_JS))

    def screenshot(self, label: str, locator: Any = None) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.server.kind}-{Path(self.name).stem}-{label}")
        path = ARTIFACTS / f"{stem}.png"
        with contextlib.suppress(Exception):
            if locator is not None:
                locator.screenshot(path=str(path), timeout=10_000)
            else:
                self.page.screenshot(path=str(path), full_page=True, timeout=10_000)
        return path

    def widget_errors(self) -> list[str]:
        """Uncaught page errors that involve widget code (anywidget's ESM runs from blob: URLs, extensions
        from /extensions/). Errors thrown purely inside the app's own bundles are left out: Notebook 7.6
        throws one at start-up ("reading 'schema'") with no widget on the page at all."""
        return [e for e in self.page_errors if "blob:" in e or "/extensions/" in e or "\n" not in e.strip()]

    def external_requests(self) -> list[str]:
        """Requests the page made to anything but this machine."""
        outside = []
        for url in self.requests:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme in ("data", "blob", "about"):
                continue
            if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
                outside.append(url)
        return outside

    def close(self) -> None:
        if self._kernel is not None:
            self._kernel.close()
        with contextlib.suppress(Exception):
            self.page.context.close()
        self.server.shutdown_session(self.name)


NotebookOpener = Callable[..., OpenNotebook]


def open_notebook(
    browser: Any, server: JupyterServer, name: str, cells: list[str], viewport_width: int = 1280
) -> OpenNotebook:
    """Write ``cells`` as notebook ``name``, open it in a fresh browser context and wait for its kernel."""
    server.write_notebook(name, cells)
    context = browser.new_context(viewport={"width": viewport_width, "height": 1200})
    context.set_default_timeout(30_000)
    page = context.new_page()
    nb = OpenNotebook(server=server, page=page, name=name)
    # On the context, not the page: that also sees requests from workers.
    context.on("request", lambda request: nb.requests.append(request.url))
    page.on("pageerror", lambda error: nb.page_errors.append(f"{error}\n{error.stack or ''}"))
    page.on("console", lambda msg: nb.console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        nb.open()
    except Exception:
        nb.close()
        raise
    return nb


@pytest.fixture
def lab_notebook(browser: Any, lab_server: JupyterServer, request: pytest.FixtureRequest) -> Iterator[NotebookOpener]:
    """Open notebooks in JupyterLab for one test; their pages and kernels are closed afterwards."""
    yield from _opener(browser, lab_server, request)


@pytest.fixture
def classic_notebook(
    browser: Any, notebook_server: JupyterServer, request: pytest.FixtureRequest
) -> Iterator[NotebookOpener]:
    """Open notebooks in Notebook 7 for one test."""
    yield from _opener(browser, notebook_server, request)


@pytest.fixture(scope="module")
def lab_notebook_module(browser: Any, lab_server: JupyterServer) -> Iterator[NotebookOpener]:
    """Like ``lab_notebook``, for notebooks shared by the tests of a module (one kernel, one page)."""
    yield from _opener(browser, lab_server, None)


@pytest.fixture(scope="module")
def classic_notebook_module(browser: Any, notebook_server: JupyterServer) -> Iterator[NotebookOpener]:
    yield from _opener(browser, notebook_server, None)


def _opener(browser: Any, server: JupyterServer, request: Any) -> Iterator[NotebookOpener]:
    opened: list[OpenNotebook] = []

    def opener(name: str, cells: list[str], **kwargs: Any) -> OpenNotebook:
        nb = open_notebook(browser, server, name, cells, **kwargs)
        opened.append(nb)
        return nb

    yield opener
    report = getattr(request.node, "rep_call", None) if request is not None else None
    for nb in opened:
        if report is not None and report.failed:
            nb.screenshot("failure")
        nb.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Remember each phase's report on the item so that fixtures can screenshot failures.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
