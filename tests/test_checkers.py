"""Every checker passes its solution, reports its stub as not attempted, and fails every mutant."""

import pytest

from minicluster.workbook import check, exercises, load

from . import mutants

CATALOGUE = mutants.catalogue()

IDS = [e.id for e in exercises()]
MUTANT_CASES = [(ex, name) for ex, entries in CATALOGUE.items() for name in entries]


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_passes(exercise_id):
    result = check(exercise_id, load(exercise_id, tree="solutions"))
    assert result.status == "passed", str(result)
    assert result.messages, "a pass says what was verified"


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_is_not_attempted(exercise_id):
    result = check(exercise_id, tree="stubs")  # as shipped, whatever the learner has written since
    assert result.status == "not_attempted", str(result)
    assert "exercises/" in result.messages[0]


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_exercise_has_a_mutant_catalogue(exercise_id):
    assert len(CATALOGUE.get(exercise_id, {})) >= 5


# A mutant's own threads may die of the faults a check injects (a shard down), after its verdict: that is
# the mutant's doing, not the checker's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(("exercise_id", "mutant"), MUTANT_CASES, ids=[f"{e}-{m}" for e, m in MUTANT_CASES])
def test_mutant_fails(exercise_id, mutant):
    result = check(exercise_id, CATALOGUE[exercise_id][mutant])
    assert result.status == "failed", f"mutant {mutant} was not caught: {result}"
    assert len(result.messages) == 1 and result.messages[0]


def test_catalogue_size_is_reported(capsys):
    with capsys.disabled():
        counts = ", ".join(f"{ex}: {len(m)}" for ex, m in sorted(CATALOGUE.items()))
        print(f"\nmutant catalogue: {len(MUTANT_CASES)} mutants ({counts})")
    assert len(MUTANT_CASES) >= 10
