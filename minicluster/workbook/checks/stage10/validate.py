"""Checker of ``10.validate``: a learner's validator, graded against a correct paginator and the mutants."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from concurrent.futures.thread import _worker as _pool_worker

from ....cluster import Cluster
from ....posts import PostsSpec, ShardedPosts, generate
from ....sharding import DirectoryRouter, ModuloRouter
from ... import catalog, trees
from ..base import Checker, Failure, describe
from .paginate import PaginateCheck


def broken_paginators():
    """``(names and descriptions, paginators, the names of those only latency shows)`` of the capstone's
    mutant catalogue, read from the workbook.

    The catalogue is the one the test suite proves the ``10.paginate`` checker against
    (``tests/mutants/stage10/paginate.py``), so both checkers judge by the same mistakes.
    """
    path = trees.project_root() / "tests" / "mutants" / "stage10" / "paginate.py"
    if not path.is_file():
        raise Failure(f"cannot grade a validator: the capstone's mutant catalogue {path} is missing")
    module = trees.load_module(path)
    beyond = getattr(module, "BEYOND_THE_VALIDATOR", set())
    mutants = {name: m for name, m in module.MUTANTS.items() if name not in beyond}
    return module.DESCRIPTIONS, mutants, getattr(module, "NEEDS_LATENCY", set())


def correct_paginator():
    """The reference solution of ``10.paginate``: what a validator must stay silent on."""
    return trees.load(catalog.get("10.paginate"), trees.tree("solutions"))


class ValidateCheck(Checker):
    """A learner's validator: silent on a correct paginator, and catches every paginator in the catalogue."""

    exercise_id = "10.validate"
    call_timeout = 60.0
    time_limit = 300.0
    #: Which of :meth:`_scenarios` has shards with latency: mutants only latency shows are graded there first.
    latency_store = 2

    @staticmethod
    def _scenarios():
        posts = generate(PostsSpec(posts=12, users=10, celebrities=2, tie_share=0.3, seed=21))
        few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 11)})
        return [
            ("12 posts on 4 shards", lambda c: PaginateCheck._store(c, 4, posts)),
            ("12 posts on 6 shards, 3 of them empty", lambda c: PaginateCheck._store(c, 6, posts, few)),
            ("4 posts on 4 shards of 20 ms each", lambda c: _latency_store(c, posts[::3])),
        ]

    def verify(self, validate) -> list[str]:
        if not callable(validate):
            raise Failure(f"expected a function validate(paginate, store), got {describe(validate)}")
        reference = correct_paginator()
        with contextlib.ExitStack() as stack:
            stack.enter_context(_thread_errors_kept([]))
            stores = _Stores(self._scenarios(), stack)
            for i, scenario in enumerate(stores.names):
                problems = self._problems(validate, reference, stores, i, "a correct paginator")
                if problems:
                    raise Failure(
                        f"your validator reported {describe(problems[0])} for a correct paginator on {scenario}; "
                        "a validator must stay silent when nothing is wrong"
                    )
            descriptions, mutants, needs_latency = broken_paginators()
            for name, broken in mutants.items():
                what = f"a paginator that {descriptions[name]}"
                order = list(range(len(stores.names)))
                if name in needs_latency:  # any store that shows it will do: the one that can, first
                    order.insert(0, order.pop(self.latency_store))
                if not any(self._problems(validate, broken, stores, i, what) for i in order):
                    raise Failure(f"your validator found nothing wrong with {what}")
        return [
            "silent on a correct paginator over three stores",
            f"catches all {len(mutants)} broken paginators of the capstone's catalogue",
        ]

    def _problems(self, validate, paginator, stores, i, what) -> list:
        store = stores.get(i)
        on = f"validate({what}, {stores.names[i]})"
        tagged = _tagged(paginator)

        def run():
            try:
                return validate(tagged, store)
            except Exception as exc:
                if getattr(exc, _FROM_PAGINATOR, False):
                    raise Failure(
                        f"{on}: the paginator raised {type(exc).__name__}: {exc} — and your validator let it "
                        "through. Call the paginator inside try/except: what it raises is a finding to report "
                        "(or, for a bad cursor, the InvalidCursor you expect), never a reason for the validator "
                        "to crash"
                    ) from None
                raise

        problems = self.call(run, on=on)
        if not isinstance(problems, (list, tuple)):
            raise Failure(f"validate({what}, {stores.names[i]}) returned {describe(problems)}; return a list")
        return list(problems)


_FROM_PAGINATOR = "_minicluster_raised_by_the_paginator"


def _tagged(paginator):
    """``paginator``, marking what it raises, so a verdict can say whose exception escaped."""

    @functools.wraps(paginator)
    def paginate(*args, **kwargs):
        try:
            return paginator(*args, **kwargs)
        except Exception as exc:
            with contextlib.suppress(AttributeError):  # an exception type without a __dict__ stays unmarked
                setattr(exc, _FROM_PAGINATOR, True)
            raise

    return paginate


@contextlib.contextmanager
def _thread_errors_kept(into: list):
    """While grading, exceptions in the broken paginators' own threads (a shard crashed under a thread
    nobody waits for) are kept in ``into`` instead of printing tracebacks over the verdict; threads
    started meanwhile (other than thread-pool workers) get two seconds to finish before the usual hook is back."""
    before, previous = set(threading.enumerate()), threading.excepthook
    threading.excepthook = lambda args: into.append(args.exc_value)
    try:
        yield into
    finally:
        deadline = time.monotonic() + 2.0
        for thread in set(threading.enumerate()) - before:
            # (a thread pool's idle workers wait for work, and report errors through futures, not the hook)
            if thread is not threading.current_thread() and getattr(thread, "_target", None) is not _pool_worker:
                thread.join(max(0.0, deadline - time.monotonic()))
        threading.excepthook = previous


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
    """Shards of 20 ms each: one page asked concurrently takes ~20 ms, one shard after another ~80. Small,
    since every page a validator walks here costs that much."""
    store = ShardedPosts(cluster, 4)
    store.load(posts)
    for shard in store.shards:  # only the validator's queries take the latency, not the set-up's
        shard.node.query_time = 0.02
    return store
