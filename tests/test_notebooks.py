"""What nbval does not cover: the notebooks against the reference solutions, and the README's code.

nbval (configured in pyproject.toml) runs every notebook against the exercises as shipped and compares
the stored outputs: what a learner sees before solving anything. Here each notebook runs against
``solutions/``: every cell must run without an error, and every check cell must say *passed*.
"""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_against_the_solutions_and_every_check_passes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICLUSTER_TREE", "solutions")
    monkeypatch.setenv("MINICLUSTER_STATE", str(tmp_path / "progress.json"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    checks = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert checks, "every notebook checks its exercises in Your turn"
    for cell in checks:
        assert "passed" in cell.outputs[0]["data"]["text/plain"], cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_check_cells_show_what_a_learner_sees_first(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("check("):
            text = cell.outputs[0]["data"]["text/plain"]
            assert "not attempted yet" in text and re.search(r"open exercises/\S+\.py", text), cell.source


def test_errors_print_as_one_line_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("from minicluster import Cluster\nCluster(seed='x')")
    shell.run_cell("from minicluster.workbook import check\ncheck('01.handlr')")
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert "ConfigError: seed must be an integer, got 'x'" in printed
    assert "UnknownExercise: no exercise '01.handlr'; did you mean '01.handler'?" in printed
    assert "Traceback" not in printed and "File " not in printed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_nbval_marker_is_one_nbval_recognises(path):
    """nbval only honours a marker alone on its comment line (``# NBVAL_IGNORE_OUTPUT``); with words after
    it the marker is silently ignored and a timing-dependent output gets compared after all."""
    notebook = nbformat.read(path, as_version=4)
    known = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION"}
    for cell in notebook.cells:
        for line in cell.source.splitlines() if cell.cell_type == "code" else []:
            if "NBVAL_" in line:
                assert line.strip().lstrip("#").strip() in known, f"{path.name}: {line!r} is not a marker nbval sees"
