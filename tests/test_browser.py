"""What a learner sees: every notebook opened in JupyterLab in a real (headless) Chromium.

nbval compares text; this looks at the page. Each notebook, as committed, must show every Mermaid
diagram as a picture (not JupyterLab's error box), every stored plot as an image, no error output,
and must not be marked modified just by being opened (it would show up in ``git status``). Then one
notebook is run top to bottom in the browser's kernel against the exercises as shipped, and every
check cell must say "not attempted yet".

JupyterLab (:mod:`minicluster.workbook.browser`) runs on a free local port over a copy of
``notebooks/`` (nothing it writes can touch the committed files), with windowing and autosave off.
Chromium and its driver are Debian's (``chromium``, ``chromium-driver``); on a machine without them
these tests skip with the reason, and CI (``MINICLUSTER_REQUIRE_BROWSER=1``, set by ``.ci/run``) turns
that skip into a failure. On failure a screenshot is saved under ``.minicluster/browser/`` (ignored by
git).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from minicluster.workbook import browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHOTS = ROOT / ".minicluster" / "browser"


def _missing(reason: str):
    if os.environ.get("MINICLUSTER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser check must run here (MINICLUSTER_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("jupyter-lab") is None and shutil.which("jupyter") is None:
        _missing("JupyterLab is not installed")
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    env = {"MINICLUSTER_ROOT": str(ROOT), "MINICLUSTER_TREE": "stubs", "MINICLUSTER_STATE": str(root / "p.json")}
    with browser.lab(root, env, settings=root.parent / f"{root.name}-settings") as (url, token):
        yield url, token, root


@pytest.fixture(scope="module")
def driver():
    reason = browser.missing()
    if reason:
        _missing(reason)
    with browser.chrome() as chrome:
        yield chrome


def _shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_diagram_and_plot_renders_no_error_shows_and_nothing_is_modified(driver, lab, path):
    url, token, _ = lab
    diagrams, images = browser.stored(path, "text/vnd.mermaid"), browser.stored(path, "image/png")
    try:
        browser.open_notebook(driver, url, token, f"notebooks/{path.name}", diagrams)
        state = browser.wait(
            driver,
            lambda d: len((s := d.execute_script(browser.PAGE_STATE))["images"]) >= images and s,
            60,
            f"{images} images in {path.name}",
        )
        assert state["mermaidErrors"] == [], "a Mermaid diagram shows JupyterLab's error box"
        assert state["mermaidWithSvg"] == diagrams >= 1, state
        assert all(state["images"]) and len(state["images"]) == images, "every stored plot is displayed"
        assert state["errors"] == []
        # (opened first, in a fresh page: JupyterLab numbers the SVGs it draws per page)
        assert state["dirty"] is False, "opening the notebook marked it modified: regenerate it (it saves through Lab)"
    except BaseException:
        _shot(driver, path.stem)
        raise


def test_a_notebook_opened_second_in_a_page_is_saved_exactly_as_committed(driver, lab):
    """A learner opens notebook 01, then 02 in the same page: Lab draws 02's diagram under another SVG id
    (its counter runs per page) and marks it modified; saved (autosave does), the file must still be the
    committed one, or ``git status`` shows a notebook nobody edited (minicluster.workbook.labext)."""
    url, token, root = lab
    first, second = NOTEBOOKS[0], NOTEBOOKS[1]
    try:
        browser.open_notebook(driver, url, token, f"notebooks/{first.name}", browser.stored(first, "text/vnd.mermaid"))
        browser.open_in_page(driver, f"notebooks/{second.name}")
        diagrams = browser.stored(second, "text/vnd.mermaid")
        browser.wait(
            driver,
            lambda d: (s := d.execute_script(browser.PAGE_STATE))["mermaidWithSvg"] >= diagrams and s["dirty"],
            60,
            f"{second.name} drawn in the same page (and marked modified: its SVG ids differ from the stored ones)",
        )
        browser.save_in_page(driver)
        browser.wait(driver, lambda d: d.execute_script(browser.PAGE_STATE)["dirty"] is False, 30, "the save")
        saved = (root / "notebooks" / second.name).read_text(encoding="utf-8")
        assert saved == second.read_text(encoding="utf-8"), "saving changed the file: is the server extension on?"
    except BaseException:
        _shot(driver, "second-in-page")
        raise


def test_run_all_in_the_browser_shows_not_attempted_for_every_check(driver, lab):
    url, token, _ = lab
    path = ROOT / "notebooks" / "01_single_server.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    checks = sum(1 for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith("check("))
    in_front = "document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
    try:
        browser.open_notebook(driver, url, token, f"notebooks/{path.name}", browser.stored(path, "text/vnd.mermaid"))
        for menu, label in (("Edit", "Clear Outputs of All Cells"), ("Run", "Run All Cells")):
            _click_menu(driver, menu, label)
        browser.wait(
            driver,
            lambda d: (
                d.execute_script(
                    f"return [...{in_front}.jp-OutputArea-output')]"
                    ".filter(o => o.innerText.includes('not attempted yet')).length"
                )
                >= checks + 2
            ),  # the check cells, and the two cells that try the learner's capacity()
            240,
            "every check cell to say 'not attempted yet' after Run All",
        )
        browser.wait(
            driver,
            lambda d: (
                "*"
                not in "".join(d.execute_script(f"return [...{in_front}.jp-InputArea-prompt')].map(p => p.innerText)"))
            ),
            240,
            "every cell to finish",
        )
        state = driver.execute_script(browser.PAGE_STATE)
        assert state["mermaidErrors"] == [] and state["mermaidWithSvg"] >= 1
        assert state["errors"] == [], "no cell raised against the stubs"
    except BaseException:
        _shot(driver, "run-all")
        raise


def _click_menu(driver, menu: str, label: str) -> None:
    """Open ``menu`` in the menu bar and click its item ``label``, as a learner would."""
    from selenium.webdriver.common.by import By

    bar = driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
    next(item for item in bar if item.text == menu).click()

    def item(d):
        labels = d.find_elements(By.CSS_SELECTOR, ".lm-Menu .lm-Menu-itemLabel")
        return next((e for e in labels if e.text == label), None)

    browser.wait(driver, item, 10, f"{menu} → {label}").click()
