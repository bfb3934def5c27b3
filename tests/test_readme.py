"""The README's code runs as written: a script author's first contact with the library."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(section: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"## {section}")
    end = readme.find("\n## ", start + 3)
    return re.findall(r"```python\n(.*?)```", readme[start : end if end != -1 else None], re.S)


def test_the_library_section_runs():
    (block,) = python_blocks("The library, without Jupyter")
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    events = namespace["events"]
    assert [e.action for e in events if e.source == "nemesis"] == ["crash", "recover"]
    assert namespace["result"].completed > 50


def test_the_check_example_uses_the_public_api():
    (block,) = python_blocks("How the exercises work")
    assert "from minicluster.workbook import check" in block
