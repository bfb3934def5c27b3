"""Regenerate the stored outputs of the notebooks: ``python -m minicluster.workbook.notebooks [NAME ...]``.

Each notebook gets its heading from the stage grid (``info.toml``: the title and the notes' Korean
heading), runs top to bottom against the exercises as shipped (``MINICLUSTER_TREE=stubs``, as under the
test suite: the stored outputs are what a learner sees before solving anything) and is saved with its
new outputs, the kernel name JupyterLab writes, and a readable stand-in for widgets (which need a
running kernel). The test suite then checks, with nbval, that running the code gives those outputs, and that
every heading still matches the grid.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import catalog
from .trees import project_root


def stage_of(path: Path) -> catalog.Stage:
    """The stage whose notebook ``path`` is."""
    for stage in catalog.stages():
        if stage.notebook == path.name:
            return stage
    raise ValueError(f"{path.name} is no stage's notebook in info.toml")


def with_header(source: str, stage: catalog.Stage) -> str:
    """``source`` (the first cell) with its first two lines replaced by the stage's heading."""
    rest = source.split("\n", 2)[2] if source.count("\n") >= 2 else ""
    return f"{stage.header}\n{rest}"


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: What a widget cell shows until it runs (a stored widget view without its state is an error box).
WIDGET_STAND_IN = "▶ Run this cell for the controls: sliders and a button that runs a short load test."
#: The same for a cell that builds a dashboard.
DASHBOARD_STAND_IN = "▶ Run this cell, then the next: the dashboard follows the cluster live while the load runs."


def execute(path: Path, timeout: int = 300, tree: str = "stubs"):
    """Run ``path`` top to bottom against ``tree``; returns ``(notebook with outputs, seconds)``."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["MINICLUSTER_TREE"] = tree
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = with_header(notebook.cells[0].source, stage_of(path))
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return notebook, time.perf_counter() - started


def regenerate(path: Path, timeout: int = 300) -> float:
    """Execute ``path`` in place; returns the seconds it took."""
    import nbformat

    notebook, elapsed = execute(path, timeout)
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata.pop("widgets", None)  # the state of widgets replaced by their stand-in below
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                live = "dashboard" in cell.source
                output["data"] = {"text/plain": DASHBOARD_STAND_IN if live else WIDGET_STAND_IN}
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="notebook files or name prefixes (default: all)")
    args = p.parse_args(argv)
    folder = project_root() / "notebooks"
    paths = sorted(folder.glob("*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) or p.name == Path(n).name for n in args.names)]
    if not paths:
        print(f"no notebook matches {args.names}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path.name}: {regenerate(path):.1f} s")
    from . import browser

    reason = browser.missing()
    if reason:
        print(f"not saved through JupyterLab ({reason}): opening a notebook will mark it modified", file=sys.stderr)
        return 0
    browser.save_through_lab(paths)
    print("saved through JupyterLab (the SVG of each diagram as JupyterLab caches it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
