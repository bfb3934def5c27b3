"""Checker of ``10.validate``: a learner's validator, graded against a correct paginator and the mutants."""

from __future__ import annotations

import contextlib

from ....cluster import Cluster
from ....posts import PostsSpec, ShardedPosts, generate
from ....sharding import DirectoryRouter, ModuloRouter
from ... import catalog, trees
from ..base import Checker, Failure, describe
from .paginate import PaginateCheck


def broken_paginators():
    """``(names and descriptions, paginators)`` of the capstone's mutant catalogue, read from the workbook.

    The catalogue is the one the test suite proves the ``10.paginate`` checker against
    (``tests/mutants/stage10/paginate.py``), so both checkers judge by the same mistakes.
    """
    path = trees.project_root() / "tests" / "mutants" / "stage10" / "paginate.py"
    if not path.is_file():
        raise Failure(f"cannot grade a validator: the capstone's mutant catalogue {path} is missing")
    module = trees.load_module(path)
    beyond = getattr(module, "BEYOND_THE_VALIDATOR", set())
    return module.DESCRIPTIONS, {name: m for name, m in module.MUTANTS.items() if name not in beyond}


def correct_paginator():
    """The reference solution of ``10.paginate``: what a validator must stay silent on."""
    return trees.load(catalog.get("10.paginate"), trees.tree("solutions"))


class ValidateCheck(Checker):
    """A learner's validator: silent on a correct paginator, and catches every paginator in the catalogue."""

    exercise_id = "10.validate"
    call_timeout = 60.0
    time_limit = 300.0

    @staticmethod
    def _scenarios():
        posts = generate(PostsSpec(posts=12, users=10, celebrities=2, tie_share=0.3, seed=21))
        few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 11)})
        return [
            ("12 posts on 4 shards", lambda c: PaginateCheck._store(c, 4, posts)),
            ("12 posts on 6 shards, 3 of them empty", lambda c: PaginateCheck._store(c, 6, posts, few)),
            ("6 posts on 4 shards of 20 ms each", lambda c: _latency_store(c, posts[::2])),
        ]

    def verify(self, validate) -> list[str]:
        if not callable(validate):
            raise Failure(f"expected a function validate(paginate, store), got {describe(validate)}")
        reference = correct_paginator()
        with contextlib.ExitStack() as stack:
            stores = _Stores(self._scenarios(), stack)
            for i, scenario in enumerate(stores.names):
                problems = self._problems(validate, reference, stores, i, "a correct paginator")
                if problems:
                    raise Failure(
                        f"your validator reported {describe(problems[0])} for a correct paginator on {scenario}; "
                        "a validator must stay silent when nothing is wrong"
                    )
            descriptions, mutants = broken_paginators()
            for name, broken in mutants.items():
                what = f"a paginator that {descriptions[name]}"
                if not any(self._problems(validate, broken, stores, i, what) for i in range(len(stores.names))):
                    raise Failure(f"your validator found nothing wrong with {what}")
        return [
            "silent on a correct paginator over three stores",
            f"catches all {len(mutants)} broken paginators of the capstone's catalogue",
        ]

    def _problems(self, validate, paginator, stores, i, what) -> list:
        store = stores.get(i)
        problems = self.call(validate, paginator, store, on=f"validate({what}, {stores.names[i]})")
        if not isinstance(problems, (list, tuple)):
            raise Failure(f"validate({what}, {stores.names[i]}) returned {describe(problems)}; return a list")
        return list(problems)


class _Stores:
    """One store per scenario, rebuilt only when a validator left it changed (a post added, a shard down)."""

    def __init__(self, scenarios, stack: contextlib.ExitStack) -> None:
        self.names = [name for name, _ in scenarios]
        self._builds = [build for _, build in scenarios]
        self._stack = stack
        self._stores: list = [None] * len(scenarios)
        self._posts: list = [None] * len(scenarios)

    def get(self, i: int):
        store = self._stores[i]
        if store is not None and all(s.node.is_up for s in store.shards) and store.all_posts() == self._posts[i]:
            return store
        cluster = self._stack.enter_context(Cluster(seed=21 + i))
        store = self._stores[i] = self._builds[i](cluster)
        self._posts[i] = store.all_posts()
        return store


def _latency_store(cluster, posts):
    store = ShardedPosts(cluster, 4, query_time=0.02)
    store.load(posts)
    return store
