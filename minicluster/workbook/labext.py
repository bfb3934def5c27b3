"""A Jupyter server extension that keeps a notebook unchanged on disk when it was only opened.

JupyterLab's Mermaid renderer caches the SVG it draws for each diagram in the notebook, and names the
SVG's elements after a counter that runs per browser page (``jp-mermaid-0``, ``-1``...). The workbook's
notebooks are committed with the SVGs Lab draws when a notebook is the first one opened in a page; the
second notebook a learner opens gets the same pictures under other numbers, and saving it (autosave
does) would show a notebook the learner never edited in ``git status``.

Before each save this renumbers the SVG ids of every cached Mermaid diagram in cell order, the first
diagram ``jp-mermaid-0``, the next ``jp-mermaid-1``..., which is what Lab draws in a fresh page. Nothing
else is touched: only outputs holding both ``text/vnd.mermaid`` and the ``image/svg+xml`` Lab derived
from it. ``pip install`` enables it (``etc/jupyter/jupyter_server_config.d/minicluster.json``); check
with ``jupyter server extension list``.
"""

from __future__ import annotations

import re
from typing import Any

MERMAID, SVG = "text/vnd.mermaid", "image/svg+xml"
_ID = re.compile(r"jp-mermaid-\d+")


def canonical_diagrams(notebook: dict[str, Any]) -> int:
    """Renumber, in place, the ids of each cached Mermaid SVG of ``notebook`` (nbformat 4, as a dict)
    in cell order; returns how many SVGs changed."""
    changed, number = 0, 0
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if MERMAID not in data or SVG not in data:
                continue
            svg = data[SVG] if isinstance(data[SVG], str) else "".join(data[SVG])
            renamed = _ID.sub(f"jp-mermaid-{number}", svg)
            number += 1
            if renamed != svg:
                data[SVG] = renamed
                changed += 1
    return changed


def pre_save(model: dict[str, Any], path: str = "", contents_manager: Any = None, **_: Any) -> None:
    """The pre-save hook: a notebook's cached diagrams get the ids a fresh page would draw."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        canonical_diagrams(model["content"])


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(pre_save)
    serverapp.log.info("minicluster: cached Mermaid SVGs are saved with the ids a fresh page draws")
