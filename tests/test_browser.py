"""What a learner sees: every notebook opened in JupyterLab in a real (headless) Chromium.

nbval compares text; this looks at the page. Each notebook, as committed, must show every Mermaid
diagram as a picture (not JupyterLab's error box), every stored plot as an image, and no error output.
Then one notebook is run top to bottom in the browser's kernel against the exercises as shipped, and
every check cell must say "not attempted yet".

JupyterLab runs on a free local port over a copy of ``notebooks/`` (nothing it writes can touch the
committed files), with windowing off (every cell in the page) and autosave off. Chromium and its
driver are Debian's (``chromium``, ``chromium-driver``); on a machine without them these tests skip
with the reason, and CI (``MINICLUSTER_REQUIRE_BROWSER=1``, set by ``.ci/run``) turns that skip into a
failure. On failure a screenshot is saved under ``.minicluster/browser/`` (ignored by git).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHOTS = ROOT / ".minicluster" / "browser"
REQUIRED = os.environ.get("MINICLUSTER_REQUIRE_BROWSER") == "1"
MERMAID_MIME = "text/vnd.mermaid"


def _missing(reason: str):
    if REQUIRED:
        pytest.fail(f"the browser check must run here (MINICLUSTER_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """JupyterLab settings for the test: every cell in the page, nothing saved behind our back."""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("jupyter-lab") is None and shutil.which("jupyter") is None:
        _missing("JupyterLab is not installed")
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    _settings(root / "settings")
    port, token = _free_port(), "minicluster-browser-test"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root; JupyterLab refuses to without it
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
        "MINICLUSTER_ROOT": str(ROOT),
        "MINICLUSTER_TREE": "stubs",
        "MINICLUSTER_STATE": str(root / "progress.json"),
    }
    log = (root / "lab.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:  # wait for the server to answer (bounded: it either starts or the test fails)
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.2)  # polling a server that is starting up, not synchronising threads
    yield url, token
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    chromium = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("Chromium and its driver are not installed (Debian/Ubuntu: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


def _open(driver, lab, name: str) -> None:
    url, token = lab
    driver.get(f"{url}/lab/tree/notebooks/{name}?token={token}")
    _wait(driver, lambda d: d.execute_script("return document.querySelectorAll('.jp-Notebook .jp-Cell').length"), 60,
          f"{name} to open")  # fmt: skip


def _screenshot_on_failure(driver, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _count_stored(path: Path, mime: str) -> int:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(mime in o.get("data", {}) for c in notebook["cells"] for o in c.get("outputs", []))


PAGE_STATE = """
// The notebook in front: Lab keeps the notebooks opened before as hidden tabs.
const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'))
  || document.createElement('div');
const mermaid = [...panel.querySelectorAll('.jp-RenderedMermaid')];
return {
  mermaid: mermaid.length,
  // JupyterLab 4.6 draws a diagram as an SVG, inline or as an <img> of an SVG data URL
  mermaidWithSvg: mermaid.filter(m => m.querySelector('svg, img[src^="data:image/svg+xml"]')).length,
  mermaidErrors: mermaid.filter(m => m.classList.contains('jp-mod-warning')).map(m => m.innerText.slice(0, 300)),
  images: [...panel.querySelectorAll('.jp-RenderedImage img')].map(i => i.complete && i.naturalWidth > 0),
  errors: [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
           + ' .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')].map(e => e.innerText.slice(0, 300)),
};
"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_diagram_and_plot_renders_and_no_error_shows(browser, lab, path):
    diagrams, images = _count_stored(path, MERMAID_MIME), _count_stored(path, "image/png")
    try:
        _open(browser, lab, path.name)
        state = _wait(
            browser,
            lambda d: (
                (s := d.execute_script(PAGE_STATE))["mermaid"] >= diagrams
                and (s["mermaidWithSvg"] + len(s["mermaidErrors"])) >= diagrams
                and len(s["images"]) >= images
                and s
            ),
            60,
            f"{diagrams} diagrams and {images} images in {path.name}",
        )
        assert state["mermaidErrors"] == [], "a Mermaid diagram shows JupyterLab's error box"
        assert state["mermaidWithSvg"] == diagrams >= 1, state
        assert all(state["images"]) and len(state["images"]) == images, "every stored plot is displayed"
        assert state["errors"] == []
    except BaseException:
        _screenshot_on_failure(browser, path.stem)
        raise


def test_run_all_in_the_browser_shows_not_attempted_for_every_check(browser, lab):
    path = ROOT / "notebooks" / "01_single_server.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    checks = sum(1 for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith("check("))
    try:
        _open(browser, lab, path.name)
        for menu, label in (("Edit", "Clear Outputs of All Cells"), ("Run", "Run All Cells")):
            _click_menu(browser, menu, label)
        _wait(
            browser,
            lambda d: (
                d.execute_script(
                    "return [...document.querySelectorAll('.jp-OutputArea-output')]"
                    ".filter(o => o.innerText.includes('not attempted yet')).length"
                )
                >= checks + 2
            ),  # the check cells, and the two cells that try the learner's capacity()
            240,
            "every check cell to say 'not attempted yet' after Run All",
        )
        idle = "return document.querySelector('.jp-Notebook .jp-InputArea-prompt')?.innerText"
        _wait(browser, lambda d: "*" not in "".join(d.execute_script(
            "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt')]"
            ".map(p => p.innerText)"
        )), 240, "every cell to finish")  # fmt: skip
        assert idle
        state = browser.execute_script(PAGE_STATE)
        assert state["mermaidErrors"] == [] and state["mermaidWithSvg"] >= 1
        assert state["errors"] == [], "no cell raised against the stubs"
    except BaseException:
        _screenshot_on_failure(browser, "run-all")
        raise


def _click_menu(driver, menu: str, label: str) -> None:
    """Open ``menu`` in the menu bar and click its item ``label``, as a learner would."""
    from selenium.webdriver.common.by import By

    bar = driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
    next(item for item in bar if item.text == menu).click()

    def item(d):
        labels = d.find_elements(By.CSS_SELECTOR, ".lm-Menu .lm-Menu-itemLabel")
        return next((e for e in labels if e.text == label), None)

    _wait(driver, item, 10, f"{menu} → {label}").click()
