"""What nbval does not cover: a learner's first run, against the untouched stubs.

nbval (configured in pyproject.toml) runs every notebook against ``solutions/`` and compares the
stored outputs. Here each notebook runs against ``exercises/`` as a learner first opens it: every
cell must run without an error, and every checker cell must say *not attempted yet*.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_against_the_stubs_without_a_traceback(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICLUSTER_TREE", "exercises")
    monkeypatch.setenv("MINICLUSTER_STATE", str(tmp_path / "progress.json"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    checks = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert checks, "every notebook checks its exercises in Your turn"
    for cell in checks:
        assert "not attempted yet" in cell.outputs[0]["data"]["text/plain"], cell.source


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
