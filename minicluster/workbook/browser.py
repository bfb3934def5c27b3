"""JupyterLab in a headless Chromium: what the browser test checks and what regeneration saves.

Two users: ``tests/test_browser.py`` (every notebook renders, Run All says "not attempted") and
``python -m minicluster.workbook.notebooks`` (which saves each notebook once through JupyterLab, so
the file holds what JupyterLab itself writes: the SVG its Mermaid renderer caches for each diagram.
Without it, merely opening a notebook would mark it modified and show up in ``git status``; the
server extension :mod:`minicluster.workbook.labext` covers a notebook opened second in a page).

Chromium and its driver are Debian's ``chromium`` and ``chromium-driver``; selenium drives them.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MiniclusterError

#: JupyterLab settings for automation: every cell in the page, nothing saved unless asked, no news.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


class BrowserUnavailable(MiniclusterError):
    """Chromium, its driver, selenium or JupyterLab is missing; the message says which and how to install it."""


def missing() -> str | None:
    """Why the browser cannot run here, or None when everything it needs is installed."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if chromium() is None or shutil.which("chromedriver") is None:
        return "Chromium and its driver are not installed (Debian/Ubuntu: apt-get install chromium chromium-driver)"
    return None


def chromium() -> str | None:
    return next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab(root: Path, env: dict[str, str] | None = None, settings: Path | None = None) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root`` on a free local port; yields ``(url, token)`` and stops it after."""
    settings = settings or root / ".lab-settings"
    for plugin, values in SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), "minicluster-browser"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: open and save as the menus do
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root; JupyterLab refuses to without it
    log_path = settings / "lab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {}),
                                                                "JUPYTERLAB_SETTINGS_DIR": str(settings)}
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:  # wait for the server to answer, for a bounded time
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise BrowserUnavailable(f"JupyterLab did not start: {log_path.read_text()[-2000:]}") from None
                    time.sleep(0.2)  # polling a server that is starting up, not synchronising threads
            yield url, token
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


@contextmanager
def chrome() -> Iterator[object]:
    """A headless Chromium driven by selenium (Debian's chromedriver)."""
    reason = missing()
    if reason:
        raise BrowserUnavailable(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, timeout: float, what: str):
    """``condition(driver)`` once it is truthy, or AssertionError naming ``what`` after ``timeout`` s."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


#: The notebook in front (Lab keeps earlier ones as hidden tabs) and what its outputs show.
PAGE_STATE = """
const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'))
  || document.createElement('div');
const mermaid = [...panel.querySelectorAll('.jp-RenderedMermaid')];
const tab = [...document.querySelectorAll('.lm-TabBar-tab.lm-mod-current')].find(t => t.closest('#jp-main-dock-panel'));
return {
  cells: panel.querySelectorAll('.jp-Cell').length,
  // JupyterLab 4.6 draws a diagram as an SVG, inline or as an <img> of an SVG data URL
  mermaid: mermaid.length,
  mermaidWithSvg: mermaid.filter(m => m.querySelector('svg, img[src^="data:image/svg+xml"]')).length,
  mermaidErrors: mermaid.filter(m => m.classList.contains('jp-mod-warning')).map(m => m.innerText.slice(0, 300)),
  images: [...panel.querySelectorAll('.jp-RenderedImage img')].map(i => i.complete && i.naturalWidth > 0),
  errors: [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
           + ' .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')].map(e => e.innerText.slice(0, 300)),
  dirty: tab ? tab.classList.contains('jp-mod-dirty') : null,
};
"""


def stored(path: Path, mime: str) -> int:
    """How many outputs of ``path`` hold ``mime``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(mime in o.get("data", {}) for c in notebook["cells"] for o in c.get("outputs", []))


def open_notebook(driver, url: str, token: str, relative: str, diagrams: int) -> dict:
    """Open ``relative`` (a path under Lab's root) as the first thing of a fresh page and workspace, and
    wait for its ``diagrams`` Mermaid outputs to render.

    Fresh, because JupyterLab numbers the SVGs it draws per page (``jp-mermaid-0``, ``-1``...): a
    notebook's cached SVGs match what Lab draws when it is the first notebook opened, as a learner does.
    """
    workspace = "w" + "".join(c if c.isalnum() else "-" for c in relative)
    driver.get(f"{url}/lab/workspaces/{workspace}/tree/{relative}?reset&token={token}")
    return wait(
        driver,
        lambda d: (
            (s := d.execute_script(PAGE_STATE))["cells"]
            and s["mermaid"] >= diagrams
            and s["mermaidWithSvg"] + len(s["mermaidErrors"]) >= diagrams
            and s
        ),
        60,
        f"{relative} to open and draw its {diagrams} diagrams",
    )


def open_in_page(driver, relative: str) -> None:
    """Open ``relative`` in the page already showing, as a double-click in the file browser does."""
    driver.execute_script("window.jupyterapp.commands.execute('docmanager:open', {path: arguments[0]})", relative)


def save_in_page(driver) -> None:
    """Save the notebook in front, as File → Save does."""
    driver.execute_script("window.jupyterapp.commands.execute('docmanager:save')")


def save_through_lab(paths: list[Path]) -> None:
    """Open each notebook in JupyterLab and save it, so the file holds what JupyterLab writes."""
    with tempfile.TemporaryDirectory(prefix="minicluster-lab-") as settings:
        with lab(paths[0].parent, settings=Path(settings)) as (url, token), chrome() as driver:
            for path in paths:
                _save(driver, url, token, path)


def _save(driver, url: str, token: str, path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    diagrams = stored(path, "text/vnd.mermaid")
    open_notebook(driver, url, token, path.name, diagrams)
    # The renderer caches each diagram's SVG in the notebook once drawn, which marks it modified: wait
    # for that, save, and wait for the file to hold every diagram's SVG.
    try:
        wait(driver, lambda d: d.execute_script(PAGE_STATE)["dirty"] or not diagrams, 15, f"{path.name} drawn")
    except AssertionError:
        if stored(path, "image/svg+xml") >= diagrams:
            return  # saved before, and JupyterLab drew the very same SVG: nothing to write
        raise
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    wait(
        driver,
        lambda d: d.execute_script(PAGE_STATE)["dirty"] is False and stored(path, "image/svg+xml") >= diagrams,
        30,
        f"{path.name} saved with its {diagrams} diagrams' SVG",
    )
