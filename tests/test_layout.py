"""The two trees mirror each other, the metadata lists exactly what is there, and every part exists."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from minicluster.workbook import exercises, stages, trees

ROOT = Path(__file__).resolve().parents[1]


def python_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py") if p.name != "__init__.py")


def test_exercises_and_solutions_are_mirror_trees():
    assert python_files(ROOT / "exercises") == python_files(ROOT / "solutions")


def test_metadata_lists_exactly_the_files_present():
    listed = sorted(e.path for e in exercises())
    assert listed == python_files(ROOT / "solutions")
    assert len({e.id for e in exercises()}) == len(exercises())


def _committed(path: str) -> str | None:
    """The file as git's last commit holds it (a learner's edits to exercises/ are theirs, not a defect)."""
    try:
        done = subprocess.run(
            ["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_committed_exercise_file_is_the_stub_of_its_solution(exercise):
    """What the repository ships (not the learner's working copy) is the stub of the shipped solution."""
    solution = _committed(f"solutions/{exercise.path}")
    stub = _committed(f"exercises/{exercise.path}")
    if solution is None or stub is None:
        reason = "not a git checkout with these files committed: nothing shipped to compare"
        if os.environ.get("CI"):  # CI always runs in a clone: there, a skip would hide a drift
            pytest.fail(reason)
        pytest.skip(reason)
    assert stub == trees.stub_source(solution, exercise.id), (
        f"the committed exercises/{exercise.path} is not the stub of the committed solution: a maintainer "
        "must regenerate it (trees.stub_source) and commit both"
    )


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_metadata_entry_is_complete(exercise):
    assert (ROOT / "notebooks" / exercise.notebook).is_file()
    assert exercise.id.startswith(f"{exercise.stage:02d}.")
    assert len(exercise.hints) >= 2
    assert exercise.make_checker().exercise_id == exercise.id
    assert exercise.id in (ROOT / "notebooks" / exercise.notebook).read_text(encoding="utf-8"), (
        "each exercise is checked in its notebook's Your turn"
    )


def test_exercises_come_in_stage_order():
    stages = [e.stage for e in exercises()]
    assert stages == sorted(stages)


READY = [s for s in stages() if s.ready]


def test_the_stage_grid_names_all_ten_stages_in_order():
    assert [s.number for s in stages()] == list(range(1, 11))
    assert all(s.heading.startswith(f"{s.number}단계") for s in stages())
    assert {e.stage for e in exercises()} <= {s.number for s in READY}, "exercises belong to ready stages"


@pytest.mark.parametrize("stage", READY, ids=lambda s: f"stage{s.number}")
def test_every_part_of_a_ready_stage_is_where_the_grid_says(stage):
    """Adding a stage = one module, one notebook, per exercise four files, one metadata entry."""
    module = stage.import_module()
    assert (ROOT / "minicluster" / "stages" / f"{stage.module}.py").is_file()
    assert callable(module.build) and callable(module.headline)
    notebook = ROOT / "notebooks" / stage.notebook
    assert notebook.name.startswith(f"{stage.number:02d}_")
    first = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]
    assert "".join(first["source"]).startswith(stage.header + "\n"), (
        "regenerate: python -m minicluster.workbook.notebooks"
    )
    assert stage.exercises, "a ready stage has at least one exercise"
    for exercise in stage.exercises:
        stem = f"stage{stage.number:02d}/{exercise.name}.py"
        for part in (
            f"exercises/{exercise.path}",
            f"solutions/{exercise.path}",
            f"minicluster/workbook/checks/{stem}",
            f"tests/mutants/{stem}",
        ):
            assert (ROOT / part).is_file(), f"{exercise.id}: {part} is missing"
        assert exercise.checker.startswith(f"stage{stage.number:02d}.{exercise.name}:")


@pytest.mark.parametrize("stage", READY, ids=lambda s: f"stage{s.number}")
def test_a_stage_builds_a_topology_the_diagram_draws(stage):
    from minicluster import Cluster
    from minicluster.experiment import Topology

    with Cluster(seed=1) as cluster:
        topology = stage.import_module().build(cluster)
        assert isinstance(topology, Topology) and topology.cluster is cluster
        text = topology.diagram().text
        assert all(f"{name} (" in text for name in cluster.nodes), "every node of the stage is drawn"
        live = [link for source in cluster.link_sources for link in source()]
        assert cluster.links or live, "and the links between them"


def test_no_checker_or_mutant_file_is_left_out_of_the_grid():
    named = {f"stage{e.stage:02d}/{e.name}.py" for e in exercises()}
    for folder in (ROOT / "minicluster" / "workbook" / "checks", ROOT / "tests" / "mutants"):
        present = {str(p.relative_to(folder)) for p in folder.glob("stage*/*.py") if p.name != "__init__.py"}
        assert present == named, folder


def test_readme_stage_table_follows_the_grid():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for stage in stages():
        row = next((line for line in readme.splitlines() if line.startswith(f"| {stage.number}. ")), None)
        assert row is not None, f"README has no row for stage {stage.number}"
        assert stage.title in row and stage.heading.split(": ", 1)[1] in row
        assert row.rstrip(" |").endswith("ready" if stage.ready else "planned")
