"""Catalogues of realistic wrong implementations, one module per stage.

Each module defines ``MUTANTS``: ``{exercise_id: {mutant name: implementation}}``. The test suite
checks every one of them and requires the checker to say *failed*.
"""
