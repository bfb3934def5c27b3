"""Catalogues of realistic wrong implementations: ``stageNN/<name>.py`` for exercise ``NN.name``.

Each module defines ``MUTANTS``: ``{mutant name: implementation}``. The test suite checks every one of
them and requires the exercise's checker to say *failed*. Mutants use the solutions' and the library's
public API only.
"""

import importlib
from pathlib import Path


def path_of(exercise_id: str) -> Path:
    """The catalogue file of an exercise: ``10.paginate`` -> ``tests/mutants/stage10/paginate.py``."""
    stage, name = exercise_id.split(".", 1)
    return Path(__file__).parent / f"stage{stage}" / f"{name}.py"


def catalogue() -> dict[str, dict[str, object]]:
    """``{exercise id: {mutant name: implementation}}`` for every catalogue file present."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("stage*/*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"{__name__}.{path.parent.name}.{path.stem}")
        found[f"{path.parent.name.removeprefix('stage')}.{path.stem}"] = module.MUTANTS
    return found
