"""Real-browser tests: Playwright (Python) drives Debian's chromium against a real
``jupyter lab`` on 127.0.0.1, with every Jupyter folder in a temporary directory.

No browser can be downloaded here: Playwright launches ``/usr/bin/chromium`` (``make test``
installs it with apt when missing). Without chromium or playwright these tests skip.
Screenshots go to ``tests/ui/artifacts/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60.0


def _chromium() -> str | None:
    found = os.environ.get("NLME_LAB_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    return next((path for path in CHROMIUM_CANDIDATES if Path(path).is_file()), None)


@dataclass(frozen=True)
class JupyterLab:
    """A running ``jupyter lab``: its base URL, token, notebook and workspace folders."""

    url: str
    token: str
    root: Path
    log: Path  # the server's output
    workspaces: Path  # the saved layouts: which documents the next page opens again

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def api(self, path: str):
        """GET a server REST endpoint as JSON."""
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=5) as response:
            return json.load(response)

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"

    def start_clean(self) -> None:
        """Before a test file's page: forget the documents earlier pages left open and shut
        their kernels down. JupyterLab reopens every document of the saved workspace, in hidden
        tabs; a notebook whose kernel still runs renders its widgets there, so another file's
        Lab adds its Bokeh documents to this page (the layout test once counted six spaghetti
        plots for four: a restored one-endpoint Lab's two)."""
        for saved in self.workspaces.glob("*"):
            saved.unlink()
        for session in self.api("/api/sessions"):
            request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}", method="DELETE",
                                             headers={"Authorization": f"token {self.token}"})
            urllib.request.urlopen(request, timeout=30).close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quiet_lab_settings(settings: Path) -> None:
    """No news or update checks (no network here), no notification asking about them."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def _wait_until_up(lab: JupyterLab, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            lab.api("/api/status")
            return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")
    path = _chromium()
    if path is None:
        pytest.skip("chromium is not installed (`apt-get install -y chromium`; `make test` does it when run as root)")
    return path


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory, chromium_path) -> JupyterLab:
    """``jupyter lab`` on 127.0.0.1 with runtime, data, config, settings and workspaces in a
    temporary folder; stopped (with its kernels) at the end, also after an interruption."""
    pytest.importorskip("jupyterlab", reason="the jupyter extra is not installed")
    with running_jupyter_lab(tmp_path_factory.mktemp("jupyter")) as lab:
        yield lab


@contextlib.contextmanager
def running_jupyter_lab(base: Path, extra_args: tuple[str, ...] = (), base_url: str = "/", *,
                        python: str = sys.executable, environ: dict | None = None):
    """A ``jupyter lab`` server with every Jupyter folder under ``base`` (the notebooks in
    ``base/notebooks``), ``extra_args`` added to its command line, served under ``base_url``,
    run by ``python`` in ``environ`` (default: this process's); stopped on exit."""
    root = base / "notebooks"
    settings = base / "settings"
    for folder in (root, base / "runtime", base / "data", base / "config", base / "workspaces", base / "ipython"):
        folder.mkdir()
    _quiet_lab_settings(settings)
    token = uuid.uuid4().hex
    port = _free_port()
    env = {
        **(os.environ if environ is None else environ),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    command = [
        python, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.base_url={base_url}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands from the test
        *extra_args,
    ]  # fmt: skip
    log = base / "jupyter.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab = JupyterLab(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", token, root, log, base / "workspaces")
    try:
        _wait_until_up(lab, process, log)
        yield lab
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its kernels (its own process group, started above)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# The page's own view: the app is exposed, the notebook is the current widget, its kernel connected.
NOTEBOOK_CONNECTED = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return Boolean(panel && panel.content && kernel && kernel.connectionStatus === "connected"
    && kernel.status === "idle");
}"""
# Run All was taken: some cell shows "[*]" (queued or running) or an execution count.
RUN_ALL_TAKEN = """() => Array.from(document.querySelectorAll(
  '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt')).some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def _wait_for_notebook_kernel(lab: JupyterLab, notebook: str, timeout: float = 60.0) -> None:
    """The toolbar says idle before the kernel is connected, and a Run All then is lost: wait
    until the server reports this notebook's kernel connected and idle (another notebook's
    kernel, open from an earlier test file, does not count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sessions = {s["path"]: s["kernel"]["id"] for s in lab.api("/api/sessions")}
            kernels = {k["id"]: k for k in lab.api("/api/kernels")}
        except (OSError, KeyError, TypeError):  # the server is busy starting the kernel: ask again
            sessions, kernels = {}, {}
        kernel = kernels.get(sessions.get(notebook, ""), {})
        if kernel.get("connections", 0) >= 1 and kernel.get("execution_state") == "idle":
            return
        time.sleep(0.25)
    raise AssertionError(f"the kernel of {notebook} was not connected within {timeout:.0f} s: "
                         f"{lab.api('/api/sessions')}")


def open_and_run_all(page, lab: JupyterLab, notebook: str, attempts: int = 3) -> None:
    """Open ``notebook`` in the page and run all its cells. A Run All sent in the moment between
    the kernel's connection and the notebook's readiness is dropped without a trace, so it is
    sent again when no cell has started within 15 s."""
    page.goto(lab.lab_url(notebook))
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for()  # not a restored one
    _wait_for_notebook_kernel(lab, notebook)
    page.wait_for_function(NOTEBOOK_CONNECTED)
    for attempt in range(attempts):
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(RUN_ALL_TAKEN, timeout=15_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise


@pytest.fixture(scope="session")
def open_notebook():
    """``with open_notebook(browser, jupyter_lab, artifacts, notebook, ...) as page``: a page
    with the notebook open and all its cells run (``notebook_page``)."""
    return notebook_page


@contextlib.contextmanager
def notebook_page(browser, lab: JupyterLab, artifacts: Path, notebook: str, *, prefix: str,
                  viewport: tuple[int, int], timeout_ms: int, ready=None):
    """A page with ``notebook`` open and run (``ready(page)`` then waits for what the tests need).
    On failure: a screenshot ``<prefix>_0_setup_failed.png`` and an error with the browser
    console and the server log."""
    lab.start_clean()
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        open_and_run_all(page, lab, notebook)
        if ready is not None:
            ready(page)
        panels = page.locator(".jp-NotebookPanel").count()
        assert panels == 1, f"{panels} notebooks open: only {notebook} should be (start_clean)"
    except Exception as err:
        page.screenshot(path=artifacts / f"{prefix}_0_setup_failed.png")
        messages = "\n".join(console[-30:])
        raise AssertionError(f"opening {notebook} failed: {err}\n--- browser console ---\n{messages}\n"
                             f"--- jupyter lab ---\n{lab.log_tail()}") from err
    try:
        yield page
    finally:
        context.close()


LAB_OUTPUT = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"  # the open notebook's outputs


@contextlib.contextmanager
def lab_notebook(browser, lab: JupyterLab, artifacts: Path, name: str, cells: list[str], *,
                 viewport: tuple[int, int] = (1280, 1000), timeout_ms: int = 60_000, ready_timeout_ms: int = 120_000):
    """The page of a notebook ``<name>.ipynb`` made of ``cells`` (the first builds an ``nl.Lab``),
    run until the Lab's Fit button is on the page; screenshots are prefixed ``name``. On exit the
    notebook is saved, its kernel shut down and its tab closed, so the next module starts clean."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lab.root / f"{name}.ipynb")

    def ready(page):
        page.locator(f"{LAB_OUTPUT} .nlme-fit-start").wait_for(state="attached", timeout=ready_timeout_ms)

    with notebook_page(browser, lab, artifacts, f"{name}.ipynb", prefix=name, viewport=viewport,
                       timeout_ms=timeout_ms, ready=ready) as page:
        yield page
        page.evaluate("""async () => { const app = window.jupyterapp;
            await app.commands.execute('docmanager:save');
            await app.commands.execute('kernelmenu:shutdown');
            await app.commands.execute('application:close'); }""")
        time.sleep(2.0)


def click_lab_tab(page, title: str) -> None:
    """Select the Lab's tab titled exactly ``title``."""
    import re

    page.locator(f"{LAB_OUTPUT} .lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()
