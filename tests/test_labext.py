"""The Jupyter server extension that keeps an opened notebook unchanged on disk (minicluster.workbook.labext).

The end-to-end proof (open a second notebook in the same page, save it, compare bytes with the committed
file) is in tests/test_browser.py; here the rule on small notebooks, and that ``pip install -e .`` enables it.
"""

import json
from pathlib import Path

from jupyter_core.paths import jupyter_config_path

from minicluster.workbook import labext

SVG = '<svg id="{0}"><style>#{0} .node{{fill:red}}</style><g id="{0}-flowchart-a"/></svg>'


def diagram(number, text="flowchart LR\n a --> b"):
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/vnd.mermaid": text, "image/svg+xml": SVG.format(f"jp-mermaid-{number}"), "text/plain": "d"},
    }


def notebook(*outputs_per_cell):
    return {"cells": [{"cell_type": "code", "source": "", "outputs": list(o)} for o in outputs_per_cell]}


def svgs(nb):
    return [o["data"].get("image/svg+xml") for c in nb["cells"] for o in c["outputs"]]


def test_diagrams_are_renumbered_in_cell_order_as_a_fresh_page_draws_them():
    nb = notebook([diagram(7)], [], [diagram(3), diagram(12)])
    assert labext.canonical_diagrams(nb) == 3
    assert svgs(nb) == [SVG.format(f"jp-mermaid-{n}") for n in (0, 1, 2)]
    assert labext.canonical_diagrams(nb) == 0, "a second pass changes nothing"


def test_an_svg_lab_did_not_derive_from_a_diagram_is_left_alone():
    plain = {"output_type": "display_data", "metadata": {}, "data": {"image/svg+xml": SVG.format("jp-mermaid-9")}}
    nb = notebook([plain, diagram(4)])
    assert labext.canonical_diagrams(nb) == 1
    assert svgs(nb) == [SVG.format("jp-mermaid-9"), SVG.format("jp-mermaid-0")]


def test_an_svg_stored_as_a_list_of_lines_is_renumbered_too():
    output = diagram(5)
    output["data"]["image/svg+xml"] = SVG.format("jp-mermaid-5").replace("><", ">\n<").splitlines(keepends=True)
    nb = notebook([output])
    labext.canonical_diagrams(nb)
    assert svgs(nb) == [SVG.format("jp-mermaid-0").replace("><", ">\n<")]


def test_the_hook_rewrites_notebooks_only():
    nb = notebook([diagram(2)])
    labext.pre_save(model={"type": "notebook", "content": nb}, path="n.ipynb", contents_manager=None)
    assert svgs(nb) == [SVG.format("jp-mermaid-0")]
    text = {"type": "file", "format": "text", "content": SVG.format("jp-mermaid-2")}
    labext.pre_save(model=text, path="x.svg", contents_manager=None)
    assert text["content"] == SVG.format("jp-mermaid-2")


def test_the_committed_notebooks_hold_the_canonical_numbering():
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        assert labext.canonical_diagrams(json.loads(path.read_text(encoding="utf-8"))) == 0, path.name


def test_pip_install_enables_the_extension_in_jupyter_server():
    found = [Path(p) / "jupyter_server_config.d" / "minicluster.json" for p in jupyter_config_path()]
    found = [p for p in found if p.is_file()]
    assert found, "pip install -e . did not install etc/jupyter/jupyter_server_config.d/minicluster.json"
    assert json.loads(found[0].read_text())["ServerApp"]["jpserver_extensions"] == {"minicluster.workbook.labext": True}
