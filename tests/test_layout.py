"""The two trees mirror each other, the metadata lists exactly what is there, and every part exists."""

from pathlib import Path

import pytest

from minicluster.workbook import exercises, trees

ROOT = Path(__file__).resolve().parents[1]


def python_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py") if p.name != "__init__.py")


def test_exercises_and_solutions_are_mirror_trees():
    assert python_files(ROOT / "exercises") == python_files(ROOT / "solutions")


def test_metadata_lists_exactly_the_files_present():
    listed = sorted(e.path for e in exercises())
    assert listed == python_files(ROOT / "solutions")
    assert len({e.id for e in exercises()}) == len(exercises())


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_exercise_file_is_the_stub_of_its_solution(exercise):
    solution = (ROOT / "solutions" / exercise.path).read_text(encoding="utf-8")
    stub = (ROOT / "exercises" / exercise.path).read_text(encoding="utf-8")
    assert stub == trees.stub_source(solution, exercise.id), (
        f"exercises/{exercise.path} drifted from its solution; regenerate it with `minicluster reset {exercise.id}`"
    )


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_metadata_entry_is_complete(exercise):
    assert (ROOT / "notebooks" / exercise.notebook).is_file()
    assert exercise.id.startswith(f"{exercise.stage:02d}.")
    assert exercise.notebook.startswith(f"{exercise.stage:02d}_")
    assert len(exercise.hints) >= 2
    assert exercise.make_checker().exercise_id == exercise.id
    assert exercise.id in (ROOT / "notebooks" / exercise.notebook).read_text(encoding="utf-8"), (
        "each exercise is checked in its notebook's Your turn"
    )


def test_exercises_come_in_stage_order():
    stages = [e.stage for e in exercises()]
    assert stages == sorted(stages)
